"""Peak memory and time of ``lrscope explain`` on a 10,000,000-row step-level CSV (issue 8: under 2 GB).

    .venv/bin/python bench/bench_memory.py [--rows N] [--keep]

Writes a step-level log (step, epoch, lr, loss: a multistep schedule with two tenfold decays and a noisy loss
that drops after each) into a temporary directory, runs ``lrscope explain FILE --json`` as a child process, and
reads the child's peak resident set size from ``getrusage(RUSAGE_CHILDREN)`` (the generator runs in this process,
so it does not count).  The file is deleted afterwards.  Prints the figures and the ratio to the 2 GB budget.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BUDGET_BYTES = 2 * 1024**3


def write_log(path: Path, rows: int, chunk: int = 500_000) -> None:
    """step,epoch,lr,loss; 1000 steps an epoch; lr 0.1 -> 0.01 -> 0.001 at 50 % and 75 % of the run."""
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="ascii") as f:
        f.write("step,epoch,lr,loss\n")
        for start in range(0, rows, chunk):
            step = np.arange(start + 1, min(rows, start + chunk) + 1)
            t = step / rows
            lr = np.where(t <= 0.5, 0.1, np.where(t <= 0.75, 0.01, 0.001))
            floor = np.where(t <= 0.5, 0.8, np.where(t <= 0.75, 0.4, 0.3))
            loss = floor + 2.0 * np.exp(-step / (0.05 * rows)) + 0.05 * rng.standard_normal(len(step))
            block = np.column_stack([step, step / 1000.0, lr, loss])
            np.savetxt(f, block, fmt=["%d", "%.3f", "%.4g", "%.6f"], delimiter=",")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated file (prints its path)")
    args = parser.parse_args()
    lrscope = Path(sys.executable).with_name("lrscope")
    tmp = Path(tempfile.mkdtemp(prefix="lrscope-bench-memory-"))
    path = tmp / "steps.csv"
    try:
        started = time.perf_counter()
        write_log(path, args.rows)
        size = path.stat().st_size
        print(f"generated {args.rows:,} rows ({size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        done = subprocess.run([str(lrscope), "explain", str(path), "--json"], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux reports KiB
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            raise SystemExit(f"lrscope explain failed with exit code {done.returncode}")
        result = json.loads(done.stdout)
        print(
            f"lrscope explain: {seconds:.1f} s, peak RSS {peak / 1024**2:.0f} MiB "
            f"({peak / size:.2f} x the file), {len(result['events'])} events, {len(result['findings'])} findings"
        )
        print(
            f"ratio peak RSS / 2 GiB budget: {peak / BUDGET_BYTES:.2f} ({'within' if peak < BUDGET_BYTES else 'OVER'})"
        )
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            path.unlink(missing_ok=True)
            os.rmdir(tmp)


if __name__ == "__main__":
    main()
