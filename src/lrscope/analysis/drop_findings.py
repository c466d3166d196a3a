"""The findings about the decays: the drop after each cut (credited only beyond the pace before it), a cut too
late in the log to judge, and sharp falls no rate change explains.  Producers of :mod:`.findings`."""

from __future__ import annotations

import math

import numpy as np

from .cooldown import schedule_rates
from .events import filled_lr
from .explanation import Finding
from .pace import Pace, pace_at
from .smooth import Series
from .wording import Context, change_words, fmt, metric_word, pair_words, pct, per_words, rate_scale


def _observed(s: Series, before: float, after: float) -> float:
    """The fall from before to after in log units of badness (positive: got better)."""
    top = 100.0 if s.percent else 1.0
    a, b = (before, after) if s.lower_is_better else (top - before, top - after)
    if a <= 0 or b <= 0:
        return 0.0
    return math.log(a / b)


def _pace_of(ctx: Context, d, i: int | None) -> Pace | None:
    s = ctx.series.get(d.metric)
    if s is None:
        return None
    rows = [e.row for e in ctx.events]
    if i is None:
        at = d.row
        prev = max((r for r in rows if r <= d.row), default=None)
        nxt = min((r for r in rows if r > d.row), default=None)
    else:
        # split at the change itself: a lagged fall (epoch means) must not leak into the trend before it
        at = rows[i]
        prev = rows[i - 1] if i > 0 else None
        nxt = rows[i + 1] if i + 1 < len(rows) else None
    return pace_at(s, ctx.x, at, _observed(s, d.before, d.after), prev, nxt)


def _pace_words(ctx: Context, s: Series, p: Pace) -> str:
    """ "-1.5% per 20 iterations before the cut, -1.7% after it"."""
    xs = ctx.x[s.rows]
    spacing = float(np.median(np.diff(xs))) if len(xs) > 1 else 1.0
    span = float(xs[-1] - xs[0]) if len(xs) > 1 else 1.0
    scale = rate_scale(ctx.unit, spacing, span / 4)
    per = per_words(ctx.unit, scale)

    def scaled(r: float) -> str:
        return pct(math.expm1(math.log1p(max(r, -0.999999)) * scale), signed=True)

    lead = "its error rate changing " if s.role.endswith("acc") else ""  # the pace is of log error
    return f"{lead}{scaled(p.before)} {per} before the cut, {scaled(p.after)} after it"


def _kept_pace(p: Pace | None) -> bool:
    """The change continues a fall that was already under way, at no more than about twice its pace."""
    return (
        p is not None
        and p.trend
        and p.before < 0
        and not math.isnan(p.after)
        and math.log1p(p.after) >= 2.0 * math.log1p(p.before)
    )


def _credited(d, p: Pace | None) -> bool:
    """A drop the decay is credited with: the metric improved by more than 2 % and beyond its pace before."""
    return d.relative > 0.02 and (p is None or p.distinct)


LATE_POINTS = 1  # at most this many evaluations at the new rate: the change's effect cannot be judged yet


def _too_late(ctx: Context, e, ds: dict) -> Finding | None:
    """A decay in the last row(s) of the log: listed, its effect "too late to judge" (one point after a cut
    cannot tell a drop from the curve's noise and trend)."""
    s = ctx.series.get(ctx.primary)
    if s is None:
        return None
    left = int(np.count_nonzero(s.rows >= e.row))
    if left > LATE_POINTS:
        return None
    if e.lr_before is not None and e.lr_after is not None:
        change = f"the LR went from {fmt(e.lr_before)} to {fmt(e.lr_after)} at {ctx.where(e.row)}"
    else:
        change = f"the rate changed at {ctx.where(e.row)}"
    d = ds.get(ctx.primary)
    seen = f" ({pair_words(s, d.before, d.after)})" if d is not None else ""
    followed = "no point of the" if left == 0 else "only one point of the"
    return Finding(
        "drop",
        e.row,
        f"After {change}, {followed} {metric_word(ctx, ctx.primary)} follows{seen}: too late to judge what "
        "the decay brings.",
    )


