"""The findings of an explanation in plain words, from small producers ``f(ctx) -> list[Finding]`` run in
order (:data:`PRODUCERS`); other analyses add theirs with :func:`register_producer`.

Rules every producer keeps: a metric that got worse is said to have risen (or fallen, for an accuracy), never to
have "barely moved"; sizes are the drops' before/after levels; rates are per x unit (:mod:`.wording`); a decay
is credited with a drop only when the fall clearly exceeds the pace before it (:mod:`.pace`,
:mod:`.drop_findings`); a stage that overfits, or a run whose loss is pathological (:mod:`.pathology`), gets no
advice to train longer.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .cooldown import cooldown_findings, schedule_rates
from .drop_findings import drop_findings, unexplained_findings
from .events import filled_lr
from .explanation import Finding
from .forecast_findings import forecast_findings
from .overfit import overfit_findings, overfitting
from .pathology import blocks_advice, pathology_findings
from .smooth import Series
from .stages import PLATEAU_FALL, Stage
from .wording import (
    Context,
    fmt,
    metric_word,
    pct,
    per_words,
    rate_scale,
    units_words,
    value_word,
)

_NOT_A_RATE = {"decay", "drop", "factor", "gamma", "min", "max", "warmup", "scheduler", "policy", "mult", "step"}


def lr_columns(ctx: Context) -> list[str]:
    """Columns that hold a learning rate (per parameter group: x/lr0..2, lr-SGD/pg1, ...), by name."""
    from ..logs.names import normalise

    out = []
    for name, v in ctx.log.columns.items():
        words = normalise(name)
        joined = " ".join(words)
        is_rate = any(re.fullmatch(r"lr\d*", w) for w in words) or "learning rate" in joined
        if is_rate and not _NOT_A_RATE & set(words) and np.isfinite(v).any():
            out.append(name)
    used = ctx.log.roles.get("lr")
    if used in ctx.log.columns and np.nanmax(ctx.log.columns[used]) != np.nanmin(ctx.log.columns[used]):
        # a rate that changes: a constant column beside it is an option (an initial learningRate), not a group
        out = [c for c in out if c == used or np.nanmax(ctx.log.columns[c]) != np.nanmin(ctx.log.columns[c])]
    return out


def _group_note(ctx: Context) -> str:
    """Which of several learning-rate columns (parameter groups) the words use."""
    used = ctx.log.roles.get("lr")
    cols = lr_columns(ctx)
    if used is None or len(cols) < 2 or used not in cols:
        return ""
    return f" The log has {len(cols)} learning-rate columns ({', '.join(cols)}); these words use {used!r}."


def schedule_finding(ctx: Context) -> list[Finding]:
    sh, evs = ctx.shape, ctx.events
    if ctx.log.has("lr"):
        group = _group_note(ctx)
        if sh.kind == "constant":
            return [
                Finding(
                    "schedule",
                    None,
                    f"The learning rate stayed at {fmt(sh.lr_first)} for all {ctx.log.rows} rows.{group}",
                )
            ]
        if sh.kind == "smooth":
            if sh.warmup_rows:
                # a rise over a quarter of the run or more is half a cycle (triangular, 1cycle), not a warm-up
                rise = "warm-up" if sh.warmup_rows < 0.25 * ctx.log.rows else "rising"
                shape = (
                    f"{rise} from {fmt(sh.lr_first)} to {fmt(sh.lr_max)} until {ctx.where(sh.warmup_rows)}, "
                    f"then down to {fmt(sh.lr_last)}"
                )
            else:
                shape = f"from {fmt(sh.lr_first)} to {fmt(sh.lr_last)}"
            if getattr(sh, "restarted_warmups", None):
                shape += f", apart from {len(sh.restarted_warmups)} fall(s) it climbed back from, said below"
            return [
                Finding(
                    "smooth_schedule",
                    None,
                    f"The learning rate follows a smooth schedule ({shape}, changing a little on "
                    f"{sh.changes} rows): there is no step change, so no drop is blamed on one.{group}",
                )
            ]
        parts = []
        for e in evs:
            verb = "cut" if e.decay else "raised"
            f = e.factor
            size = ""
            if f:
                size = f" {fmt(f)}x" if e.decay else f" {fmt(1 / f)}x"
            parts.append(f"{verb}{size} at {ctx.where(e.row)} ({fmt(e.lr_before)} -> {fmt(e.lr_after)})")
        lead = f"The learning rate started at {fmt(sh.lr_first)} and was " + "; ".join(parts) + "."
        if sh.warmup_rows:
            lead += f" It warmed up until {ctx.where(sh.warmup_rows)}."
        if sh.kind == "mixed":
            lead += " Between these steps it also changes smoothly."
        return [Finding("schedule", None, lead + group)]
    if ctx.spec:
        smooth = not evs and schedule_rates(ctx) is not None
        what = "a smooth schedule with no step" if smooth else f"{len(evs)} change(s) in this run"
        return [
            Finding(
                "schedule",
                None,
                f"The log has no learning-rate column; the schedule {ctx.spec!r} puts {what}.",
            )
        ]
    if not evs:
        return []
    where_ = ", ".join(f"{ctx.where(e.row)} (confidence {e.confidence:.2f})" for e in evs)
    return [
        Finding(
            "schedule",
            None,
            f"The log has no learning-rate column. From sharp falls that several curves make together, the "
            f"rate was most likely cut at {where_}.",
        )
    ]


# ------------------------------------------------------------------------------------------------ drops


def tail_words(ctx: Context, st: Stage) -> str:
    """The evidence of a stage verdict: "the training loss changed -0.84% per epoch over its last 14 epochs
    (+-0.50%)"; in the metric's own units for a loss that goes negative."""
    word = metric_word(ctx, st.metric)
    scale = rate_scale(ctx.unit, st.spacing, st.tail_x)
    per = per_words(ctx.unit, scale)
    over = f"over its last {units_words(ctx.unit, round(st.tail_x))}"
    s = ctx.series.get(st.metric)
    if s is not None and (s.y < 0).any() and st.tail_raw is not None:
        raw = st.tail_raw * scale
        return f"the {word} changed {'+' if raw >= 0 else '-'}{fmt(abs(raw))} {per} {over}"
    if s is not None and s.role.endswith("acc") and st.tail_raw is not None and st.end_value is not None:
        # accuracies and error rates move in points; the fit is on log error, so its noise scales with the error
        f = 1.0 if s.percent else 100.0
        err = st.end_value if s.lower_is_better else (100.0 if s.percent else 1.0) - st.end_value
        points = st.tail_raw * scale * f
        noise = st.tail_se * scale * abs(err) * f
        return (
            f"the {word} changed {'+' if points >= 0 else '-'}{fmt(abs(points), 2)} points {per} {over} "
            f"(+-{fmt(noise, 2)})"
        )
    slope = math.log1p(st.tail_change) * scale
    noise = st.tail_se * scale
    return f"the {word} changed {pct(math.expm1(slope), signed=True)} {per} {over} (+-{pct(noise)})"


