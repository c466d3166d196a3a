"""Every benchmark in bench/, one after the other, each in its own process (what ``make bench`` runs).

    .venv/bin/python bench/run_all.py             # all of them
    .venv/bin/python bench/run_all.py finder noise  # only those whose name contains one of the words
    .venv/bin/python bench/run_all.py --list      # what would run, and with which interpreter

Benchmarks that compare with an anchor tool (torch-lr-finder, PyHessian, loss-landscapes, pandas) run in the
anchors environment at ~/.cache/lrscope-anchors (or $LRSCOPE_ANCHORS, as ../shared/checks reads it), which the
anchor checks build on first use; where it is absent they are skipped with a line saying so.  The
finder-regret bench prints from its cache (``--cached``): training its grid takes hours, and
``bench/bench_finder_regret.py`` without ``--cached`` does that on purpose.  Each benchmark prints its own
figures; bench/RESULTS.md keeps the latest with their commands.  The exit status is 1
when any benchmark failed, 0 otherwise (skips are not failures).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ANCHORS = Path(os.environ.get("LRSCOPE_ANCHORS", Path.home() / ".cache" / "lrscope-anchors")) / "bin" / "python"

# (script, extra arguments, needs the anchors environment)
BENCHMARKS = [
    ("bench_schedules.py", [], False),
    ("bench_recorder.py", [], False),
    ("bench_demo.py", [], False),
    ("bench_explain.py", [], False),  # pandas from the anchors environment when it exists, else lrscope alone
    ("bench_memory.py", [], False),
    ("bench_infer_decays.py", [], False),
    ("bench_noise.py", [], False),
    ("bench_forecast.py", [], False),
    ("bench_forecast_curves.py", [], False),
    ("bench_finder_regret.py", ["--cached"], False),
    ("bench_finder.py", [], True),
    ("bench_landscape.py", [], True),
    ("bench_curvature.py", [], True),
]


def selected(words: list[str]):
    return [b for b in BENCHMARKS if not words or any(w in b[0] for w in words)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="run only benchmarks whose file name contains one of these")
    parser.add_argument("--list", action="store_true", help="list what would run and exit")
    args = parser.parse_args(argv)
    chosen = selected(args.only)
    if not chosen:
        print(f"no benchmark matches {' '.join(args.only)!r}; there are: "
              + ", ".join(b[0] for b in BENCHMARKS), file=sys.stderr)
        return 2
    outcomes = []
    for script, extra, anchors in chosen:
        python = ANCHORS if anchors else Path(sys.executable)
        command = [str(python), str(BENCH / script), *extra]
        if args.list:
            print(" ".join(command))
            continue
        if anchors and not ANCHORS.exists():
            outcomes.append((script, "skipped", 0.0))
            print(f"\n### {script}: skipped, the anchors environment ({ANCHORS}) is not there; "
                  "any anchor check in ../shared/checks builds it", flush=True)
            continue
        print(f"\n### {' '.join([python.name, 'bench/' + script, *extra])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(command, cwd=BENCH.parent)
        outcomes.append((script, "ok" if rc == 0 else f"failed (exit {rc})", time.perf_counter() - t0))
    if args.list:
        return 0
    print("\n### summary")
    for script, outcome, seconds in outcomes:
        print(f"{script:28s} {outcome:18s} {seconds:7.1f} s")
    return 1 if any(o.startswith("failed") for _, o, _ in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
