"""``--variants``: two rules built on short one-epoch trials at six rates around the turn, scored from the grid
(tried, not adopted)."""

from __future__ import annotations

import math

import numpy as np

from .cache import CACHE, ensure_rows, load_rows
from .grid import optimum
from .tasks import EVERY_TASK, RECIPES, SCHEDULES, SEEDS, TASKS, key, rounded, task_data
from .training import evaluate, fresh_model

TRIAL_OFFSETS = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0)  # decades from each seed's turn


def trial_one(job: tuple) -> dict:
    """A short trial: one epoch of the recipe at peak rate ``lr`` (1cycle compressed into the epoch), its
    validation loss and accuracy; then a fifth of an epoch more at a tenth of the final rate, and again."""
    import torch
    import torch.nn.functional as F

    import lrscope

    task, opt, sched, seed, lr = job
    x, y, xv, yv, classes, _ = task_data(task)
    batch = EVERY_TASK[task].batch
    model, optimizer = fresh_model(task, opt, seed, lr)
    steps = len(y) // batch
    scheduler = lrscope.ScheduleLR(optimizer, f"onecycle({lr!r}, total={steps})", unit="step") \
        if sched == "1cycle" else None
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(5000 + seed))
    out = dict(key=key(*job))
    for phase, count in (("", steps), ("settled_", max(10, steps // 5))):
        model.train()
        for i in range(count):
            idx = order[(i * batch) % (steps * batch):][:batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if not torch.isfinite(loss):
                return dict(out, loss=math.inf, acc=0.0, settled_loss=math.inf, settled_acc=0.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None and not phase:
                scheduler.step()
        val, acc = evaluate(model, xv, yv)
        out.update({phase + "loss": val if math.isfinite(val) else math.inf, phase + "acc": 100 * acc})
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] / 10
    return out


def ensure_trials(anchors, workers, cached) -> dict:
    """Every short trial the trial rules need, from trials.jsonl where it is already there."""
    path = CACHE / "trials.jsonl"
    trials = load_rows(path)
    jobs = [(t, o, s, seed, rounded(10 ** (anchors[f"{t}|{o}|{seed}"]["turn"] + d)))
            for t in TASKS for o, s in RECIPES for seed in SEEDS for d in TRIAL_OFFSETS]
    ensure_rows(trial_one, jobs, trials, path, workers, cached, "short trials")
    return {j: trials[key(*j)] for j in jobs}


def trial_picks(trials: dict, t, o, s, seed, epochs) -> dict:
    """log10 rate each trial rule picks for one seed: "short trials" takes the trial with the lowest validation
    loss (a parabola through it and its neighbours); "short trials, extrapolated" (constant recipes) predicts
    the full run's loss at rate r as the settled trial loss at r x epochs (progress taken as a function of
    rate x time, as for gradient flow) plus the noise floor the settle removed at r itself."""
    runs = sorted((math.log10(j[4]), row) for j, row in trials.items() if j[:4] == (t, o, s, seed))
    x = np.array([r[0] for r in runs])
    noisy = np.array([r[1]["loss"] for r in runs], float)
    settled = np.array([r[1]["settled_loss"] for r in runs], float)
    worst = np.nanmax(np.where(np.isfinite(noisy), noisy, np.nan)) if np.isfinite(noisy).any() else 1.0
    noisy, settled = (np.where(np.isfinite(v), v, 10 * worst) for v in (noisy, settled))
    i = int(np.argmin(noisy))
    picks = {"short trials": x[i]}
    if 0 < i < len(x) - 1:
        a, b, c = noisy[i - 1:i + 2]
        step = x[1] - x[0]
        if a - 2 * b + c > 0:
            picks["short trials"] = x[i] + float(np.clip(0.5 * (a - c) / (a - 2 * b + c), -0.5, 0.5)) * step
    if s == "constant":
        fine = np.linspace(x[0], x[-1], 201)
        predicted = np.interp(np.minimum(fine + math.log10(epochs), x[-1]), x, settled) + \
            np.interp(fine, x, np.maximum(noisy - settled, 0.0))
        picks["short trials, extrapolated"] = float(fine[int(np.argmin(predicted))])
    return picks


def trial_rules(anchors, grids, best, workers, cached):
    """Mean regret of the trial rules, scored from the grid (each seed's accuracy interpolated in log rate)."""
    trials = ensure_trials(anchors, workers, cached)
    print(f"\n## Short trials ({len(TRIAL_OFFSETS)} per seed: one epoch at the turn x 10^d, d in {TRIAL_OFFSETS}):"
          " regret (points, interpolated from the grid) and how many seeds land within 2x of the grid optimum\n")
    names = ("short trials", "short trials, extrapolated")
    print("| task | optimizer | schedule | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    regrets = {n: {s: [] for s in SCHEDULES} for n in names}
    within = {n: [] for n in names}
    for (t, o, s), (rates, acc) in grids.items():
        top = math.log10(optimum(rates, acc.mean(0)))
        picks = [trial_picks(trials, t, o, s, seed, TASKS[t].epochs) for seed in SEEDS]
        cells = []
        for n in names:
            if n not in picks[0]:
                cells.append("")
                continue
            at = [np.interp(p[n], np.log10(rates), acc[i]) for i, p in enumerate(picks)]
            near = [abs(p[n] - top) <= math.log10(2) for p in picks]
            regrets[n][s].append(best[(t, o, s)] - float(np.mean(at)))
            within[n] += near
            cells.append(f"{regrets[n][s][-1]:.2f} ({sum(near)})")
        print(f"| {t} | {o} | {s} | " + " | ".join(cells) + " |")
    for n in names:
        parts = ", ".join(f"{s} {np.mean(v):.2f}" for s, v in regrets[n].items() if v)
        print(f"\n{n}: mean regret {parts}; within 2x {np.mean(within[n]):.0%}")
