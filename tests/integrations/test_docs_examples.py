"""Every example of docs/integrations.md runs as written, section by section in a fresh directory:

- a ```python block runs in a fresh namespace; one whose first line is ``# NAME.py`` is written to NAME.py (the
  user's module the commands after it import) and imported once to check it;
- a ```console block runs each ``$ `` line in a shell (``lrscope`` and ``python`` from this environment), and each
  must exit 0.

A section that uses lightning or transformers is skipped only where that package is missing (CI installs both
through the test extras).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", flags=re.S | re.M)
OPTIONAL = ("lightning", "transformers")


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, [(kind, code), ...]) for each ## section holding examples."""
    out = []
    for part in re.split(r"^(?=## )", TEXT, flags=re.M):
        blocks = BLOCK.findall(part)
        if blocks:
            title = part.splitlines()[0].lstrip("# ").strip()
            out.append((title, blocks))
    return out


SECTIONS = sections()


def test_the_page_has_examples_for_every_stack():
    titles = " ".join(t for t, _ in SECTIONS)
    for stack in ("Plain PyTorch", "Lightning", "Hugging Face", "timm", "command line"):
        assert stack in titles


def _run_console(code: str, cwd: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for line in code.splitlines():
        if not line.startswith("$ "):
            continue
        done = subprocess.run(line[2:], shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("title, blocks", SECTIONS, ids=[t for t, _ in SECTIONS])
def test_examples_run_as_written(title, blocks, tmp_path, monkeypatch, capsys):
    for package in OPTIONAL:
        if any(re.search(rf"^\s*(import|from) {package}\b|integrations\.{package}\b", code, flags=re.M)
               for _, code in blocks):
            pytest.importorskip(package)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "runs").mkdir()
    printed = False
    for kind, code in blocks:
        if kind == "console":
            _run_console(code, tmp_path)
            continue
        first = code.splitlines()[0]
        module = re.fullmatch(r"# (\w+)\.py", first.strip())
        if module:
            (tmp_path / f"{module.group(1)}.py").write_text(code, encoding="utf-8")
            __import__(module.group(1))
            monkeypatch.delitem(sys.modules, module.group(1))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(code, f"{DOC.name}: {title}", "exec"), {"__name__": "__docs_example__"})
        printed = printed or bool(capsys.readouterr().out.strip())
    assert printed or any(kind == "console" for kind, _ in blocks), "each example shows what it does"
