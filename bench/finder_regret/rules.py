"""Every tool's suggestion rule, each read on the curve its own tool would have recorded (cut at its own
divergence stop), and the names of the regret table's columns."""

from __future__ import annotations

import numpy as np

from bench_finder import FASTAI, fastai_curve  # fastai's rules, as bench_finder reimplements them
from lrscope.analysis.finder_curve import debiased_ema, suggest

from .tasks import rounded


def rate_of(values: dict, task: str, opt: str, sched: str, seed: int, rule: str) -> float:
    """The rate ``rule`` gives for this recipe: its constant-rate answer, or its 1cycle max_lr."""
    const, peak = values[f"{task}|{opt}|{seed}"][rule]
    return rounded(const if sched == "constant" else peak)


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
