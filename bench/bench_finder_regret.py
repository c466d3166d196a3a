"""The LR finder judged by what it is for: regret of training at each rule's suggestion against a grid search.

Run (the project's own environment is enough; every rule is applied to the same recorded curves):

    .venv/bin/python bench/bench_finder_regret.py            # train what the cache lacks, print the tables
    .venv/bin/python bench/bench_finder_regret.py --jobs 2   # two worker processes (one torch thread each)
    .venv/bin/python bench/bench_finder_regret.py --cached   # tables from the cache only; never trains
    .venv/bin/python bench/bench_finder_regret.py --cached --variants   # and the rule variants tried

Tasks (all generated or bundled, nothing downloaded; each small enough for a CPU):

- ``digits-cnn``: scikit-learn's 8x8 digits (1437 train / 360 val), lrscope's reference ``cnn``, batch 64;
- ``synthetic-mlp``: lrscope's Gaussian clusters (8000 / 2000, 32 dims, 10 classes), its ``mlp``, batch 128;
- ``shapes-bncnn``: a generated 16x16 image task (10 random smooth textures, shifted, rescaled and noised;
  4000 / 2000) and a three-layer conv net with BatchNorm, batch 128;
- ``digits-resnet20``: the digits with lrscope's ``resnet20`` (BatchNorm, residual), batch 64;
- ``synthetic-bnmlp``: the Gaussian clusters with the ``mlp`` plus BatchNorm after each hidden layer, batch 128.
  This task was added after the BatchNorm rule was chosen on the other four, to test it on data it had not seen.

Held-out tasks (``HELD_OUT``), added after the confirm rules (the extension past an end, the refined rate) were
chosen on the five above, and reported in their own tables, so the figures the rules were chosen on stay
apart from the test of them:

- ``digits-mlp``: the digits with lrscope's ``mlp``, batch 64, 8 epochs;
- ``shapes-cnn``: the shapes task with the three-layer conv net without BatchNorm, batch 128, 6 epochs.

Recipes: {SGD momentum 0.9 + weight decay 5e-4, AdamW weight decay 0.05} x {constant rate, 1cycle}
(lrscope's ``onecycle(max_lr, total)``: 30 % cosine rise from max_lr/25, cosine fall to max_lr/2.5e5, momentum
or beta1 cycled 0.95 -> 0.85 -> 0.95), a fixed number of epochs per task.

Grid: peak rates ``centre * sqrt(3)**k``, at least 9 values, widened until the seed-mean best accuracy lies
two points inside the grid; seeds 0-9 (model init and data order), the same seeds for the finder sweeps
and the trainings at the suggestions (paired).

Finder: one sweep per (task, optimizer, seed) with lrscope.find_lr, 1e-7 .. 10 over 100 steps, recorded with
a loose divergence stop (100x); each rule then reads the curve its own tool would have recorded, cut at that
tool's divergence stop:

- lrscope: ``suggest`` on the curve cut where the debiased EMA (0.98) passes 4x its best (find_lr's default),
  told whether the model has BatchNorm as find_lr would see it; the suggestion for the constant recipe, the
  range's upper bound (what ``auto`` fills in) for 1cycle's max_lr;
- lrscope before: the rule lrscope used before this bench (``combined``, the geometric mean of the steepest
  slope and the midpoint crossing, and the range's top where 90 % of the drop is done);
- torch-lr-finder: EMA 0.05 without bias correction, stop at 5x best, ``argmin(np.gradient(loss[10:-5]))``;
- Lightning: debiased EMA 0.98, stop at 4x, ``argmin(gradient(loss[10:-1], lr))`` (against linear lr);
- fastai: debiased EMA 0.98, stop at 4x, skip 10 first / 5 last points; valley, steep, minimum/10, slide.

Regret (per task and recipe): the grid's best seed-mean validation accuracy minus the seed-mean accuracy of the
trainings at the rule's per-seed suggestions (points); loss regret likewise, relative to the best seed-mean
validation loss.  "Within 2x": the suggestion lies within a factor 2 of the grid optimum (the vertex of a
parabola through the best seed-mean accuracy and its two neighbours, in log lr).  A training whose loss is not
finite counts at chance accuracy and at ln(classes) loss.  The last two columns are no rules but grid searches,
to measure the rules against.  "grid, one seed": the grid rate with the lowest validation loss on the previous
seed alone, judged on the next, as the confirmed rates are: a search with confirm's data (one seed, chosen by
validation loss) and about twice its runs.  "grid, other seeds": for each seed, the grid rate that is best on
the other nine, judged on that seed: the floor of what this many seeds can resolve.  Each regret carries its
standard error: the standard deviation of the paired per-seed differences (the grid-best rate's training
minus the suggestion's) over sqrt(seeds).  It leaves out the upward bias of taking the best of the grid's
noisy means; the one-seed grid search shows how large picking on noisy runs can make that bias.

``--variants`` adds: the rule variants tried, trained at their own suggestions; where each grid optimum lies
against the turn; the gradient noise scale at initialisation; the training-set and validation loss at the
optimum and at lrscope's suggestion, before and after a settle at a tenth of the rate (``fit_gap``: overfitting
against the noise floor); and two rules built on short one-epoch trials at six rates around the turn
(``trial_picks``, cached in trials.jsonl), scored from the grid; and the ways of choosing among confirm's runs
screened before ConfirmResult.refined was adopted (``confirm_choices``), each trained on the next seed; and
ways that train more runs on the choosing seed (``second_stage_choices``: the refined rate trained and kept only
if it beats the best run, or two runs a quarter decade either side of the best), tried and not adopted.

The 1 %-band: on the seed-mean validation loss against log lr (linearly interpolated), the rates whose loss
is within 1 % (relative) of the best; its edges are printed in decades around the loss optimum.

Results are cached in bench/results/finder-regret/ (sweeps.json, trainings.jsonl.gz): a rerun trains only what is
missing, so a changed rule costs only the trainings at its new suggestions.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import itertools
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrscope.analysis.finder_curve import debiased_ema, suggest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_finder import FASTAI, fastai_curve  # noqa: E402  (fastai's rules, as bench_finder reimplements them)

CACHE = HERE / "results" / "finder-regret"
TRAININGS = CACHE / "trainings.jsonl.gz"  # compressed: thousands of rows, kept small in git
SEEDS = tuple(range(10))  # 5 seeds left standard errors of 1-5 points on the constant recipes
SQRT3 = math.sqrt(3.0)
SWEEP = dict(start_lr=1e-7, end_lr=10.0, num_iter=100)


# ---------------------------------------------------------------- tasks and recipes


@dataclass(frozen=True)
class Task:
    name: str
    batch: int
    epochs: int
    centre: dict  # optimizer -> the grid's starting centre


TASKS = {
    "digits-cnn": Task("digits-cnn", 64, 8, {"sgd": 0.1, "adamw": 3e-3}),
    "synthetic-mlp": Task("synthetic-mlp", 128, 6, {"sgd": 0.1, "adamw": 3e-3}),
    "shapes-bncnn": Task("shapes-bncnn", 128, 6, {"sgd": 0.3, "adamw": 3e-3}),
    "digits-resnet20": Task("digits-resnet20", 64, 8, {"sgd": 0.1, "adamw": 3e-3}),
    "synthetic-bnmlp": Task("synthetic-bnmlp", 128, 6, {"sgd": 0.1, "adamw": 3e-3}),
}
HELD_OUT = {  # added after the confirm rules (extension, refined rate) were chosen on TASKS: their test
    "digits-mlp": Task("digits-mlp", 64, 8, {"sgd": 0.1, "adamw": 3e-3}),
    "shapes-cnn": Task("shapes-cnn", 128, 6, {"sgd": 0.1, "adamw": 3e-3}),
}
EVERY_TASK = {**TASKS, **HELD_OUT}
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "1cycle")
RECIPES = [(o, s) for o in OPTIMIZERS for s in SCHEDULES]


def _shapes(seed: int = 7, n_train: int = 4000, n_val: int = 2000, size: int = 16, classes: int = 10):
    """10 classes of random smooth textures; a sample is its class's texture circularly shifted by up to 4
    pixels each way, scaled by a contrast in [0.4, 1.2] and buried in unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal((classes, size, size))
    k = np.exp(-0.5 * (np.arange(-3, 4) / 1.2) ** 2)
    k /= k.sum()
    for axis in (1, 2):  # separable Gaussian blur, circular
        raw = sum(w * np.roll(raw, s, axis=axis) for s, w in zip(range(-3, 4), k, strict=True))
    templates = raw / raw.std(axis=(1, 2), keepdims=True)
    n = n_train + n_val
    y = rng.integers(0, classes, n)
    shifts = rng.integers(-4, 5, (n, 2))
    contrast = rng.uniform(0.4, 1.2, n)
    x = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        x[i, 0] = contrast[i] * np.roll(templates[y[i]], tuple(shifts[i]), axis=(0, 1))
    x += rng.standard_normal(x.shape).astype(np.float32)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def load_task(name: str):
    """(train_x, train_y, val_x, val_y, classes, input shape): tensors standardised on the training split."""
    from lrscope.train.data import load_data, make_bundle

    if name in ("digits-cnn", "digits-resnet20", "digits-mlp"):
        b = load_data("digits")
    elif name in ("synthetic-mlp", "synthetic-bnmlp"):
        b = load_data("synthetic:n=10000,dim=32,classes=10,sep=2.0")
    else:
        x, y, xv, yv = _shapes()
        b = make_bundle(x, y, xv, yv, name="shapes")
    return (b.train_x.float(), b.train_y.long(), b.val_x.float(), b.val_y.long(), int(b.num_classes),
            tuple(b.input_shape))


