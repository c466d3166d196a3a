"""What a smooth decay of the rate did (cosine, linear, warm-up-stable-decay cooldowns, 1cycle): there is no step
to blame a drop on, so the finding says how the metrics moved while the rate decayed, with the log's numbers.

The rate per row is the logged one (a smooth schedule, ScheduleShape.kind "smooth") or, when the log has none,
the ``--schedule`` spec evaluated at the rows (t = x, or x - 1 for 1-based epochs) when the spec has no step.
The *decay* starts at the last row at the peak rate (the end of a warm-up, or of a stable phase) and is a decay
only when the rate ends below half its peak.  A *stable phase* is the rows at the peak before that, when they
are at least STABLE_SHARE of the rows (the flat top of a cosine is not one).

For each metric (validation loss first, then the training loss, else the primary metric):

- levels at the start of the decay and at the end of the run: over a window of a sixth of the decay's x length,
  the value a least-squares line through the window's points takes at its end (a median of one or two points);
- with a stable phase of at least 3 points: least-squares slopes of the raw metric on x over the decay and over
  the stable phase's last stretch (half the decay's length, at most the whole phase), quoted per the metric's
  logging interval ("per 125 steps"): "faster than before it" when the decay's fall is at least 1.2x the
  stable phase's, "slower" under 1/1.2, else "about as fast";
- without one: the share of the run's fall (log scale) that came while the rate decayed, and after it fell
  below half its peak.

A metric that rose during the decay is said to have risen: the decay is not credited with it.
"""

from __future__ import annotations

import math

import numpy as np

from .events import filled_lr
from .explanation import Finding
from .smooth import Series, linear_slope
from .wording import Context, fmt, metric_word, pair_words, per_words, rate_scale, value_word

FASTER = 1.2
STABLE_SHARE = 0.1  # a stable phase at the peak rate spans at least this share of the rows


def schedule_rates(ctx: Context) -> tuple[np.ndarray, str] | None:
    """The rate on every row and where it came from ("logged" | "schedule"), for a smooth schedule only."""
    lr = ctx.log.role("lr")
    if lr is not None:
        if ctx.shape.kind != "smooth":
            return None
        return filled_lr(lr), "logged"
    if not ctx.spec or ctx.events:
        return None
    from ..schedules import parse_schedule

    try:
        schedule = parse_schedule(ctx.spec)
    except Exception:  # noqa: BLE001 - the pipeline validated the spec already; a failure here means no words
        return None
    x = np.asarray(ctx.x, dtype=np.float64)
    xf = x[np.isfinite(x)]
    if len(xf) == 0:
        return None
    offset = 1.0 if ctx.unit == "epoch" and float(xf.min()) >= 1.0 and np.allclose(xf, np.round(xf)) else 0.0
    rates = np.asarray(schedule(np.maximum(x - offset, 0.0)), dtype=np.float64)
    if rates.shape != x.shape or np.ptp(rates[np.isfinite(rates)]) == 0:
        return None
    return rates, "schedule"


def decay_phase(rates: np.ndarray) -> tuple[int, int] | None:
    """(first row at the peak, last row at the peak) when the rate then decays below half its peak."""
    ok = np.isfinite(rates)
    if ok.sum() < 3:
        return None
    peak = float(np.nanmax(rates))
    if peak <= 0:
        return None
    at_peak = np.flatnonzero(ok & (rates >= peak * (1 - 1e-6)))
    first, last = int(np.nanargmax(rates)), int(at_peak[-1])
    tail = rates[ok][-1]
    if last >= len(rates) - 2 or tail > 0.5 * peak:
        return None
    if last - first < max(3, STABLE_SHARE * len(rates)):
        last = first  # the top of a cosine or 1cycle, not a stable phase
    return first, last


def cooldown_findings(ctx: Context) -> list[Finding]:
    got = schedule_rates(ctx)
    if got is None:
        return []
    rates, source = got
    phase = decay_phase(rates)
    if phase is None:
        return []
    peak_first, start = phase
    x = np.asarray(ctx.x, dtype=np.float64)
    roles = [r for r in ("val_loss", "train_loss") if r in ctx.series]
    if not roles and ctx.primary:
        roles = [ctx.primary]
    parts = []
    lead_role = None
    for role in roles:
        words = _metric_during(ctx, ctx.series[role], rates, x, peak_first, start)
        if words:
            parts.append(words)
            lead_role = lead_role or role
    if not parts:
        return []
    peak = float(np.nanmax(rates))
    end_rate = float(rates[np.isfinite(rates)][-1])
    what = "cooldown" if start > peak_first + 2 else "decay"
    origin = "" if source == "logged" else ", per the --schedule spec"
    head = (
        f"During the {what} of the rate from {fmt(peak)} at {ctx.where(start)} to {fmt(end_rate)}{origin}, "
        + "; ".join(parts)
        + "."
    )
    return [Finding("cooldown", start, head)]


