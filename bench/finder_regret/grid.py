"""The grid of peak rates sqrt(3) apart: widening it until the best is inside, and the grid searches the rules
are measured against (on the other seeds, on one seed, on half the seeds)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from .cache import ensure_trainings
from .tasks import EVERY_TASK, RECIPES, SEEDS, key

SQRT3 = math.sqrt(3.0)


def grid_rates(centre, lo, hi):
    return [centre * SQRT3**k for k in range(lo, hi + 1)]


def case_rates(bounds, task, opt, sched):
    """The rates of one (task, recipe)'s settled grid: ``bounds[(task, opt, sched)]`` is its (lo, hi) k range."""
    return grid_rates(EVERY_TASK[task].centre[opt], *bounds[(task, opt, sched)])


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


def choosing_seeds(seed: int, count: int) -> list[int]:
    """The seeds whose runs choose a rate for ``seed``'s successor: ``seed`` and the ``count - 1`` before it
    (cyclically), never the next one, which scores the choice."""
    i = SEEDS.index(seed)
    return [SEEDS[i - k] for k in range(count)]


def mean_losses(trainings, task, opt, sched, rates, seeds) -> list[float]:
    """Per rate, the mean validation loss over ``seeds`` (nan where any of them diverged)."""
    out = []
    for lr in rates:
        rows = [trainings[key(task, opt, sched, seed, lr)] for seed in seeds]
        out.append(float(np.mean([r["loss"] for r in rows])) if all(r["finite"] for r in rows) else math.nan)
    return out


def grid_pick_on_seeds(trainings, task, opt, sched, rates, seed, count=1) -> float:
    """The grid rate with the lowest mean validation loss on the ``count`` seeds up to the *previous* one,
    judged on ``seed`` as the confirmed rates are; never a rate where one of them diverged."""
    losses = mean_losses(trainings, task, opt, sched, rates, choosing_seeds(SEEDS[SEEDS.index(seed) - 1], count))
    return rates[int(np.argmin([v if math.isfinite(v) else math.inf for v in losses]))]


def grid_pick_one_seed(trainings, task, opt, sched, rates, seed) -> float:
    """The grid rate with the lowest validation loss on the *previous* seed alone: a grid search with the data
    confirm has (one seed's trainings, chosen by validation loss) but about twice its runs, judged on the next
    seed as the confirmed rates are."""
    return grid_pick_on_seeds(trainings, task, opt, sched, rates, seed, 1)


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


def grid_of(trainings, bounds, t, o, s):
    """(rates, per-seed accuracy array seeds x rates) of one recipe's settled grid."""
    rates = case_rates(bounds, t, o, s)
    acc = np.array([[trainings[key(t, o, s, seed, lr)]["acc"] for lr in rates] for seed in SEEDS])
    return rates, acc