def make_model(name: str, shape, classes: int):
    import torch.nn as nn

    from lrscope.train.models import build_model

    if name == "digits-cnn":
        return build_model("cnn", shape, classes)
    if name in ("synthetic-mlp", "digits-mlp"):
        return build_model("mlp", shape, classes)
    if name == "digits-resnet20":
        return build_model("resnet20", shape, classes)
    if name == "synthetic-bnmlp":  # lrscope's mlp with BatchNorm after each hidden layer
        width = 128
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), width, bias=False), nn.BatchNorm1d(width),
                             nn.ReLU(), nn.Linear(width, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(),
                             nn.Linear(width, classes))
    if name == "shapes-cnn":  # the shapes net without BatchNorm
        return nn.Sequential(
            nn.Conv2d(shape[0], 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, classes))
    return nn.Sequential(
        nn.Conv2d(shape[0], 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


def make_optimizer(opt: str, params, lr: float):
    import torch

    if opt == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)


_DATA: dict = {}


def _data(name):
    if name not in _DATA:
        _DATA[name] = load_task(name)
    return _DATA[name]


def _fresh(task: str, opt: str, seed: int, lr: float):
    """The model initialised from ``seed`` (one torch thread: the workers share the cores) and its optimizer."""
    import torch

    torch.set_num_threads(1)
    _, _, _, _, classes, shape = _data(task)
    torch.manual_seed(seed)
    model = make_model(task, shape, classes)
    return model, make_optimizer(opt, model.parameters(), lr)


def _train(task: str, opt: str, sched: str, seed: int, lr: float):
    """One training of the recipe at peak rate ``lr``: (model, optimizer, whether every loss stayed finite)."""
    import torch
    import torch.nn.functional as F

    import lrscope

    x, y, _, _, _, _ = _data(task)
    spec = EVERY_TASK[task]
    model, optimizer = _fresh(task, opt, seed, lr)
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


def _evaluate(model, x, y) -> tuple[float, float]:
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
    _, _, xv, yv, classes, _ = _data(task)
    t0 = time.perf_counter()
    model, _, finite = _train(task, opt, sched, seed, lr)
    val_loss, acc = _evaluate(model, xv, yv)
    if not finite or not math.isfinite(val_loss):
        val_loss, acc = math.log(classes), 1.0 / classes
    return dict(key=key(*job), task=task, opt=opt, sched=sched, seed=seed, lr=lr, acc=100 * acc,
                loss=val_loss, finite=finite, seconds=round(time.perf_counter() - t0, 3))


def fit_gap(job: tuple) -> dict:
    """Training-set and validation loss after one training, then after one more epoch at a tenth of the final
    rate: the settle removes the SGD noise floor's share of the loss (the bounce at rate x gradient noise), so
    what stays between a rate and a lower one is the fit itself: progress, or overfitting."""
    import torch
    import torch.nn.functional as F

    task, opt, sched, seed, lr = job
    x, y, xv, yv, _, _ = _data(task)
    model, optimizer, finite = _train(task, opt, sched, seed, lr)
    row = dict(key=key(*job), job=job, finite=finite, train=_evaluate(model, x, y)[0],
               val=_evaluate(model, xv, yv)[0])
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
    return dict(row, settled_train=_evaluate(model, x, y)[0], settled_val=_evaluate(model, xv, yv)[0])


def sweep_one(job: tuple) -> dict:
    """The finder's raw curve for (task, optimizer, seed), recorded with a loose divergence stop."""
    task, opt, seed = job
    import torch
    import torch.nn as nn

    import lrscope

    x, y, _, _, _, _ = _data(task)
    model, optimizer = _fresh(task, opt, seed, 1e-7)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=EVERY_TASK[task].batch,
                                         shuffle=True, generator=torch.Generator().manual_seed(seed))
    r = lrscope.find_lr(model, optimizer, nn.CrossEntropyLoss(), loader, diverge=100.0, seed=seed, **SWEEP)
    return dict(key=f"{task}|{opt}|{seed}", lrs=[float(v) for v in r.lrs],
                losses=[float(v) if math.isfinite(v) else None for v in r.losses])