def _flatten_words(ctx: Context, st: Stage, needed: bool) -> str:
    if st.flatten is None:
        return ""
    mid, lo, hi = st.flatten
    rnd = (lambda v: f"{v:.0f}") if ctx.unit == "epoch" or mid >= 10 else (lambda v: f"{v:.2g}")
    verb = "needs" if needed else "would have needed"
    more = f"{rnd(mid)} more {ctx.unit}" + ("" if rnd(mid) == "1" else "s")
    return f" By an exponential fit of its second half it {verb} about {more} ({rnd(lo)}-{rnd(hi)}) to flatten."


def _stage_rates(ctx: Context, st: Stage) -> tuple[str, bool, float | None]:
    """(", LR 0.1" or ", LR 2e-05 -> 0.000999", whether the logged rate rose through the stage (a warm-up), its
    highest value)."""
    lr = ctx.log.role("lr")
    if lr is None:
        return (f", LR {fmt(st.lr)}" if st.lr is not None else ""), False, None
    if "filled_lr" not in ctx.memo:
        ctx.memo["filled_lr"] = filled_lr(lr)
    seg = ctx.memo["filled_lr"][st.first_row : st.last_row + 1]
    seg = seg[np.isfinite(seg)]
    if len(seg) == 0:
        return "", False, None
    lo, hi = float(seg.min()), float(seg.max())
    if hi <= lo * 1.01:
        return f", LR {fmt(float(np.median(seg)))}", False, hi
    warmup = float(seg[-1]) >= 1.3 * float(seg[0]) and int(np.argmax(seg)) >= len(seg) - 2
    return f", LR {fmt(float(seg[0]))} -> {fmt(float(seg[-1]))}", warmup, hi


def _slow_or_flat(st: Stage) -> str:
    """Why a plateaued stage counts as flat: within its noise, or falling too slowly to matter."""
    slope = math.log1p(st.tail_change)
    if abs(slope) > 2.5 * st.tail_se:
        return f"too slow to gain {pct(PLATEAU_FALL)} more over another quarter of the stage"
    return "within its noise"


