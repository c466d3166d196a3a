"""Schedules: 10^6 rates from the pure function vs stepping the torch scheduler 10^6 times; start-up times.

Run from the project root:  .venv/bin/python bench/bench_schedules.py [--n 1000000]
Prints one line per figure and the ratios.  Never run by the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

LRSCOPE = Path(sys.executable).with_name("lrscope")


def pure(spec: str, n: int) -> tuple[float, float]:
    """Seconds for s(arange(n)): first call (builds any replay table) and best of three warm calls."""
    from lrscope.schedules import parse_schedule

    s = parse_schedule(spec)
    t = np.arange(n, dtype=np.float64)
    start = time.perf_counter()
    s(t)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(3):
        start = time.perf_counter()
        s(t)
        warm.append(time.perf_counter() - start)
    return cold, min(warm)


def stepped(make, base: float, n: int) -> float:
    """Seconds to read the rate and call scheduler.step() n times (no optimizer work in between)."""
    import torch

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base, momentum=0.9)
    sched = make(opt)
    group = opt.param_groups[0]
    out = np.empty(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "step() before optimizer.step()": we time the scheduler alone
        start = time.perf_counter()
        for i in range(n):
            out[i] = group["lr"]
            sched.step()
        return time.perf_counter() - start


def wall(cmd: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    n = parser.parse_args().n

    import torch.optim.lr_scheduler as S

    cases = [
        (f"onecycle(0.4, total={n})", 0.4, lambda o: S.OneCycleLR(o, 0.4, total_steps=n)),
        (f"cosine(0.1, total={n}, min_lr=0.001)", 0.1, lambda o: S.CosineAnnealingLR(o, n, 0.001)),
        (
            "multistep(0.1, milestones=[300000, 600000, 900000])",
            0.1,
            lambda o: S.MultiStepLR(o, [300000, 600000, 900000], 0.1),
        ),
        ("exponential(0.1, gamma=0.999999)", 0.1, lambda o: S.ExponentialLR(o, 0.999999)),
    ]
    print(f"{n:,} rates per schedule")
    for spec, base, make in cases:
        cold, warm = pure(spec, n)
        torch_s = stepped(make, base, n)
        print(
            f"  {spec:52s} pure {cold:7.3f} s cold, {warm:7.3f} s warm | torch stepping {torch_s:7.2f} s "
            f"| torch/pure {torch_s / cold:6.0f}x cold, {torch_s / warm:6.0f}x warm"
        )

    py = sys.executable
    t_import = wall([py, "-c", "import lrscope"])
    t_import_sched = wall([py, "-c", "import lrscope.schedules"])
    t_torch = wall([py, "-c", "import torch"])
    t_cli = wall([str(LRSCOPE), "schedule", "onecycle(0.4, total=1000)", "--steps", "1000", "--json"])
    t_help = wall([str(LRSCOPE), "--help"])
    probe = subprocess.run(
        [
            py,
            "-c",
            "import sys, lrscope; s = lrscope.parse_schedule('cosine(0.1, total=10)'); s(3); "
            "from lrscope.cli import main; print('torch' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print("start-up (median of 5 runs, wall clock)")
    print(f"  python -c 'import lrscope'                  {t_import * 1000:7.0f} ms")
    print(f"  python -c 'import lrscope.schedules'        {t_import_sched * 1000:7.0f} ms")
    print(f"  lrscope --help                              {t_help * 1000:7.0f} ms")
    print(f"  lrscope schedule onecycle... --steps 1000 --json {t_cli * 1000:7.0f} ms")
    print(f"  python -c 'import torch' (for reference)    {t_torch * 1000:7.0f} ms")
    print(f"  torch in sys.modules after import lrscope + parse + cli import: {probe}")


if __name__ == "__main__":
    main()