def key(task, opt, sched, seed, lr) -> str:
    return f"{task}|{opt}|{sched}|{seed}|{float(lr):.6g}"


def rounded(lr: float) -> float:
    """A rate as trained and cached: 6 significant digits."""
    return float(f"{float(lr):.6g}")


def rate_of(values: dict, task: str, opt: str, sched: str, seed: int, rule: str) -> float:
    """The rate ``rule`` gives for this recipe: its constant-rate answer, or its 1cycle max_lr."""
    const, peak = values[f"{task}|{opt}|{seed}"][rule]
    return rounded(const if sched == "constant" else peak)


# ---------------------------------------------------------------- the rules, each on its own tool's curve


def cut_at_divergence(losses: np.ndarray, beta: float, factor: float, debias: bool) -> int:
    """How many points a tool records before its divergence stop (the stopping point included): the first
    non-finite loss, or the first smoothed loss above ``factor`` x the best smoothed loss so far."""
    bad = np.flatnonzero(~np.isfinite(losses))
    end = int(bad[0]) if bad.size else len(losses)
    smooth = ema(losses[:end], beta, debias)
    over = np.flatnonzero(smooth > factor * np.minimum.accumulate(smooth))
    if over.size:
        return int(over[0]) + 1
    return end + 1 if bad.size else len(losses)


def ema(losses, beta, debias=True):
    """Debiased (fastai, Lightning: lrscope's own ``debiased_ema``) or, as torch-lr-finder smooths, started at
    the first loss without bias correction: s_0 = l_0, s_i = (1 - beta) l_i + beta s_{i-1}."""
    losses = np.asarray(losses, dtype=float)
    if debias:
        return debiased_ema(losses, beta)
    out = np.empty(len(losses))
    for i, value in enumerate(losses):
        out[i] = value if i == 0 else (1 - beta) * value + beta * out[i - 1]
    return out


def tlf_rule(lrs, raw):
    n = cut_at_divergence(raw, 0.95, 5.0, debias=False)
    lr, loss = lrs[:n], ema(raw[:n], 0.95, debias=False)
    lr, loss = lr[10:-5], loss[10:-5]
    return float(lr[int(np.argmin(np.gradient(loss)))])


def lightning_rule(lrs, raw):
    n = cut_at_divergence(raw, 0.98, 4.0, debias=True)
    lr, loss = lrs[:n][10:-1], ema(raw[:n], 0.98)[10:-1]
    keep = np.isfinite(loss)
    lr, loss = lr[keep], loss[keep]
    return float(lr[int(np.argmin(np.gradient(loss, lr)))])


def fastai_rules(lrs, raw):
    n = cut_at_divergence(raw, 0.98, 4.0, debias=True)
    curve = fastai_curve(lrs[:n], raw[:n])
    return {f"fastai {name}": float(fn(*curve)) for name, fn in FASTAI.items()}


def lrscope_result(lrs, raw, batchnorm, **options):
    n = cut_at_divergence(raw, 0.98, 4.0, debias=True)
    return suggest(lrs[:n], raw[:n], batchnorm=batchnorm, **options)


_BATCHNORM: dict = {}


def task_batchnorm(task: str) -> bool:
    """Whether the task's model has BatchNorm, by the test find_lr itself applies to the model it is given."""
    if task not in _BATCHNORM:
        from lrscope.probes.finder import uses_batchnorm

        _, _, _, _, classes, shape = _data(task)
        _BATCHNORM[task] = uses_batchnorm(make_model(task, shape, classes))
    return _BATCHNORM[task]


def rule_values(curve: dict, batchnorm: bool) -> dict:
    """Every rule's (constant-recipe rate, 1cycle max_lr) for one recorded curve of a model with or without
    BatchNorm (only lrscope's rule reads that)."""
    lrs = np.array(curve["lrs"], float)
    raw = np.array([np.nan if v is None else v for v in curve["losses"]], float)
    one = {"torch-lr-finder": tlf_rule(lrs, raw), "lightning": lightning_rule(lrs, raw), **fastai_rules(lrs, raw)}
    out = {name: (v, v) for name, v in one.items()}
    ours = lrscope_result(lrs, raw, batchnorm)
    out["lrscope"] = (ours["suggestions"][ours["rule"]], ours["range"][1])
    out["lrscope before"] = (ours["suggestions"]["combined"], ninety_percent_crossing(lrs, ours["fit"]))
    return out


def ninety_percent_crossing(lrs, fit):
    """The range's top before this bench: where lrscope's fit (``suggest``'s, NaN where unused) has done 90 %
    of its drop."""
    from lrscope.analysis import finder_curve as fc

    ok = np.isfinite(fit)
    x, fit = np.log10(lrs[: len(fit)][ok]), fit[ok]
    imin = int(np.argmin(fit))
    top = fc._starting_level(fit, imin)
    return float(10 ** fc._crossing(x, fit, imin, top - 0.9 * (top - fit[imin])))


GRID_REFERENCE = "grid, other seeds"  # not a rule: what a grid search picking on the other seeds loses
GRID_ONE_SEED = "grid, one seed"  # not a rule: the whole grid trained on one seed, as confirm trains its runs
CONFIRMED = "lrscope, confirmed"  # lrscope's rate confirmed by 5-7 trainings (lrscope.confirm_lr): the best run
REFINED = "confirmed, refined"  # ConfirmResult.refined: the loss parabola's vertex, at most 0.15 decade away
RULE_NAMES = ("lrscope", "lrscope before", "torch-lr-finder", "lightning", "fastai valley", "fastai steep",
              "fastai minimum", "fastai slide")


# ---------------------------------------------------------------- cache


def load_cache():
    sweeps = json.loads((CACHE / "sweeps.json").read_text()) if (CACHE / "sweeps.json").exists() else {}
    return sweeps, load_rows(TRAININGS)


def run_jobs(fn, jobs, workers, on_result):
    if not jobs:
        return
    if workers <= 1:
        for job in jobs:
            on_result(fn(job))
        return
    with ProcessPoolExecutor(workers) as pool:
        for row in pool.map(fn, jobs, chunksize=1):
            on_result(row)


