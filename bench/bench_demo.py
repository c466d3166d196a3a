"""Wall time of ``lrscope demo`` as a user runs it (fresh process, start-up included); goal <= 120 s.

Prints the wall time and the CPU time (user + sys) of the child: on the shared 2-core machine the CPU time is
the steadier figure when other work is running.  Also prints the staircase figures of the step run.

    .venv/bin/python bench/bench_demo.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrscope.logs.rundir import read_metrics


def main() -> None:
    lrscope = Path(sys.executable).with_name("lrscope")
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [str(lrscope), "demo", "--out", os.path.join(tmp, "d")],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rows = sorted(read_metrics(Path(tmp) / "d" / "step", "epoch"), key=lambda r: r["epoch"])
    k = next(i for i in range(1, len(rows)) if rows[i]["lr"] < rows[i - 1]["lr"] * 0.999)
    tl = [r["train_loss"] for r in rows]
    pre = tl[k - 5 : k]
    flat = (max(pre) - min(pre)) / (sum(pre) / 5)
    drop = 1 - min(tl[k : k + 2]) / (sum(tl[k - 3 : k]) / 3)
    print(f"lrscope demo: wall {wall:.1f} s, cpu (user+sys) {cpu:.1f} s; goal 120 s (ratio {wall / 120:.2f})")
    print(
        f"step run: first decay at epoch {rows[k]['epoch']}, flat {flat:.1%} before (< 15 %), "
        f"drop {drop:.1%} within 2 epochs (>= 25 %)"
    )


if __name__ == "__main__":
    main()