def drop_findings(ctx: Context) -> list[Finding]:
    out = []
    for i, e in enumerate(ctx.events):
        if not e.decay:
            continue
        ds = {d.metric: d for d in ctx.drops if d.event == i and d.metric in ctx.series}
        late = _too_late(ctx, e, ds)
        if late is not None:
            out.append(late)
            continue
        if not ds:
            continue
        after = f"in the {ctx.unit} after" if ctx.unit == "epoch" else "after"
        if e.source == "inferred":
            cause = f"at {ctx.where(e.row)}, where the rate was most likely cut"
            change = f"the rate was most likely cut at {ctx.where(e.row)}"
        elif e.lr_before is not None:
            cause = f"{after} the LR went from {fmt(e.lr_before)} to {fmt(e.lr_after)} at {ctx.where(e.row)}"
            change = f"the LR went from {fmt(e.lr_before)} to {fmt(e.lr_after)} at {ctx.where(e.row)}"
        else:
            cause = f"{after} the rate change at {ctx.where(e.row)}"
            change = f"the rate changed at {ctx.where(e.row)}"
        paces = {role: _pace_of(ctx, d, i) for role, d in ds.items()}

        credit = {role: _credited(ds[role], paces[role]) for role in ds}

        order = sorted(ds, key=lambda r: (r != ctx.primary, list(ctx.series).index(r)))
        # the lead metric: the primary one when the decay moved it; else one whose drop beat a fitted trend
        main = next(
            (r for r in order if credit[r] and (r == order[0] or (paces[r] is not None and paces[r].trend))),
            order[0],
        )
        d = ds[main]
        s = ctx.series[main]
        mw = metric_word(ctx, main)
        p = paces[main]
        if credit[main]:
            head = f"The {mw} {change_words(s, d.before, d.after)} {cause}"
        elif d.relative > 0.02 and _kept_pace(p):
            verb = "fell" if s.lower_is_better else "rose"
            head = (
                f"After {change}, the {mw} {verb} no faster than the pace it already had "
                f"({_pace_words(ctx, s, p)}; {pair_words(s, d.before, d.after)}): the change continues that "
                "pace, so no distinct drop can be credited to the decay"
            )
        elif d.relative > 0.02:
            head = (
                f"After {change}, the {mw} {change_words(s, d.before, d.after)}, within what its trend and noise "
                "before the cut allow: no distinct drop can be credited to the decay"
            )
        else:
            gain = "drop" if s.lower_is_better else "gain"  # an accuracy improves by rising
            head = f"After {change}, the {mw} showed no distinct {gain} (it {change_words(s, d.before, d.after)})"
        others = []
        for role in order:
            if role == main:
                continue
            od, so = ds[role], ctx.series[role]
            words = f"the {metric_word(ctx, role)} {change_words(so, od.before, od.after)}"
            if od.relative > 0.02 and not credit[role] and _kept_pace(paces[role]):
                words += " (at the pace it already had)"
            others.append(words)
        text = head + ("; " + ", ".join(others) if others else "") + "."
        if credit[main] and d.relative > 0.1:
            settles = "loss" if main.endswith("loss") else "error"  # an accuracy-only log has no loss to name
            text += (
                f" A lower rate shrinks the noise of each update, so the {settles} can settle below the floor "
                "the higher rate held it at."
            )
        out.append(Finding("drop", d.row, text))
    return out


def unexplained_findings(ctx: Context) -> list[Finding]:
    out = []
    for d in ctx.drops:
        if d.event is not None or d.metric not in ctx.series:
            continue
        s = ctx.series[d.metric]
        if abs(d.relative) < 0.05:
            continue
        p = _pace_of(ctx, d, None)
        if p is not None and not p.distinct:
            continue  # the curve falling at the pace it already had (early training) is not a sharp fall
        verb = "fell" if s.lower_is_better else "rose"
        if ctx.shape.kind == "smooth" or schedule_rates(ctx) is not None:
            why = "The schedule is smooth, so this is the curve itself (not a step change)"
        elif _rate_moves_near(ctx, d.row):
            why = "The rate changes a little on the rows around it, with no step there, so this is the curve itself"
        else:
            why = "No learning-rate change is near it"
        out.append(
            Finding(
                "unexplained_drop",
                d.row,
                f"The {metric_word(ctx, d.metric)} {verb} sharply at {ctx.where(d.row)} "
                f"({pair_words(s, d.before, d.after)}). {why}.",
            )
        )
    return out


def _rate_moves_near(ctx: Context, row: int) -> bool:
    """The logged rate changes somewhere within two rows of ``row`` (a smooth stretch of a mixed schedule)."""
    lr = ctx.log.role("lr")
    if lr is None:
        return False
    seg = filled_lr(lr)[max(0, row - 3) : row + 3]
    seg = seg[np.isfinite(seg)]
    return len(seg) > 1 and float(np.ptp(seg)) > 1e-6 * float(np.max(np.abs(seg)))


# ------------------------------------------------------------------------------------------------ stages
