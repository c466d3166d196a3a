"""``--variants``: the sweep-rule variants tried, where each grid optimum lies against the turn, the gradient
noise scale at initialisation and the fit gap (overfitting against the noise floor)."""

from __future__ import annotations

import math

import numpy as np

from .cache import CACHE, ensure_rows, ensure_trainings, load_rows
from .grid import grid_of, optimum
from .rules import lrscope_result, rule_values
from .tasks import (
    EVERY_TASK,
    OPTIMIZERS,
    RECIPES,
    SCHEDULES,
    SEEDS,
    TASKS,
    key,
    make_model,
    model_kind,
    rounded,
    task_batchnorm,
    task_data,
)
from .training import evaluate, train_recipe
from .trials import trial_rules


def fit_gap(job: tuple) -> dict:
    """Training-set and validation loss after one training, then after one more epoch at a tenth of the final
    rate: the settle removes the SGD noise floor's share of the loss (the bounce at rate x gradient noise), so
    what stays between a rate and a lower one is the fit itself: progress, or overfitting."""
    import torch
    import torch.nn.functional as F

    task, opt, sched, seed, lr = job
    x, y, xv, yv, _, _ = task_data(task)
    model, optimizer, finite = train_recipe(task, opt, sched, seed, lr)
    row = dict(key=key(*job), job=job, finite=finite, train=evaluate(model, x, y)[0],
               val=evaluate(model, xv, yv)[0])
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] / 10
    model.train()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(2000 + seed))
    batch = EVERY_TASK[task].batch
    for i in range(0, len(y), batch):
        idx = order[i:i + batch]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return dict(row, settled_train=evaluate(model, x, y)[0], settled_val=evaluate(model, xv, yv)[0])


def _anchors(curve: dict) -> dict:
    """log10 of the fit's minimum, the turn (80 % of the drop) and the steepest slope, from ``suggest``."""
    lrs = np.array(curve["lrs"], float)
    raw = np.array([np.nan if v is None else v for v in curve["losses"]], float)
    found = lrscope_result(lrs, raw, batchnorm=False, bootstrap=0)  # the anchors do not need the interval
    return {"minimum": math.log10(found["suggestions"]["minimum_over_10"]) + 1.0,
            "turn": math.log10(found["suggestions"]["turn"]),
            "steepest": math.log10(found["suggestions"]["steepest"])}


LOG3, LOG1_5, LOG4, LOG2 = (math.log10(v) for v in (3.0, 1.5, 4.0, 2.0))
VARIANTS = {  # name -> f(anchors) -> log10 (constant rate, 1cycle peak), the same for every model
    "turn / 3, turn / 1.5, every model (the rule before BatchNorm was told apart)":
        lambda a: (a["turn"] - LOG3, a["turn"] - LOG1_5),
    "turn, turn x 3, every model": lambda a: (a["turn"], a["turn"] + LOG3),
    "fit's minimum / 4, minimum / 2, every model (fails C1: 0.57 decades)":
        lambda a: (a["minimum"] - LOG4, a["minimum"] - LOG2),
}
TURN_OFFSETS = (-0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8)  # decades from the turn, scored by interpolation


def noise_scale_at_init(task: str, seed: int, batches: int = 40) -> float:
    """B_simple / B at initialisation (McCandlish et al. 2018, "An empirical model of large-batch training"):
    tr(Sigma) / |G|^2 over the batch size, from ``batches`` mini-batch gradients at the initial weights, with
    |G|^2 debiased by tr(Sigma) / (B * batches)."""
    import torch
    import torch.nn.functional as F

    x, y, _, _, classes, shape = task_data(task)
    torch.manual_seed(seed)
    model = make_model(task, shape, classes).train()
    batch = EVERY_TASK[task].batch
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    grads = []
    for i in range(0, batches * batch, batch):
        idx = order[i:i + batch]
        model.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    g = torch.stack(grads)
    trace_over_b = float(g.var(0).sum())  # tr(Sigma) / B
    signal = float(g.mean(0).pow(2).sum()) - trace_over_b / batches
    return trace_over_b / max(signal, 1e-12)


def fit_gaps(sweeps, grids, workers, cached, seeds=(0, 1)):
    """Training-set and validation loss at the grid's optimum and at lrscope's suggestion, constant recipes:
    a suggestion that trains the training set further yet loses on validation is lost to overfitting, which no
    sweep of the training loss can see.  Cached in fit-gaps.jsonl (trainings.jsonl.gz keeps no training loss)."""
    jobs = []
    for (t, o, s), (rates, acc) in grids.items():
        if s != "constant":
            continue
        best = rounded(optimum(rates, acc.mean(0)))
        for seed in seeds:
            ours = rounded(rule_values(sweeps[f"{t}|{o}|{seed}"], task_batchnorm(t))["lrscope"][0])
            jobs += [(t, o, s, seed, best), (t, o, s, seed, ours)]
    path = CACHE / "fit-gaps.jsonl"
    rows = load_rows(path)
    ensure_rows(fit_gap, jobs, rows, path, workers, cached, "fit gaps")
    found = {job: rows[key(*job)] for job in jobs}
    print(f"\n## Training-set and validation loss after the constant recipe (mean of seeds {seeds}), at the grid's"
          " optimum and at lrscope's suggestion; settled: after one more epoch at a tenth of the rate\n")
    print("| task | optimizer | lrscope / optimum (rate) | optimum: train / val | settled | lrscope: train / val "
          "| settled |")
    print("|---|---|---|---|---|---|---|")
    for t in TASKS:
        for o in OPTIMIZERS:
            pairs = [(found[jobs[i]], found[jobs[i + 1]]) for i in range(0, len(jobs), 2) if jobs[i][:2] == (t, o)]
            if not all(a["finite"] and b["finite"] for a, b in pairs):
                print(f"| {t} | {o} | (a training diverged) | | | | |")
                continue
            cells = []
            for side in (0, 1):
                for pre in ("", "settled_"):
                    cells.append(" / ".join(f"{np.mean([p[side][pre + f] for p in pairs]):.3f}"
                                            for f in ("train", "val")))
            ratio = float(np.exp(np.mean([math.log(p[1]["job"][4] / p[0]["job"][4]) for p in pairs])))
            print(f"| {t} | {o} | {ratio:.2g}x | " + " | ".join(cells) + " |")


