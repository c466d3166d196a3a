"""Recorder overhead: a small training loop with and without ``lrscope.Recorder`` (goal: <= 2 % slower).

The loop is a user's own: the small CNN of the reference runner on the digits data, batch 64, SGD, one torch
thread.  Both variants call ``loss.item()`` every step (as any loop that logs its loss); the recorded one
adds ``rec.step(...)`` every step and ``rec.epoch(...)`` (flush + fsync) every epoch.  The variants alternate,
best of ``REPEATS`` each, so that load from other processes hits both alike.  Also printed: the cost of one
``rec.step`` call on its own.

    .venv/bin/python bench/bench_recorder.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from lrscope.logs.recorder import Recorder
from lrscope.train.data import load_data
from lrscope.train.loop import epoch_batches
from lrscope.train.models import build_model

EPOCHS = 8
REPEATS = 7


def run_loop(bundle, record_to: Path | None) -> float:
    torch.manual_seed(0)
    model = build_model("cnn", bundle.input_shape, bundle.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    rec = Recorder(record_to, config={"bench": True}) if record_to else None
    step = 0
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        total = 0.0
        for x, y in epoch_batches(bundle, 64, 0, epoch):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            value = loss.item()
            total += value
            if rec:
                rec.step(step=step, lr=0.05, loss=value, epoch=epoch + 0.5)
        if rec:
            rec.epoch(epoch=epoch + 1, lr=0.05, train_loss=total, val_loss=total, val_acc=0.5, step=step)
    if rec:
        rec.close()
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    bundle = load_data("digits")
    bare, recorded = [], []
    with tempfile.TemporaryDirectory() as tmp:
        run_loop(bundle, None)  # warm-up
        for i in range(REPEATS):
            bare.append(run_loop(bundle, None))
            recorded.append(run_loop(bundle, Path(tmp) / f"r{i}"))
        rec = Recorder(Path(tmp) / "calls")
        n = 100_000
        t0 = time.perf_counter()
        for i in range(n):
            rec.step(step=i, lr=0.1, loss=1.2345, epoch=i / 100)
        per_call = (time.perf_counter() - t0) / n
        rec.close()
    steps = EPOCHS * -(-bundle.n_train // 64)
    b, r = min(bare), min(recorded)
    print(f"loop of {steps} steps (cnn, digits, batch 64, 1 thread), best of {REPEATS}:")
    print(f"  bare      {b * 1e3:8.1f} ms  ({b / steps * 1e6:.0f} us/step)")
    print(f"  recorded  {r * 1e3:8.1f} ms")
    print(f"  overhead  {100 * (r / b - 1):+.2f} %   (ratio {r / b:.4f})")
    print(f"  one rec.step call: {per_call * 1e6:.2f} us")


if __name__ == "__main__":
    main()
