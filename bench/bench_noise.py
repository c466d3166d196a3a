"""Gradient noise: overhead of NoiseHook at the default cadence, and predicted vs observed drops at the first
decay.

    .venv/bin/python bench/bench_noise.py            # both parts
    .venv/bin/python bench/bench_noise.py overhead   # only the overhead
    .venv/bin/python bench/bench_noise.py drops      # only the three set-ups

For each set-up: train with --noise-every, then at the epoch E before the first decay compare
  predicted  = lrscope predict RUN --at E --to LR   (noise floor, (a1 - a2) tr(Sigma) / (4 B (1 - beta)))
  what-if    = lrscope whatif RUN --at E --to LR --steps 50  (controlled: new vs old rate on the same batches)
  run's own  = train_loss[E] - train_loss[E + 1]    (epoch means around the decay, as check E1 does)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from lrscope.jobs.demo import COMMON as DEMO_COMMON
from lrscope.jobs.demo import STEP as DEMO_STEP
from lrscope.jobs.predict import predict_job
from lrscope.logs.rundir import read_metrics
from lrscope.probes.hooks import hooks_for
from lrscope.probes.noise import DEFAULT_EVERY, NoiseHook
from lrscope.probes.whatif import whatif
from lrscope.train.config import TrainConfig
from lrscope.train.loop import train

SETUPS = {
    # the demo's step run (lrscope demo): decay x0.25 at epoch 50, 107 steps per epoch
    "the demo's step run (digits cnn, augmented, B 16)": {**DEMO_COMMON, **DEMO_STEP},
    "digits cnn, 20 % label noise, B 32": dict(
        data="digits",
        model="cnn",
        label_noise=0.2,
        batch_size=32,
        epochs=12,
        schedule="multistep(0.1, milestones=[10])",
    ),
    "synthetic mlp, 20 % label noise, B 32": dict(
        data="synthetic:n=2000,dim=32,classes=10,sep=3.0",
        model="mlp",
        label_noise=0.2,
        batch_size=32,
        epochs=12,
        schedule="multistep(0.05, milestones=[10])",
    ),
    "digits resnet20 (batch norm), 20 % label noise, B 64": dict(
        data="digits",
        model="resnet20",
        label_noise=0.2,
        batch_size=64,
        epochs=8,
        schedule="multistep(0.1, milestones=[6])",
    ),
}


def timed_run(config: TrainConfig, root: Path, name: str, hooks=()) -> float:
    started = time.perf_counter()
    train(config, root / name, hooks=hooks)
    return time.perf_counter() - started


class TimedNoiseHook(NoiseHook):
    """NoiseHook that accounts for the time spent measuring (robust to load from other processes)."""

    spent = 0.0

    def after_step(self, state) -> None:
        started = time.perf_counter()
        super().after_step(state)
        TimedNoiseHook.spent += time.perf_counter() - started


def overhead(root: Path) -> None:
    base = dict(
        data="digits",
        model="cnn",
        label_noise=0.2,
        batch_size=32,
        epochs=6,
        schedule="constant(0.1)",
        threads=1,
    )
    print(
        "overhead (digits cnn, B 32, 6 epochs = 270 steps, 1 thread): time inside the hook / time outside it"
    )
    for every in (DEFAULT_EVERY, 8, 1):
        TimedNoiseHook.spent = 0.0
        total = timed_run(TrainConfig(**base), root, f"oh-{every}", hooks=[TimedNoiseHook(every=every)])
        spent = TimedNoiseHook.spent
        print(
            f"  every {every:>2} steps: {spent:.3f} s measuring of {total:.2f} s, "
            f"overhead {spent / (total - spent):.1%}"
        )
    # the same with resnet20 (batch norm: slices one after another)
    base.update(model="resnet20", epochs=1)
    TimedNoiseHook.spent = 0.0
    total = timed_run(
        TrainConfig(**base), root, "oh-resnet", hooks=[TimedNoiseHook(every=DEFAULT_EVERY // 5)]
    )
    spent = TimedNoiseHook.spent / 5
    print(
        f"  resnet20, every {DEFAULT_EVERY} steps (extrapolated from every {DEFAULT_EVERY // 5}): "
        f"overhead {spent / (total - TimedNoiseHook.spent):.1%}"
    )


def drops(root: Path, every: int) -> None:
    print(f"first decay, noise measured every {every} steps")
    print("| set-up | decay | predicted | what-if (50 steps) | ratio | run's own | ratio |")
    print("|---|---|---|---|---|---|---|")
    for i, (label, setup) in enumerate(SETUPS.items()):
        run = root / f"setup-{i}-{every}"
        config = TrainConfig(**{"seed": 0, **setup, "noise_every": every})
        train(config, run, hooks=hooks_for(config))
        rows = sorted(read_metrics(run, "epoch"), key=lambda r: r["epoch"])
        k = next(j for j in range(1, len(rows)) if rows[j]["lr"] < rows[j - 1]["lr"] * 0.999)
        at, lr_to = rows[k - 1]["epoch"], rows[k]["lr"]
        own = rows[k - 1]["train_loss"] - rows[k]["train_loss"]
        pred = predict_job(run, lr_to, at).predicted_drop
        obs = whatif(run, lr_to, at, 50).observed_drop
        print(
            f"| {label} | epoch {at}: {rows[k - 1]['lr']:g} -> {lr_to:g} | {pred:.4f} | {obs:.4f} | "
            f"{pred / obs:.2f} | {own:.4f} | {pred / own:.2f} |"
        )


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    root = Path(tempfile.mkdtemp(prefix="bench-noise-"))
    try:
        if what in ("all", "overhead"):
            overhead(root)
        if what in ("all", "drops"):
            for every in (DEFAULT_EVERY, 8):
                drops(root, every)
    finally:
        shutil.rmtree(root, ignore_errors=True)