def variants(sweeps, trainings, bounds, workers, cached):
    """Mean regret of rule variants, each trained at its own suggestions (the same seeds), by schedule and
    model kind and per task; where each grid's optimum lies against the sweep's turn; the gradient noise scale
    at initialisation; then, from the grid alone, the regret at offsets from the turn by schedule, model kind and
    optimizer (each seed's accuracy interpolated linearly in log rate, clamped at the grid's ends; no new
    trainings)."""
    anchors = {k: _anchors(v) for k, v in sweeps.items()}
    kinds = ("no BatchNorm", "BatchNorm")
    grids = {(t, o, s): grid_of(trainings, bounds, t, o, s) for t in TASKS for o, s in RECIPES}
    best = {case: acc.mean(0).max() for case, (_, acc) in grids.items()}

    def rate(f, t, o, s, seed):
        const, peak = f(anchors[f"{t}|{o}|{seed}"])
        return rounded(10 ** (const if s == "constant" else peak))

    jobs = [(t, o, s, seed, rate(f, t, o, s, seed)) for f in VARIANTS.values() for (t, o, s) in grids
            for seed in SEEDS]
    ensure_trainings(jobs, trainings, workers, cached, "rule variants")
    regret = {(name, t, o, s): best[(t, o, s)] - float(np.mean(
        [trainings[key(t, o, s, seed, rate(f, t, o, s, seed))]["acc"] for seed in SEEDS]))
        for name, f in VARIANTS.items() for (t, o, s) in grids}

    print("\n## Rule variants: mean regret (points) by schedule and model kind, each trained at its suggestions\n")
    print("| rule | " + " | ".join(f"{s}, {k}" for s in SCHEDULES for k in kinds) + " | all |")
    print("|---|" + "---|" * (len(SCHEDULES) * len(kinds) + 1))
    for name in VARIANTS:
        cells = [np.mean([regret[(name, t, o, s)] for t in TASKS if model_kind(t) == kind for o in OPTIMIZERS])
                 for s in SCHEDULES for kind in kinds]
        every = np.mean([v for k, v in regret.items() if k[0] == name])
        print(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + f" | {every:.2f} |")
    print("\n## Rule variants per task and recipe (points; the held-out task is synthetic-bnmlp), and where the"
          " grid's optimum lies against the sweep's turn (decades; seed-mean turn)\n")
    print("| task | optimizer | schedule | " + " | ".join(f"variant {i + 1}" for i in range(len(VARIANTS)))
          + " | optimum - turn |")
    print("|---|---|---|" + "---|" * (len(VARIANTS) + 1))
    for (t, o, s), (rates, acc) in grids.items():
        turn = np.mean([anchors[f"{t}|{o}|{seed}"]["turn"] for seed in SEEDS])
        cells = [f"{regret[(name, t, o, s)]:.2f}" for name in VARIANTS]
        offset = math.log10(optimum(rates, acc.mean(0))) - turn
        print(f"| {t} | {o} | {s} | " + " | ".join(cells) + f" | {offset:+.2f} |")
    print("\n## Gradient noise scale at initialisation, B_simple / B (seeds 0 and 1)\n")
    for t in TASKS:
        print(f"- {t}: " + ", ".join(f"{noise_scale_at_init(t, seed):.2f}" for seed in (0, 1)))
    fit_gaps(sweeps, grids, workers, cached)
    trial_rules(anchors, grids, best, workers, cached)
    print("\n## From the grid alone: mean regret (points) at the turn x 10^d, interpolated\n")
    print("| schedule | model | optimizer | " + " | ".join(f"d = {d:+.1f}" for d in TURN_OFFSETS) + " |")
    print("|---|---|---|" + "---|" * len(TURN_OFFSETS))
    for s in SCHEDULES:
        for kind in kinds:
            for o in OPTIMIZERS:
                cells = []
                for d in TURN_OFFSETS:
                    regrets = []
                    for t in (t for t in TASKS if model_kind(t) == kind):
                        rates, acc = grids[(t, o, s)]
                        at = [np.interp(anchors[f"{t}|{o}|{seed}"]["turn"] + d, np.log10(rates), acc[i])
                              for i, seed in enumerate(SEEDS)]
                        regrets.append(best[(t, o, s)] - float(np.mean(at)))
                    cells.append(f"{np.mean(regrets):.2f}")
                print(f"| {s} | {kind} | {o} | " + " | ".join(cells) + " |")
