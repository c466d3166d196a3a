"""Recorder overhead: a small training loop with and without ``lrscope.Recorder`` (goal: <= 2 % slower).

The loop is a user's own: the small CNN of the reference runner on the digits data, batch 64, SGD, one torch
thread.  Both variants call ``loss.item()`` every step (as any loop that logs its loss); the recorded one
adds ``rec.step(...)`` every step and ``rec.epoch(...)`` (flush + fsync) every epoch.  The variants alternate,
best of ``REPEATS`` each, so that load from other processes hits both alike.

Two figures, because on a shared 2-core machine the end-to-end difference of two ~0.35 s loops moves by a few
per cent from run to run, more than the recorder costs: the end-to-end ratio (best and median), and the time
spent inside the recorder's own calls (construction, every ``step``/``epoch``, ``close``) over the bare loop's
time, which load hits far less.  Also printed: the cost of one ``rec.step`` call on its own.

    .venv/bin/python bench/bench_recorder.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from lrscope.logs.recorder import Recorder
from lrscope.train.data import load_data
from lrscope.train.loop import epoch_batches
from lrscope.train.models import build_model

EPOCHS = 8
REPEATS = 15


def run_loop(bundle, record_to: Path | None) -> tuple[float, float]:
    """(wall time of the loop, time spent inside Recorder calls)."""
    torch.manual_seed(0)
    model = build_model("cnn", bundle.input_shape, bundle.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    clock = time.perf_counter
    start = clock()
    inside = 0.0
    t0 = clock()
    rec = Recorder(record_to, config={"bench": True}) if record_to else None
    inside += clock() - t0
    step = 0
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
                t0 = clock()
                rec.step(step=step, lr=0.05, loss=value, epoch=epoch + 0.5)
                inside += clock() - t0
        if rec:
            t0 = clock()
            rec.epoch(epoch=epoch + 1, lr=0.05, train_loss=total, val_loss=total, val_acc=0.5, step=step)
            inside += clock() - t0
    if rec:
        t0 = clock()
        rec.close()
        inside += clock() - t0
    return clock() - start, inside


def main() -> None:
    torch.set_num_threads(1)
    bundle = load_data("digits")
    bare, recorded, inside = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        run_loop(bundle, None)  # warm-up
        for i in range(REPEATS):
            bare.append(run_loop(bundle, None)[0])
            wall, spent = run_loop(bundle, Path(tmp) / f"r{i}")
            recorded.append(wall)
            inside.append(spent)
        rec = Recorder(Path(tmp) / "calls")
        n = 100_000
        t0 = time.perf_counter()
        for i in range(n):
            rec.step(step=i, lr=0.1, loss=1.2345, epoch=i / 100)
        per_call = (time.perf_counter() - t0) / n
        rec.close()
    steps = EPOCHS * -(-bundle.n_train // 64)
    b, r = min(bare), min(recorded)
    bm, rm = statistics.median(bare), statistics.median(recorded)
    own = statistics.median(inside)
    print(f"loop of {steps} steps (cnn, digits, batch 64, 1 thread), {REPEATS} alternating runs each:")
    print(f"  bare      best {b * 1e3:8.1f} ms  median {bm * 1e3:8.1f} ms  ({b / steps * 1e6:.0f} us/step)")
    print(f"  recorded  best {r * 1e3:8.1f} ms  median {rm * 1e3:8.1f} ms")
    print(f"  end to end: best {100 * (r / b - 1):+.2f} %, median {100 * (rm / bm - 1):+.2f} %")
    print(f"  inside the recorder: {own * 1e3:.2f} ms per run = {100 * own / b:.2f} % of the bare loop (goal <= 2 %)")
    print(f"  one rec.step call: {per_call * 1e6:.2f} us")


if __name__ == "__main__":
    main()