def _level(s: Series, x: np.ndarray, lo_x: float, hi_x: float, fallback_first: bool) -> tuple[float, int] | None:
    """The metric's level at hi_x from its points with x in [lo_x, hi_x]: a least-squares line's value at hi_x
    (3 points or more: a window median would lag a curve that is still moving), else their median; and the row
    of the window's last point.  When the window is empty and ``fallback_first``: the first point after hi_x."""
    xs = x[s.rows]
    sel = np.flatnonzero((xs >= lo_x) & (xs <= hi_x))
    if len(sel) == 0:
        if not fallback_first:
            return None
        after = np.flatnonzero(xs > hi_x)
        if len(after) == 0:
            return None
        return float(s.y[after[0]]), int(s.rows[after[0]])
    if len(sel) >= 3 and xs[sel[-1]] > xs[sel[0]]:
        slope, _ = linear_slope(xs[sel], s.y[sel])
        value = float(np.mean(s.y[sel]) + slope * (hi_x - np.mean(xs[sel])))
        lo_y, hi_y = float(np.min(s.y[sel])), float(np.max(s.y[sel]))
        return min(max(value, lo_y), hi_y), int(s.rows[sel[-1]])  # never beyond the values seen
    return float(np.median(s.y[sel])), int(s.rows[sel[-1]])


def _metric_during(
    ctx: Context, s: Series, rates: np.ndarray, x: np.ndarray, peak_first: int, start: int
) -> str | None:
    xs = x[s.rows]
    x0, x_end = float(x[start]), float(xs[-1])
    length = x_end - x0
    if length <= 0:
        return None
    in_decay = np.flatnonzero(xs >= x0)
    if len(in_decay) < 2:
        return None
    win = length / 6.0
    a = _level(s, x, x0 - win, x0, fallback_first=True)
    b = _level(s, x, x_end - win, x_end, fallback_first=False)
    if a is None or b is None:
        return None
    (va, ra), (vb, _) = a, b
    word = metric_word(ctx, s.role)
    first_eval = "" if float(x[ra]) <= x0 else f" (from its first value in the decay, at {ctx.where(ra)})"
    if va == vb or pair_words(s, va, vb).split(" -> ")[0] == pair_words(s, va, vb).split(" -> ")[1]:
        return f"the {word} held at {value_word(s, vb)}"
    improved = vb < va if s.lower_is_better else vb > va
    verb = ("fell" if s.lower_is_better else "rose") if improved else ("rose" if s.lower_is_better else "fell")
    text = f"the {word} {verb} {pair_words(s, va, vb)}{first_eval}"
    if not improved:
        return text + ": it got worse while the rate decayed, so the decay is not what moved it"
    stable = np.flatnonzero((xs >= float(x[peak_first])) & (xs < x0))
    if len(stable) >= 3:
        stretch = min(0.5 * length, x0 - float(x[peak_first]))
        pre = np.flatnonzero((xs >= x0 - stretch) & (xs < x0))
        if len(pre) < 3:
            pre = stable[-3:]
        slope_b, _ = linear_slope(xs[pre], s.y[pre])
        slope_a, _ = linear_slope(xs[in_decay], s.y[in_decay])
        spacing = float(np.median(np.diff(xs))) if len(xs) > 1 else 1.0
        scale = rate_scale(ctx.unit, spacing, length)
        ra_, rb_ = slope_a * scale, slope_b * scale
        sign_ok = (ra_ < 0) if s.lower_is_better else (ra_ > 0)
        if sign_ok:
            ratio = abs(ra_) / abs(rb_) if rb_ != 0 else math.inf
            before_better = (rb_ < 0) if s.lower_is_better else (rb_ > 0)
            if not before_better or ratio >= FASTER:
                pace = "faster than before it"
            elif ratio <= 1 / FASTER:
                pace = "slower than before it"
            else:
                pace = "about as fast as before it"
            text += f", {pace} ({_signed(ra_)} {per_words(ctx.unit, scale)} against {_signed(rb_)})"
        return text
    share = _shares(s, rates, x, x0)
    if share is not None:
        during, below_half, half_row = share
        text += f"; {during:.0%} of its fall over the run (log scale) came while the rate decayed"
        if half_row is not None and 0.05 < below_half < during - 0.02:
            text += f", {below_half:.0%} once it was below half its peak (from {ctx.where(half_row)})"
    return text


def _signed(v: float) -> str:
    return ("+" if v > 0 else "-") + fmt(abs(v), 2)


def _shares(s: Series, rates: np.ndarray, x: np.ndarray, x0: float) -> tuple[float, float, int | None] | None:
    """(share of the run's log fall after x0, share after the rate fell below half its peak, that row)."""
    g = s.g
    q = max(1, min(5, len(g) // 10))
    total = float(np.median(g[:q]) - np.median(g[-q:]))
    if total <= 0:
        return None
    xs = x[s.rows]
    k0 = int(np.searchsorted(xs, x0))
    at = float(np.median(g[max(0, k0 - q + 1) : k0 + 1])) if k0 < len(g) else float(g[-1])
    end = float(np.median(g[-q:]))
    during = (at - end) / total
    peak = float(np.nanmax(rates))
    peak_row = int(np.nanargmax(rates))
    below = np.flatnonzero((np.arange(len(rates)) > peak_row) & (rates < 0.5 * peak))
    if len(below) == 0:
        return max(0.0, min(1.0, during)), 0.0, None
    half_row = int(below[0])
    kh = int(np.searchsorted(s.rows, half_row))
    if kh >= len(g):
        return max(0.0, min(1.0, during)), 0.0, None
    at_half = float(np.median(g[max(0, kh - q + 1) : kh + 1]))
    return max(0.0, min(1.0, during)), max(0.0, min(1.0, (at_half - end) / total)), half_row
