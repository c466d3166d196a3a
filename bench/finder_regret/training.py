"""One training of a recipe at a peak rate, and one finder sweep: the two jobs the worker processes run."""

from __future__ import annotations

import math
import time

from .tasks import EVERY_TASK, key, make_model, make_optimizer, task_data

SWEEP = dict(start_lr=1e-7, end_lr=10.0, num_iter=100)


def fresh_model(task: str, opt: str, seed: int, lr: float):
    """The model initialised from ``seed`` (one torch thread: the workers share the cores) and its optimizer."""
    import torch

    torch.set_num_threads(1)
    _, _, _, _, classes, shape = task_data(task)
    torch.manual_seed(seed)
    model = make_model(task, shape, classes)
    return model, make_optimizer(opt, model.parameters(), lr)


def train_recipe(task: str, opt: str, sched: str, seed: int, lr: float):
    """One training of the recipe at peak rate ``lr``: (model, optimizer, whether every loss stayed finite)."""
    import torch
    import torch.nn.functional as F

    import lrscope

    x, y, _, _, _, _ = task_data(task)
    spec = EVERY_TASK[task]
    model, optimizer = fresh_model(task, opt, seed, lr)
    steps = spec.epochs * math.ceil(len(y) / spec.batch)
    scheduler = lrscope.ScheduleLR(optimizer, f"onecycle({lr!r}, total={steps})", unit="step") \
        if sched == "1cycle" else None
    g = torch.Generator().manual_seed(1000 + seed)
    for _ in range(spec.epochs):
        model.train()
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), spec.batch):
            idx = order[i:i + spec.batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if not torch.isfinite(loss):
                return model, optimizer, False
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return model, optimizer, True


def evaluate(model, x, y) -> tuple[float, float]:
    """(cross-entropy, accuracy) of the model in eval mode on (x, y)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    with torch.no_grad():
        logits = model(x)
        return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def train_one(job: tuple) -> dict:
    """Train one (task, optimizer, schedule, seed, peak lr); the validation accuracy and loss at the end."""
    task, opt, sched, seed, lr = job
    _, _, xv, yv, classes, _ = task_data(task)
    t0 = time.perf_counter()
    model, _, finite = train_recipe(task, opt, sched, seed, lr)
    val_loss, acc = evaluate(model, xv, yv)
    if not finite or not math.isfinite(val_loss):
        val_loss, acc = math.log(classes), 1.0 / classes
    return dict(key=key(*job), task=task, opt=opt, sched=sched, seed=seed, lr=lr, acc=100 * acc,
                loss=val_loss, finite=finite, seconds=round(time.perf_counter() - t0, 3))


def sweep_one(job: tuple) -> dict:
    """The finder's raw curve for (task, optimizer, seed), recorded with a loose divergence stop."""
    task, opt, seed = job
    import torch
    import torch.nn as nn

    import lrscope

    x, y, _, _, _, _ = task_data(task)
    model, optimizer = fresh_model(task, opt, seed, 1e-7)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=EVERY_TASK[task].batch,
                                         shuffle=True, generator=torch.Generator().manual_seed(seed))
    r = lrscope.find_lr(model, optimizer, nn.CrossEntropyLoss(), loader, diverge=100.0, seed=seed, **SWEEP)
    return dict(key=f"{task}|{opt}|{seed}", lrs=[float(v) for v in r.lrs],
                losses=[float(v) if math.isfinite(v) else None for v in r.losses])