def ensure_sweeps(sweeps, workers, cached):
    jobs = [(t, o, s) for t in EVERY_TASK for o in OPTIMIZERS for s in SEEDS if f"{t}|{o}|{s}" not in sweeps]
    if jobs and cached:
        raise SystemExit(f"--cached: {len(jobs)} sweeps are missing from {CACHE}")

    def keep(row):
        sweeps[row.pop("key")] = row
        (CACHE / "sweeps.json").write_text(json.dumps(sweeps))
        print(f"  sweep {len(sweeps)}", flush=True)

    run_jobs(sweep_one, jobs, workers, keep)


def open_rows(path: Path, mode: str):
    """A JSON-lines cache file, gzip-compressed where its name ends in .gz (appending adds a gzip member, which
    reading joins to the others)."""
    return gzip.open(path, mode + "t", encoding="utf-8") if path.suffix == ".gz" else open(path, mode)


def load_rows(path: Path) -> dict:
    """A JSON-lines cache as {row["key"]: row}; empty where the file is not there yet."""
    if not path.exists():
        return {}
    with open_rows(path, "r") as f:
        return {row["key"]: row for row in map(json.loads, f.read().splitlines()) if row}


def ensure_rows(fn, jobs, rows: dict, path: Path, workers, cached, what):
    """Run ``fn`` on every job whose key(*job) ``rows`` lacks, appending each result to ``path`` as it comes."""
    missing = sorted({j for j in jobs if key(*j) not in rows})
    if not missing:
        return
    if cached:
        raise SystemExit(f"--cached: {len(missing)} runs ({what}) are missing from {path}")
    print(f"training {len(missing)} runs ({what})", flush=True)
    t0 = time.perf_counter()
    done = [0]
    with open_rows(path, "a") as f:
        def keep(row):
            rows[row["key"]] = row
            f.write(json.dumps(row) + "\n")
            f.flush()
            done[0] += 1
            if done[0] % 20 == 0 or done[0] == len(missing):
                print(f"  {done[0]}/{len(missing)} ({time.perf_counter() - t0:.0f} s)", flush=True)

        run_jobs(fn, missing, workers, keep)


def ensure_trainings(jobs, trainings, workers, cached, what):
    ensure_rows(train_one, jobs, trainings, TRAININGS, workers, cached, what)


# ---------------------------------------------------------------- the grid


def grid_rates(centre, lo, hi):
    return [centre * SQRT3**k for k in range(lo, hi + 1)]


def seed_mean(trainings, task, opt, sched, lr, what):
    return float(np.mean([trainings[key(task, opt, sched, s, lr)][what] for s in SEEDS]))


def settle_grid(trainings, workers, cached):
    """Per (task, recipe): the grid's k range, widened until the best seed-mean accuracy is 2 points inside."""
    bounds = {}
    pending = {(t, o, s): [-4, 4] for t in EVERY_TASK for o, s in RECIPES}
    while pending:
        jobs = [(t, o, s, seed, lr) for (t, o, s), (lo, hi) in pending.items()
                for lr in grid_rates(EVERY_TASK[t].centre[o], lo, hi) for seed in SEEDS]
        ensure_trainings(jobs, trainings, workers, cached, "grid")
        nxt = {}
        for (t, o, s), (lo, hi) in pending.items():
            rates = grid_rates(EVERY_TASK[t].centre[o], lo, hi)
            acc = [seed_mean(trainings, t, o, s, lr, "acc") for lr in rates]
            best = int(np.argmax(acc))
            new = [lo - (best < 2), hi + (best > len(rates) - 3)]
            if new != [lo, hi] and hi - lo < 18:
                nxt[(t, o, s)] = new
            else:
                bounds[(t, o, s)] = (lo, hi)
        pending = nxt
    return bounds


def grid_pick(trainings, task, opt, sched, rates, seed) -> float:
    """The grid rate with the best mean accuracy over the *other* seeds: a grid search's choice, judged on a
    seed it did not see.  Its regret is the floor of what the bench can resolve with this many seeds."""
    others = [s for s in SEEDS if s != seed]
    acc = [np.mean([trainings[key(task, opt, sched, s, lr)]["acc"] for s in others]) for lr in rates]
    return rates[int(np.argmax(acc))]


def grid_pick_one_seed(trainings, task, opt, sched, rates, seed) -> float:
    """The grid rate with the lowest validation loss on the *previous* seed alone: a grid search with the data
    confirm has (one seed's trainings, chosen by validation loss) but about twice its runs, judged on the next
    seed as the confirmed rates are."""
    previous = SEEDS[SEEDS.index(seed) - 1]
    rows = [trainings[key(task, opt, sched, previous, lr)] for lr in rates]
    return rates[int(np.argmin([r["loss"] if r["finite"] else math.inf for r in rows]))]


def split_half_regret(trainings, task, opt, sched, rates) -> float:
    """Regret of a grid search on half the seeds: over every split of the seeds into two halves, the rate with
    the best mean accuracy on one half, scored by its mean accuracy on the other; the grid's best seed-mean
    minus the average over the splits (points).  What picking on five seeds' noisy means costs."""
    acc = np.array([[trainings[key(task, opt, sched, seed, lr)]["acc"] for lr in rates] for seed in SEEDS])
    scored = []
    for half in itertools.combinations(range(len(SEEDS)), len(SEEDS) // 2):
        rest = [i for i in range(len(SEEDS)) if i not in half]
        scored.append(acc[rest, int(np.argmax(acc[list(half)].mean(axis=0)))].mean())
    return float(acc.mean(axis=0).max() - np.mean(scored))


def optimum(rates, acc) -> float:
    """The vertex of the parabola through the best point and its neighbours (log lr): confirm's refine_rate
    on -accuracy, unclipped (a vertex through three points whose middle is best lies between them)."""
    from lrscope.analysis.finder_confirm import refine_rate

    return float(refine_rate(list(rates), [-float(a) for a in acc], limit=math.inf))


def loss_band(rates, loss, rel=0.01):
    """(low, high) rates whose seed-mean validation loss is within ``rel`` of the best (log-linear interp.)."""
    x = np.log10(rates)
    fine = np.linspace(x[0], x[-1], 2000)
    curve = np.interp(fine, x, loss)
    i = int(np.argmin(curve))
    limit = curve[i] * (1 + rel)
    lo = hi = i
    while lo > 0 and curve[lo - 1] <= limit:
        lo -= 1
    while hi < len(fine) - 1 and curve[hi + 1] <= limit:
        hi += 1
    return 10 ** fine[lo], 10 ** fine[i], 10 ** fine[hi]


# ---------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--cached", action="store_true", help="print from the cache; train nothing")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--variants", action="store_true",
                        help="also train and score the lrscope rule variants that chose the rule")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    sweeps, trainings = load_cache()
    ensure_sweeps(sweeps, args.jobs, args.cached)
    bounds = settle_grid(trainings, args.jobs, args.cached)

    values = {k: rule_values(v, task_batchnorm(k.split("|")[0])) for k, v in sweeps.items()}
    jobs = []
    for t in EVERY_TASK:
        for o, s in RECIPES:
            for seed in SEEDS:
                for rule in RULE_NAMES:
                    jobs.append((t, o, s, seed, rate_of(values, t, o, s, seed, rule)))
    ensure_trainings(jobs, trainings, args.jobs, args.cached, "suggestions")
    candidates = confirm_candidates(values, trainings, args.jobs, args.cached)
    confirmed = confirmed_rates(candidates, trainings, args.jobs, args.cached)

    summary = report(trainings, bounds, values, confirmed, TASKS)
    print(f"\n\n# Held-out tasks ({', '.join(HELD_OUT)}): added after the confirm rules were chosen")
    summary["held_out"] = report(trainings, bounds, values, confirmed, HELD_OUT)
    if args.variants:
        variants(sweeps, trainings, bounds, args.jobs, args.cached)
        confirm_choices(candidates, trainings, bounds, args.jobs, args.cached)
        second_stage_choices(candidates, trainings, bounds, args.jobs, args.cached)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


