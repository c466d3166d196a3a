"""Overfitting, stage by stage: validation getting worse (or no better) while training keeps improving.

Every stage is looked at, the first one (before any decay) and smooth-schedule runs included.  On the
validation metric's badness g (log loss, log error) within the stage:

- best level: the lowest running median (window 1, 3 or 5 points as the stage has < 8, < 30 or more points);
  the best point quoted is the lowest value of the stage before the end window;
- end level: the median of the last q points (q = a third of the points after the best, 1 to 20);
- noise: sigma = 1.4826 MAD of first differences / sqrt(2); se = 1.25 sigma sqrt(1/window + 1/q); the best
  level is the minimum of many windows, so it sits about bias = 1.25 sigma / sqrt(window) sqrt(2 ln m) below
  the typical level of a flat curve (m windows before the end).

The stage *got worse* when end - best >= log 1.05 and either end - best - bias >= 2.5 se, or, with at most 6
points after the best (at least 3 are needed), each is worse than the one before (HF trainer_state: five
evaluations).  It *stalled* when it never got back below its best level (the median of the at least
max(8, n/3) points after the best is not lower) while the training metric of the same kind improved by >= 10 %
and the gap between the two (in their own units) widened by >= 20 % of the validation level.  Either is
overfitting when the training metric improved between the best row and the end (by >= 2 %).  With no training
metric, a validation curve that got worse is reported as a sign of overfitting that the log cannot confirm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .explanation import Finding
from .smooth import Series, noise_sigma
from .wording import Context, metric_word, pair_words, value_word

WORSE = math.log(1.05)
TRAIN_BETTER = 0.02
STALL_TRAIN = math.log(1.10)
STALL_GAP = 0.20


@dataclass
class Overfit:
    stage: int
    val: str  # role of the validation metric
    train: str | None  # role of the training metric that kept improving (None: no training metric)
    how: str  # "worse" | "stalled"
    best_row: int
    best_value: float
    end_row: int
    end_value: float
    train_pair: tuple[float, float] | None
    every: bool = False  # worse at every evaluation after the best
    other: tuple[str, float, float] | None = None  # the other validation metric, when it still improved


def overfitting(ctx: Context) -> dict[int, Overfit]:
    """Overfitting verdicts by stage index (computed once per explanation)."""
    if "overfitting" in ctx.memo:
        return ctx.memo["overfitting"]
    out: dict[int, Overfit] = {}
    v = ctx.series.get("val_loss") or ctx.series.get("val_acc")
    if v is not None:
        t = ctx.series.get("train_loss") or ctx.series.get("train_acc")
        same = ctx.series.get("train_loss" if v.role == "val_loss" else "train_acc")
        for k, st in enumerate(ctx.stages):
            if not st.judged and st.points:
                continue  # too short to judge: no verdict of any kind
            o = _stage(v, t, same, st.first_row, st.last_row, k)
            if o is not None:
                o.other = _other(ctx, v, o)
                out[k] = o
    ctx.memo["overfitting"] = out
    return out


def _window(s: Series, first: int, last: int) -> tuple[int, int]:
    return int(np.searchsorted(s.rows, first)), int(np.searchsorted(s.rows, last, side="right"))


def _level(s: Series, row: int, last: int, before: bool) -> float | None:
    """The training metric's level near ``row`` (3 points around it) or at the stage end (last 3 points)."""
    if before:
        k = int(np.searchsorted(s.rows, row))
        seg = s.y[max(0, k - 1) : k + 2]
    else:
        k1 = int(np.searchsorted(s.rows, last, side="right"))
        seg = s.y[max(0, k1 - 3) : k1]
    return float(np.median(seg)) if len(seg) else None