def stage_findings(ctx: Context) -> list[Finding]:
    out = []
    if ctx.shape.kind == "smooth" or ctx.primary is None or schedule_rates(ctx) is not None:
        return out
    blocked = blocks_advice(ctx)
    overfit = overfitting(ctx)
    for k, st in enumerate(ctx.stages):
        if st.metric is None:
            continue
        rate, warmup, peak = _stage_rates(ctx, st)
        label = f"Stage {k + 1} ({ctx.span(st.first_row, st.last_row)}{rate})"
        if not st.judged:
            out.append(
                Finding(
                    "stage",
                    st.first_row,
                    f"{label} is too short to judge ({st.points} point{'s' if st.points != 1 else ''} of the "
                    f"{metric_word(ctx, st.metric)}).",
                )
            )
            continue
        out.append(Finding("stage", st.first_row, _stage_text(ctx, k, st, label, warmup, peak, blocked, overfit)))
    return out


def _stage_text(ctx: Context, k: int, st: Stage, label: str, warmup: bool, peak, blocked, overfit) -> str:
    evidence = tail_words(ctx, st)
    last = k == len(ctx.stages) - 1
    lr_known = ctx.has_lr_info() or bool(ctx.events)
    at_rate = " at this rate" if lr_known else ""
    o = overfit.get(k)
    if blocked:
        reason = {
            "nan": "the loss diverged (NaN)",
            "inf": "the loss diverged (infinite)",
            "exploding": "the loss exploded",
            "rising": "the loss rose throughout the run",
            "negative": "the loss goes negative",
        }.get(blocked[0].kind, "the loss is not a normal training curve")
        return f"{label}: {evidence}. No advice on its length: {reason} (see above)."
    if o is not None:
        vw = metric_word(ctx, o.val)
        worse = "got worse" if o.how == "worse" else "stopped improving"
        tail = (
            f"more {ctx.unit}s{at_rate} would only overfit further" if last else "a longer stage would not have helped"
        )
        return (
            f"{label}: {evidence}, but the {vw} {worse} after {ctx.where(o.best_row)} (see the overfitting finding): "
            f"{tail}."
        )
    if warmup and not last:
        state = "was still improving" if not st.plateaued else "had flattened"
        return (
            f"{label} is the warm-up: the rate rose to {fmt(peak)} through it, and the {metric_word(ctx, st.metric)} "
            f"{state} when the rate was cut at its end ({evidence}). A warm-up is not meant to plateau, so its "
            "length is not judged."
        )
    if st.rising:
        tail = f"more {ctx.unit}s{at_rate} would not help" if last else "a longer stage would not have helped"
        return f"{label} stopped improving{at_rate}: {evidence}, rising beyond its noise; {tail}."
    if st.plateaued:
        why = _slow_or_flat(st)
        if not last:
            return f"{label} had plateaued before the next change: {evidence}, {why}: it was long enough."
        nxt = (
            "a further decay (or stopping) is the next move"
            if lr_known
            else "the log does not say what the rate did, so the next move is yours to judge"
        )
        return f"{label} has plateaued: {evidence}, {why}. More {ctx.unit}s{at_rate} would gain little; {nxt}."
    if not last:
        return (
            f"{label} was still improving when the rate changed: {evidence}. The decay came early (before the "
            "stage flattened), so a smaller gain than a plateaued stage would give is to be expected."
            + _flatten_words(ctx, st, False)
        )
    if lr_known:
        return f"{label} is still improving: {evidence}. Training longer{at_rate} would help." + _flatten_words(
            ctx, st, True
        )
    return (
        f"{label} is still improving at the end: {evidence}. The log has no learning-rate column (and no "
        "--schedule was given), so whether training longer would help depends on what the rate did; at a constant "
        "rate it would."
    )


def no_decay_finding(ctx: Context) -> list[Finding]:
    if any(e.decay for e in ctx.events):
        return []
    if ctx.shape.kind == "smooth" or schedule_rates(ctx) is not None:
        return []
    st = ctx.stages[-1] if ctx.stages else None
    trend = ""
    quiet = blocks_advice(ctx) or (ctx.stages and (len(ctx.stages) - 1) in overfitting(ctx))
    if st is not None and st.judged and st.metric and not quiet and not st.rising and ctx.log.has("lr"):
        trend = (
            " The stage is still improving, so it is not finished; when it flattens, a tenfold decay typically "
            "gives a sharp drop."
            if not st.plateaued
            else f" The {metric_word(ctx, st.metric)} has flattened: a decay now (say tenfold) would typically "
            "give a sharp drop."
        )
    if ctx.log.has("lr"):
        text = (
            f"No learning-rate decay has happened yet: the rate stayed at {fmt(ctx.shape.lr_first)} for all "
            f"{ctx.log.rows} rows, so there is no drop to explain.{trend}"
        )
    elif ctx.spec:
        text = f"The schedule {ctx.spec!r} has no decay in this run, so there is no drop to explain."
    else:
        text = (
            "No learning-rate decay was found: the log has no learning-rate column and the curves show no "
            "sharp fall that several metrics make together. A smooth schedule (cosine, linear decay) would not "
            "show as a fall; pass --schedule SPEC to say what the rate did."
        )
    return [Finding("no_decay", None, text)]