def confirm_candidates(values, trainings, workers, cached) -> dict:
    """Per (task, optimizer, schedule, seed): the rates :func:`lrscope.confirm_lr` trains around lrscope's
    rate on that seed (CONFIRM_OFFSETS, then up to CONFIRM_EXTEND more half-decades past an end while the best
    sits there), each trained, in rounds of every case's next rate as confirm_lr would ask for it."""
    from lrscope.analysis.finder_confirm import CONFIRM_EXTEND, beyond_end, confirm_rates

    candidates = {(t, o, s, seed): [rounded(r) for r in confirm_rates(rate_of(values, t, o, s, seed, "lrscope"))]
                  for t in EVERY_TASK for o, s in RECIPES for seed in SEEDS}
    ensure_trainings([(*case, lr) for case, rates in candidates.items() for lr in rates], trainings, workers,
                     cached, "confirm candidates")
    for _ in range(CONFIRM_EXTEND):
        more = {case: beyond_end(rates, candidate_losses(trainings, case, rates))
                for case, rates in candidates.items()}
        more = {case: rounded(lr) for case, lr in more.items() if lr is not None}
        ensure_trainings([(*case, lr) for case, lr in more.items()], trainings, workers, cached,
                         "confirm candidates past an end")
        for case, lr in more.items():
            candidates[case] = sorted([*candidates[case], lr])
    for label, tasks in (("tasks", TASKS), ("held-out tasks", HELD_OUT)):
        sizes = [len(rates) for case, rates in candidates.items() if case[0] in tasks]
        print(f"\nconfirm runs per (case, seed), {label}: mean {np.mean(sizes):.2f}; "
              + ", ".join(f"{n} runs: {c}" for n, c in enumerate(np.bincount(sizes)) if c)
              + f"; {sum(sizes)} in all over {len(sizes)}")
    return candidates


def candidate_losses(trainings, case, rates) -> list[float]:
    """The validation loss of each candidate's training (nan where it diverged), as confirm_lr sees them."""
    return [trainings[key(*case, lr)]["loss"] if trainings[key(*case, lr)]["finite"] else math.nan
            for lr in rates]


def on_next_seed(chosen: dict, trainings, workers, cached, what) -> dict:
    """{name: {case: rate}} chosen on each seed's runs -> the same, each seed now holding the rate its
    *previous* seed chose, trained on it: judging a choice on a seed that did not make it keeps it honest (the
    same runs would otherwise both select and score it)."""
    scored = {name: {(t, o, s, seed): picks[(t, o, s, SEEDS[i - 1])]
                     for (t, o, s, seed) in picks for i in [SEEDS.index(seed)]}
              for name, picks in chosen.items()}
    ensure_trainings([(*case, lr) for picks in scored.values() for case, lr in picks.items()], trainings,
                     workers, cached, what)
    return scored


def confirmed_rates(candidates, trainings, workers, cached) -> dict:
    """{CONFIRMED: rates, REFINED: rates} per (task, optimizer, schedule, seed), judged on the next seed: the
    best run's rate (the lowest validation loss) and ConfirmResult.refined (the loss parabola's vertex, at
    most 0.15 decade from it)."""
    from lrscope.analysis.finder_confirm import choose_confirmed, refine_rate

    chosen = {CONFIRMED: {}, REFINED: {}}
    for case, rates in candidates.items():
        losses = candidate_losses(trainings, case, rates)
        chosen[CONFIRMED][case] = rates[choose_confirmed(losses)]
        chosen[REFINED][case] = rounded(refine_rate(rates, losses))
    return on_next_seed(chosen, trainings, workers, cached, "confirmed rates, each trained on the next seed")


def rule_rate(rule, trainings, values, confirmed, rates, t, o, s, seed) -> float:
    """The rate a column of the regret table trains at on ``seed``."""
    if rule == GRID_REFERENCE:
        return grid_pick(trainings, t, o, s, rates, seed)
    if rule == GRID_ONE_SEED:
        return grid_pick_one_seed(trainings, t, o, s, rates, seed)
    if rule in confirmed:
        return confirmed[rule][(t, o, s, seed)]
    return rate_of(values, t, o, s, seed, rule)


def score(trainings, bounds, t, o, s, pick) -> dict:
    """One rule on one (task, recipe): ``pick(seed)`` is the rate it trains at on that seed.  Regret against
    the grid's best seed-mean accuracy (points) and its standard error (the paired per-seed differences
    against the grid-best rate's trainings), loss regret (%), and which seeds lie within 2x of the optimum."""
    lo, hi = bounds[(t, o, s)]
    rates = grid_rates(EVERY_TASK[t].centre[o], lo, hi)
    acc = np.array([seed_mean(trainings, t, o, s, lr, "acc") for lr in rates])
    best_loss = min(seed_mean(trainings, t, o, s, lr, "loss") for lr in rates)
    opt_rate, best_rate = optimum(rates, acc), rates[int(np.argmax(acc))]
    at_best = np.array([trainings[key(t, o, s, seed, best_rate)]["acc"] for seed in SEEDS])
    lrs = [pick(seed) for seed in SEEDS]
    accs = np.array([trainings[key(t, o, s, seed, lr)]["acc"] for seed, lr in zip(SEEDS, lrs, strict=True)])
    losses = [trainings[key(t, o, s, seed, lr)]["loss"] for seed, lr in zip(SEEDS, lrs, strict=True)]
    within = [abs(math.log10(lr / opt_rate)) <= math.log10(2) for lr in lrs]
    return dict(regret=float(acc.max()) - float(accs.mean()),
                se=float(np.std(at_best - accs, ddof=1) / math.sqrt(len(SEEDS))),
                loss_regret=100 * (float(np.mean(losses)) / best_loss - 1), within=int(sum(within)),
                each_within=within)