def _stage(v: Series, t: Series | None, same: Series | None, first: int, last: int, k: int) -> Overfit | None:
    k0, k1 = _window(v, first, last)
    gv, yv, rv = v.g[k0:k1], v.y[k0:k1], v.rows[k0:k1]
    n = len(gv)
    if n < 3:
        return None
    w = 1 if n < 8 else (3 if n < 30 else 5)
    level = np.median(np.lib.stride_tricks.sliding_window_view(gv, w), axis=1)
    bi = int(np.argmin(level))
    bp = bi + int(np.argmin(gv[bi : bi + w]))
    after = n - 1 - bp
    if after < 3:
        return None
    q = max(1, min(20, after // 3))
    end = float(np.median(gv[-q:]))
    best = float(level[bi])
    worse = end - best
    sigma = noise_sigma(gv)
    se = 1.25 * sigma * math.sqrt(1.0 / w + 1.0 / q)
    bias = 1.25 * sigma / math.sqrt(w) * math.sqrt(2.0 * math.log(max(2, n - q - w + 1)))
    every = after <= 6 and bool(np.all(np.diff(gv[bp:]) > 0))
    how = None
    if worse >= WORSE and (worse - bias >= 2.5 * se or every):
        how = "worse"
    end_row = int(rv[-1])
    end_value = float(np.median(yv[-q:]))
    # the point quoted (and whose checkpoint to keep) is the lowest before the end window: a robust level found
    # the turn, but a reader checks the best value against the log
    shown = int(np.argmin(gv[: n - q])) if n - q > 0 else bp
    best_row, best_value = int(rv[shown]), float(yv[shown])
    if t is None:
        if how is None:
            return None
        return Overfit(k, v.role, None, how, best_row, best_value, end_row, end_value, None, every)
    t_best, t_end = _level(t, best_row, last, True), _level(t, best_row, last, False)
    if t_best is None or t_end is None or not _improved(t, t_best, t_end, TRAIN_BETTER):
        return None
    if how is None and same is not None and after >= max(8, n // 3) and float(np.median(gv[bp + 1 :])) >= best:
        s_best, s_end = _level(same, best_row, last, True), _level(same, best_row, last, False)
        if s_best is not None and s_end is not None and _improved(same, s_best, s_end, STALL_TRAIN):
            gap_best, gap_end = abs(best_value - s_best), abs(end_value - s_end)
            if gap_end - gap_best >= STALL_GAP * abs(end_value):
                how = "stalled"
    if how is None:
        return None
    return Overfit(k, v.role, t.role, how, best_row, best_value, end_row, end_value, (t_best, t_end), every)


def _improved(s: Series, a: float, b: float, margin: float) -> bool:
    """True when going from level a to b lowered the metric's badness (log loss, log error) by ``margin``."""
    return _bad(s, a) - _bad(s, b) >= margin


def _bad(s: Series, v: float) -> float:
    if not s.lower_is_better:
        v = (100.0 if s.percent else 1.0) - v
    return math.log(max(v, 1e-12))


def _other(ctx: Context, v: Series, o: Overfit) -> tuple[str, float, float] | None:
    """The other validation metric over the same rows, when it still improved (eval WER while eval loss rose)."""
    other = ctx.series.get("val_acc" if v.role == "val_loss" else "val_loss")
    if other is None:
        return None
    k0 = int(np.searchsorted(other.rows, o.best_row))
    k1 = int(np.searchsorted(other.rows, o.end_row, side="right"))
    if k1 - k0 < 2:
        return None
    a, b = float(other.y[k0]), float(other.y[k1 - 1])
    if (b < a) == other.lower_is_better and a != b:
        return other.role, a, b
    return None


def overfit_findings(ctx: Context) -> list[Finding]:
    out = []
    found = overfitting(ctx)
    several = len(ctx.stages) > 1
    for k, o in sorted(found.items()):
        st = ctx.stages[k]
        v = ctx.series[o.val]
        vw = metric_word(ctx, o.val)
        lead = f"In stage {k + 1} ({ctx.span(st.first_row, st.last_row)}), the" if several else "The"
        if o.how == "worse":
            ratio = ""
            if o.val.endswith("loss") and o.best_value > 0 and o.end_value / o.best_value >= 1.5:
                ratio = f", {o.end_value / o.best_value:.1f}x its best"
            every = ", worse at every evaluation" if o.every else ""
            what = (
                f"{lead} {vw} was best at {ctx.where(o.best_row)} ({value_word(v, o.best_value)}) and then got "
                f"worse ({pair_words(v, o.best_value, o.end_value)} by {ctx.where(o.end_row)}{ratio}{every})"
            )
        else:
            what = (
                f"{lead} {vw} stopped improving after {ctx.where(o.best_row)} (best {value_word(v, o.best_value)}; "
                f"{value_word(v, o.end_value)} at the end)"
            )
        if o.train is None:
            text = f"{what}: a sign of overfitting at this rate, though the log has no training metric to confirm it."
        else:
            t = ctx.series[o.train]
            tw = metric_word(ctx, o.train)
            text = f"{what} while the {tw} kept improving ({pair_words(t, *o.train_pair)}): the model is overfitting"
            text += " at this rate." if ctx.shape.kind in ("step", "constant") and ctx.log.has("lr") else "."
        if o.other is not None:
            ov = ctx.series[o.other[0]]
            text += (
                f" (The {metric_word(ctx, o.other[0])} still improved over those rows: "
                f"{pair_words(ov, o.other[1], o.other[2])}.)"
            )
        text += " " + _advice(ctx, k, o)
        out.append(Finding("overfitting", o.best_row, text))
    return out


def _advice(ctx: Context, k: int, o: Overfit) -> str:
    st = ctx.stages[k]
    nxt = next((e for e in ctx.events if e.row == st.last_row + 1), None)
    keep = f"Keep the checkpoint from {ctx.where(o.best_row)}"
    if nxt is None:
        return (
            f"{keep}; more {ctx.unit}s at this setting would only overfit further: stop earlier, or add "
            "regularisation (weight decay, augmentation, dropout)."
        )
    if not nxt.decay:
        return f"{keep}, decay or stop sooner, or add regularisation."
    text = f"{keep}: a longer stage would not have helped, and the decay could have come sooner."
    span = ctx.xv(st.last_row) - ctx.xv(st.first_row)
    v = ctx.series[o.val]
    k0, k1 = _window(v, st.first_row, st.last_row)
    gap = ctx.xv(nxt.row) - ctx.xv(o.best_row)
    spacing = float(np.median(np.diff(ctx.x[v.rows[k0:k1]]))) if k1 - k0 > 1 else 1.0
    if o.how == "worse" and gap <= max(3 * spacing, 0.5 * span):
        text += (
            f" If a plateau rule (ReduceLROnPlateau) watching the {metric_word(ctx, o.val)} cut the rate at "
            f"{ctx.where(nxt.row)}, this rise is the likely reason it fired."
        )
    return text