def smooth_findings(ctx: Context) -> list[Finding]:
    """The curve of a smooth-schedule run as a whole; or, with no rate known at all, the curve described as it is
    (whether its fall sped up at the end), with no claim about the schedule."""
    if ctx.primary is None:
        return []
    smooth = ctx.shape.kind == "smooth" or schedule_rates(ctx) is not None
    unknown = not ctx.has_lr_info() and not ctx.events
    if not (smooth or unknown):
        return []
    s = ctx.series[ctx.primary]
    n = len(s)
    if n < 8:
        return []
    word = metric_word(ctx, ctx.primary)
    q = max(3, n // 50)
    text = (
        f"The {word} went from {value_word(s, float(np.median(s.y[:q])))} to "
        f"{value_word(s, float(np.median(s.y[-q:])))} without a step."
    )
    if unknown:
        faster = _speedup(ctx, s)
        if faster is None and not smooth:
            return []
        if faster:
            text += " " + faster
    st = ctx.stages[-1] if ctx.stages else None
    if st is not None and st.judged and not blocks_advice(ctx) and not unknown:  # (the stage finding says it)
        if st.rising:
            text += f" It got worse at the end: {tail_words(ctx, st)}."
        elif st.plateaued:
            text += f" It has flattened at the end: {tail_words(ctx, st)}."
        else:
            text += f" It is still improving at the end: {tail_words(ctx, st)}."
    return [Finding("smooth_curve", None, text)]


def _speedup(ctx: Context, s: Series) -> str | None:
    """With no rate known: whether the fall sped up over the last part of the run (a smooth decay of the rate
    does that; so can other things), from slopes on x over the last fifth and the fifth before it."""
    xs = ctx.x[s.rows]
    if len(xs) < 20 or not np.all(np.isfinite(xs)):
        return None
    x0, x1 = float(xs[0]), float(xs[-1])
    fifth = (x1 - x0) / 5
    late = np.flatnonzero(xs >= x1 - fifth)
    before = np.flatnonzero((xs >= x1 - 2 * fifth) & (xs < x1 - fifth))
    if len(late) < 3 or len(before) < 3:
        return None
    from .smooth import linear_slope

    sa, sea = linear_slope(xs[late], s.g[late])
    sb, seb = linear_slope(xs[before], s.g[before])
    if not (sa < 0 and sa < 1.5 * min(sb, 0) and (sb - sa) > 3 * math.hypot(sea, seb)):
        return None
    spacing = float(np.median(np.diff(xs)))
    scale = rate_scale(ctx.unit, spacing, fifth)
    per = per_words(ctx.unit, scale)
    ra, rb = math.expm1(sa * scale), math.expm1(sb * scale)
    return (
        f"Its fall sped up over the last fifth of the run (from {ctx.where(int(s.rows[late[0]]))}: "
        f"{pct(ra, signed=True)} {per}, against {pct(rb, signed=True)} over the fifth before), as a smooth decay "
        "of the rate would make it; the log has no learning-rate column to say so (pass --schedule SPEC)."
    )


def noise_findings(ctx: Context) -> list[Finding]:
    """The noise floor (:mod:`lrscope.analysis.noise_floor`): at each decay the drop that
    (lr1 - lr2) tr(Sigma) / (4 B (1 - momentum)) predicts next to the observed one, and for the last stage
    what a tenfold decay now would gain.  Needs the ``noise_trace`` column (``--noise-every``) and the run's
    batch size (config.json); without them there is nothing to say.  The numbers are in the sentences.
    """
    if "noise_trace" not in ctx.log.columns:
        return []
    from .noise_floor import noise_findings as floor_findings  # NumPy only, like this module

    decays = [e for e in ctx.events if e.decay and e.lr_before is not None]
    try:
        found = floor_findings(ctx.log, decays or None)
    except (TypeError, ValueError):  # a hand-written config.json with a non-numeric batch size or momentum
        return []
    return [Finding(f["kind"], f.get("row"), f["text"]) for f in found]


PRODUCERS = [
    schedule_finding,
    pathology_findings,
    drop_findings,
    unexplained_findings,
    stage_findings,
    smooth_findings,
    cooldown_findings,
    no_decay_finding,
    overfit_findings,
    noise_findings,
    forecast_findings,
]


def register_producer(producer) -> None:
    """Add a findings producer ``f(ctx: Context) -> list[Finding]`` (run after the built-in ones)."""
    if producer not in PRODUCERS:
        PRODUCERS.append(producer)
