"""`lrscope explain` end to end on step-level CSVs (250k, 500k, 1M rows) against pandas.read_csv on the same
file.

Both sides run as fresh processes (python start-up included), best of 3.  pandas comes from the anchors
environment
(~/.cache/lrscope-anchors) when it exists.  Also times `lrscope explain` start-up on a tiny log and checks
that it
does not import torch.

    .venv/bin/python bench/bench_explain.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LRSCOPE = Path(sys.executable).with_name("lrscope")
ANCH = Path(os.environ.get("LRSCOPE_ANCHORS", Path.home() / ".cache" / "lrscope-anchors")) / "bin" / "python"


def write_log(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    step = np.arange(n)
    lr = np.where(step < n // 2, 0.1, np.where(step < 3 * n // 4, 0.01, 0.001))
    base = 0.3 + 2.0 * np.exp(-step / (n / 20))
    floor = np.where(step < n // 2, 0.6, np.where(step < 3 * n // 4, 0.12, 0.05))
    loss = (base + floor) * np.exp(rng.normal(0, 0.15, n))
    with open(path, "w") as f:
        f.write("step,lr,loss\n")
        np.savetxt(f, np.column_stack([step, lr, loss]), fmt=["%d", "%.6g", "%.6f"], delimiter=",")


def best_of(cmd: list[str], k: int = 3) -> float:
    best = float("inf")
    for _ in range(k):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    py = str(ANCH) if ANCH.exists() else sys.executable
    has_pandas = subprocess.run([py, "-c", "import pandas"], capture_output=True).returncode == 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"pandas from: {py if has_pandas else 'not available'}")
        print(f"{'rows':>9} {'explain s':>10} {'pandas s':>9} {'ratio':>6}")
        for n in (250_000, 500_000, 1_000_000):
            p = Path(tmp) / f"log{n}.csv"
            write_log(p, n)
            ours = best_of([str(LRSCOPE), "explain", str(p), "--json"])
            theirs = (
                best_of([py, "-c", "import pandas,sys; pandas.read_csv(sys.argv[1])", str(p)])
                if has_pandas
                else float("nan")
            )
            print(f"{n:>9} {ours:>10.2f} {theirs:>9.2f} {ours / theirs:>6.2f}")
        small = Path(tmp) / "small.csv"
        write_log(small, 200)
        start = best_of([str(LRSCOPE), "explain", str(small), "--json"], 5)
        code = (
            "import sys; from lrscope.cli import main; from lrscope.jobs.explain import explain_path; "
            f"explain_path({str(small)!r}); print('torch' in sys.modules)"
        )
        torch = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
        print(f"start-up: explain on a 200-row log {start:.2f}s; torch imported: {torch}")


if __name__ == "__main__":
    main()