def report(trainings, bounds, values, confirmed, tasks):
    columns = (*RULE_NAMES, CONFIRMED, REFINED, GRID_ONE_SEED, GRID_REFERENCE)
    rows, cases, bands = {}, {r: [] for r in columns}, []
    edges = {s: [] for s in SCHEDULES}  # log10(1 %-band edge / lrscope's rate), per seed
    size = sum(len(grid_rates(EVERY_TASK[t].centre[o], *bounds[(t, o, s)])) for t in tasks for o, s in RECIPES)
    print(f"\n## Grids (seed-mean validation accuracy, %): {size} rates, {size * len(SEEDS)} trainings\n")
    for t in tasks:
        for o, s in RECIPES:
            lo, hi = bounds[(t, o, s)]
            rates = grid_rates(EVERY_TASK[t].centre[o], lo, hi)
            acc = np.array([seed_mean(trainings, t, o, s, lr, "acc") for lr in rates])
            loss = np.array([seed_mean(trainings, t, o, s, lr, "loss") for lr in rates])
            best_acc, best_loss = float(acc.max()), float(loss.min())
            opt_rate = optimum(rates, acc)
            blo, bmid, bhi = loss_band(rates, loss)
            bands.append(dict(task=t, opt=o, sched=s, low=blo, at=bmid, high=bhi, acc_optimum=opt_rate))
            print(f"{t} {o} {s}: " + " ".join(f"{lr:.3g}:{a:.1f}" for lr, a in zip(rates, acc, strict=True)))
            print(f"    best acc {best_acc:.2f} at ~{opt_rate:.3g}; best loss {best_loss:.4f}; 1% loss band "
                  f"{blo:.3g} .. {bhi:.3g} (-{np.log10(bmid / blo):.2f} / +{np.log10(bhi / bmid):.2f} decades "
                  f"around {bmid:.3g})")
            for seed in SEEDS:
                rate = rate_of(values, t, o, s, seed, "lrscope")
                edges[s].append((math.log10(blo / rate), math.log10(bhi / rate)))
            for rule in columns:
                pick = functools.partial(rule_rate, rule, trainings, values, confirmed, rates, t, o, s)
                row = score(trainings, bounds, t, o, s, pick)
                cases[rule].extend(row.pop("each_within"))
                rows[(t, o, s, rule)] = row
    print("\n## Regret: grid-best seed-mean accuracy minus the accuracy at the rule's suggestion (points), and its"
          " standard error over the seeds (paired with the grid-best rate's trainings); in brackets, how many of"
          f" {len(SEEDS)} seeds lie within 2x of the grid optimum\n")
    header = "| task | optimizer | schedule | " + " | ".join(columns) + " |"
    print(header)
    print("|" + "---|" * (3 + len(columns)))
    for t in tasks:
        for o, s in RECIPES:
            cells = [f"{v['regret']:.2f} ± {v['se']:.2f} ({v['within']})"
                     for v in (rows[(t, o, s, r)] for r in columns)]
            print(f"| {t} | {o} | {s} | " + " | ".join(cells) + " |")
    mean = {r: float(np.mean([v["regret"] for (_, _, _, rr), v in rows.items() if rr == r])) for r in columns}
    worst = {r: float(np.max([v["regret"] for (_, _, _, rr), v in rows.items() if rr == r])) for r in columns}
    lmean = {r: float(np.mean([v["loss_regret"] for (_, _, _, rr), v in rows.items() if rr == r]))
             for r in columns}
    share = {r: float(np.mean(cases[r])) for r in columns}
    print("| **mean regret (points)** | | | " + " | ".join(f"**{mean[r]:.2f}**" for r in columns) + " |")
    for field, value in (("schedule", "constant"), ("schedule", "1cycle"), ("optimizer", "sgd"),
                         ("optimizer", "adamw")):
        index = 2 if field == "schedule" else 1
        part = {r: np.mean([v["regret"] for k, v in rows.items() if k[3] == r and k[index] == value])
                for r in columns}
        print(f"| mean regret, {value} only | | | " + " | ".join(f"{part[r]:.2f}" for r in columns) + " |")
    print("| worst regret (points) | | | " + " | ".join(f"{worst[r]:.2f}" for r in columns) + " |")
    print("| mean loss regret (%) | | | " + " | ".join(f"{lmean[r]:.1f}" for r in columns) + " |")
    print("| within 2x of optimum | | | " + " | ".join(f"{share[r]:.0%}" for r in columns) + " |")
    print("| mean standard error (points) | | | " + " | ".join(
        f"{np.mean([v['se'] for k, v in rows.items() if k[3] == r]):.2f}" for r in columns) + " |")
    widths_lo = [np.log10(b["at"] / b["low"]) for b in bands]
    widths_hi = [np.log10(b["high"] / b["at"]) for b in bands]
    print(f"\n1% loss band around the loss optimum, decades: below median {np.median(widths_lo):.2f} "
          f"(min {min(widths_lo):.2f}), above median {np.median(widths_hi):.2f} (min {min(widths_hi):.2f})")
    from lrscope.analysis.finder_curve import BAND, PEAK_BAND

    for sched, now in (("constant", BAND), ("1cycle", PEAK_BAND)):
        lo = np.array([e[0] for e in edges[sched]])
        hi = np.array([e[1] for e in edges[sched]])
        inside = np.mean((lo >= now[0]) & (hi <= now[1]))
        for q in range(10, -1, -1):  # the narrowest (P_q, P_100-q) pair that holds 80 % of the bands whole
            pair = (np.percentile(lo, q), np.percentile(hi, 100 - q))
            if np.mean((lo >= pair[0]) & (hi <= pair[1])) >= 0.8:
                break
        print(f"1% band around lrscope's {'suggestion' if sched == 'constant' else '1cycle peak'}, log10(edge/rate): "
              f"lower edge 10th percentile {np.percentile(lo, 10):+.2f}, upper edge 90th percentile "
              f"{np.percentile(hi, 90):+.2f}; the finder's band {now[0]:+.2f} .. {now[1]:+.2f} holds the whole "
              f"1% band in {inside:.0%} of {len(lo)} cases")
        print(f"  edges holding 80 % of the cases whole: P{q} {pair[0]:+.2f}, P{100 - q} {pair[1]:+.2f}")

    for rule in ("lrscope", CONFIRMED, REFINED, GRID_ONE_SEED, GRID_REFERENCE):
        over = [f"{t} {o} {s}" for t in tasks for o, s in RECIPES
                if rows[(t, o, s, rule)]["regret"] - 2 * rows[(t, o, s, rule)]["se"] > 0.5]
        print(f"\n{rule}: regret above 0.5 by more than two standard errors in {len(over)} of "
              f"{len(tasks) * len(RECIPES)} cases" + (": " + "; ".join(over) if over else ""))
    for ours in ("lrscope", CONFIRMED, REFINED):
        smallest = mean[ours] <= min(mean[r] for r in RULE_NAMES) + 1e-12
        ok = worst[ours] <= 0.5 and smallest and share[ours] >= 0.8
        print(f"\ngoal for {ours} (worst regret <= 0.5, smallest mean, within 2x >= 80 %): "
              f"{'met' if ok else 'NOT met'}")
    return dict(rows={"|".join(k): v for k, v in rows.items()}, mean=mean, worst=worst, loss_mean=lmean,
                within=share, bands=bands)


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


