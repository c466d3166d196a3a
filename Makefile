# Two commands for a fresh clone: `make demo` and `make test`. Both set up .venv first when needed.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: setup demo test lint bench reliability browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip >/dev/null 2>&1 || true
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]" torch==2.13.0
	$(PY) -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '2.13.0' else 'torch ' + torch.__version__ + ' was installed, not 2.13.0')"
	touch $(STAMP)

demo: setup
	.venv/bin/lrscope demo --out lrscope-demo

test: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports
	$(PY) -m pytest

# The static half of `make test`: ruff's rules and the layer contracts (the code is not ruff-formatted; the
# rules in pyproject.toml are the style that is enforced).
lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports

# Every benchmark in bench/ (long: minutes each); `$(PY) bench/run_all.py --list` shows them.
bench: setup
	$(PY) bench/run_all.py

reliability: setup
	LRSCOPE_FULL_RELIABILITY=1 $(PY) -m pytest tests/reliability -m "slow or not slow"

# Debian's chromium for the report's browser test (tests skip with a message when it is absent).
browser:
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

clean:
	rm -rf .venv lrscope-demo build dist src/*.egg-info