def grid_of(trainings, bounds, t, o, s):
    """(rates, per-seed accuracy array seeds x rates) of one recipe's settled grid."""
    lo, hi = bounds[(t, o, s)]
    rates = grid_rates(EVERY_TASK[t].centre[o], lo, hi)
    acc = np.array([[trainings[key(t, o, s, seed, lr)]["acc"] for lr in rates] for seed in SEEDS])
    return rates, acc


def model_kind(task: str) -> str:
    return "BatchNorm" if task_batchnorm(task) else "no BatchNorm"


def noise_scale_at_init(task: str, seed: int, batches: int = 40) -> float:
    """B_simple / B at initialisation (McCandlish et al. 2018, "An empirical model of large-batch training"):
    tr(Sigma) / |G|^2 over the batch size, from ``batches`` mini-batch gradients at the initial weights, with
    |G|^2 debiased by tr(Sigma) / (B * batches)."""
    import torch
    import torch.nn.functional as F

    x, y, _, _, classes, shape = _data(task)
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


TRIAL_OFFSETS = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0)  # decades from each seed's turn


def trial_one(job: tuple) -> dict:
    """A short trial: one epoch of the recipe at peak rate ``lr`` (1cycle compressed into the epoch), its
    validation loss and accuracy; then a fifth of an epoch more at a tenth of the final rate, and again."""
    import torch
    import torch.nn.functional as F

    import lrscope

    task, opt, sched, seed, lr = job
    x, y, xv, yv, classes, _ = _data(task)
    batch = EVERY_TASK[task].batch
    model, optimizer = _fresh(task, opt, seed, lr)
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
        val, acc = _evaluate(model, xv, yv)
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

# ---------------------------------------------------------------- how confirm's choice among its runs was made


def least_squares_vertex(rates, losses, half=2) -> float:
    """Tried, not adopted: the vertex of a least-squares parabola through the best run and up to ``half``
    finite runs each side (log rate), clipped to them; the best run's rate if it does not curve upwards."""
    x, y = np.log10(rates), np.array(losses, float)
    i = int(np.nanargmin(y))
    part = slice(max(0, i - half), i + half + 1)
    xs, ys = x[part][np.isfinite(y[part])], y[part][np.isfinite(y[part])]
    if len(xs) < 3:
        return float(rates[i])
    a, b, _ = np.polyfit(xs, ys, 2)
    return float(10 ** np.clip(-b / (2 * a), xs[0], xs[-1])) if a > 0 else float(rates[i])


def confirm_choices(candidates, trainings, bounds, workers, cached):
    """The ways of choosing among the confirm runs that were screened on TASKS before ConfirmResult.refined
    (the vertex clipped to 0.15 decade) was adopted, each judged on the next seed; then, over every task, the
    case where the refinement gains most over the best run, seed by seed."""
    from lrscope.analysis.finder_confirm import choose_confirmed, refine_rate

    def accs(case, rates):
        return [trainings[key(*case, lr)]["acc"] if trainings[key(*case, lr)]["finite"] else math.nan
                for lr in rates]

    ways = {
        "best run": lambda r, loss, acc: r[choose_confirmed(loss)],
        "vertex, unclipped": lambda r, loss, acc: refine_rate(r, loss, limit=math.inf),
        "vertex, clip 0.10": lambda r, loss, acc: refine_rate(r, loss, limit=0.10),
        "vertex, clip 0.15 (adopted)": lambda r, loss, acc: refine_rate(r, loss, limit=0.15),
        "vertex, clip 0.20": lambda r, loss, acc: refine_rate(r, loss, limit=0.20),
        "log-loss vertex": lambda r, loss, acc: refine_rate(r, list(np.log(loss)), limit=math.inf),
        "accuracy vertex": lambda r, loss, acc: refine_rate(r, [-a for a in acc], limit=math.inf),
        "least squares, 5 runs": lambda r, loss, acc: least_squares_vertex(r, loss),
    }
    both = ("best run", "vertex, clip 0.15 (adopted)")  # the only two also on the held-out tasks

    chosen = {name: {case: rounded(way(rates, candidate_losses(trainings, case, rates), accs(case, rates)))
                     for case, rates in candidates.items() if case[0] in TASKS or name in both}
              for name, way in ways.items()}
    scored = on_next_seed(chosen, trainings, workers, cached, "confirm choices screened")
    rows = {(t, o, s, name): score(trainings, bounds, t, o, s, lambda seed, p=picks, c=(t, o, s): p[(*c, seed)])
            for t in EVERY_TASK for o, s in RECIPES for name, picks in scored.items() if t in TASKS or name in both}
    print("\n## Choosing among the confirm runs: regret (points) of each way, judged on the next seed "
          "(screened on these tasks; the held-out ones came after)\n")
    print("| task | optimizer | schedule | " + " | ".join(ways) + " |")
    print("|" + "---|" * (3 + len(ways)))
    for t in TASKS:
        for o, s in RECIPES:
            print(f"| {t} | {o} | {s} | " + " | ".join(f"{rows[(t, o, s, n)]['regret']:.2f}" for n in ways) + " |")
    for label, field, fmt in (("mean regret", "regret", "{:.2f}"), ("within 2x", "within", "{:.0%}")):
        cells = [np.mean([rows[(t, o, s, n)][field] for t in TASKS for o, s in RECIPES])
                 / (len(SEEDS) if field == "within" else 1) for n in ways]
        print(f"| {label} | | | " + " | ".join(fmt.format(c) for c in cells) + " |")
    gain = {(t, o, s): rows[(t, o, s, both[0])]["regret"] - rows[(t, o, s, both[1])]["regret"]
            for t in EVERY_TASK for o, s in RECIPES}
    t, o, s = max(gain, key=gain.get)
    print(f"\nwhere the refinement gains most over the best run: {t} {o} {s} ({gain[(t, o, s)]:.2f} points); "
          "per seed, the rate the previous seed's runs chose and the accuracy it trains to:")
    for seed in SEEDS:
        best, refined = (scored[n][(t, o, s, seed)] for n in both)
        print(f"- seed {seed}: best run {best:.3g} -> {trainings[key(t, o, s, seed, best)]['acc']:.1f} %; "
              f"refined {refined:.3g} -> {trainings[key(t, o, s, seed, refined)]['acc']:.1f} %")


FINE_STEP = 0.25  # decades: the second stage's runs either side of the best run


def second_stage_choices(candidates, trainings, bounds, workers, cached):
    """Tried, not adopted: ways that spend more runs on the choosing seed after confirm's 5-7, each judged on
    the next seed against the adopted refined rate and a one-seed grid search.

    - refined, checked: train the refined rate too and keep it only if its validation loss beats the best
      run's (one more run wherever the two differ);
    - fine, lowest: train the best run's rate x 10^(+-FINE_STEP) and keep the lowest of the three;
    - fine, vertex clip 0.10: refine_rate over all the runs, fine ones included, clipped to 0.10 decade.
    """
    from lrscope.analysis.finder_confirm import choose_confirmed, refine_rate

    cases = {case: rates for case, rates in candidates.items() if case[0] in TASKS}

    def loss(case, lr):
        row = trainings[key(*case, lr)]
        return row["loss"] if row["finite"] else math.nan

    def lowest(case, rates):
        return rates[choose_confirmed([loss(case, lr) for lr in rates])]

    best = {case: lowest(case, rates) for case, rates in cases.items()}
    refined = {case: rounded(refine_rate(rates, candidate_losses(trainings, case, rates)))
               for case, rates in cases.items()}
    fine = {case: [rounded(b * 10 ** -FINE_STEP), b, rounded(b * 10 ** FINE_STEP)] for case, b in best.items()}
    ensure_trainings([(*case, lr) for case in cases for lr in {refined[case], *fine[case]}], trainings, workers,
                     cached, "second-stage runs on the choosing seed")

    def with_fine(case):
        rates = sorted({*cases[case], *fine[case]})
        return rates, [loss(case, lr) for lr in rates]

    ways = {
        "confirmed, refined (adopted)": lambda case: refined[case],
        "refined, checked": lambda case: lowest(case, sorted({best[case], refined[case]})),
        "fine, lowest": lambda case: lowest(case, fine[case]),
        "fine, vertex clip 0.10": lambda case: refine_rate(*with_fine(case), limit=0.10),
    }
    chosen = {name: {case: rounded(way(case)) for case in cases} for name, way in ways.items()}
    scored = on_next_seed(chosen, trainings, workers, cached, "second-stage choices on the next seed")
    rows = {}
    for t in TASKS:
        for o, s in RECIPES:
            for name, picks in scored.items():
                rows[(t, o, s, name)] = score(trainings, bounds, t, o, s,
                                              lambda seed, p=picks, c=(t, o, s): p[(*c, seed)])
            rates = grid_rates(EVERY_TASK[t].centre[o], *bounds[(t, o, s)])
            rows[(t, o, s, GRID_ONE_SEED)] = score(
                trainings, bounds, t, o, s, functools.partial(grid_pick_one_seed, trainings, t, o, s, rates))
    names = (*ways, GRID_ONE_SEED)
    halves = {(t, o, s): split_half_regret(trainings, t, o, s, grid_rates(EVERY_TASK[t].centre[o], *bounds[(t, o, s)]))
              for t in TASKS for o, s in RECIPES}
    runs = {"confirmed, refined (adopted)": np.mean([len(r) for r in cases.values()]),
            "refined, checked": np.mean([len(r) + (refined[c] not in r) for c, r in cases.items()]),
            "fine, lowest": np.mean([len({*r, *fine[c]}) for c, r in cases.items()]),
            GRID_ONE_SEED: np.mean([len(grid_rates(EVERY_TASK[t].centre[o], *bounds[(t, o, s)]))
                                    for t, o, s, _ in cases])}
    runs["fine, vertex clip 0.10"] = runs["fine, lowest"]
    print("\n## Training more on the choosing seed (tried, not adopted): regret (points), judged on the next seed\n")
    print("| task | optimizer | schedule | " + " | ".join(names) + " | grid, half the seeds |")
    print("|" + "---|" * (4 + len(names)))
    for t in TASKS:
        for o, s in RECIPES:
            print(f"| {t} | {o} | {s} | " + " | ".join(
                f"{rows[(t, o, s, n)]['regret']:.2f} ± {rows[(t, o, s, n)]['se']:.2f}" for n in names)
                + f" | {halves[(t, o, s)]:.2f} |")
    every = [(t, o, s) for t in TASKS for o, s in RECIPES]
    summary = {
        "mean regret": lambda n: f"{np.mean([rows[(*c, n)]['regret'] for c in every]):.2f}",
        "worst regret": lambda n: f"{max(rows[(*c, n)]['regret'] for c in every):.2f}",
        "cases above 0.5": lambda n: str(sum(rows[(*c, n)]["regret"] > 0.5 for c in every)),
        "within 2x": lambda n: f"{np.mean([rows[(*c, n)]['within'] for c in every]) / len(SEEDS):.0%}",
        "runs per choice": lambda n: f"{runs[n]:.1f}",
    }
    half_cells = {"mean regret": f"{np.mean(list(halves.values())):.2f}", "worst regret": f"{max(halves.values()):.2f}",
                  "cases above 0.5": str(sum(v > 0.5 for v in halves.values())), "within 2x": "",
                  "runs per choice": f"{runs[GRID_ONE_SEED] * len(SEEDS) // 2:.0f}"}
    for label, cell in summary.items():
        print(f"| {label} | | | " + " | ".join(cell(n) for n in names) + f" | {half_cells[label]} |")
    print("\ngrid, half the seeds: the grid's best mean accuracy over five seeds, scored on the other five, averaged"
          f" over all {math.comb(len(SEEDS), len(SEEDS) // 2)} splits (no standard error: the splits share seeds)")


if __name__ == "__main__":
    main()
