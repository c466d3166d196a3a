"""What a decay did to one metric: its level before and after, where the fall starts, and whether it is sharp.

The levels are robust medians over h points on each side, h fitted to that side's noise: one point on a smooth
epoch curve, 3 or 5 on a noisy one (the detrended point noise of the badness g = log loss or log error, over
NOISE_SPAN points: <= 0.03, <= 0.08, more), 9 before a cut on a very noisy one (> 0.15: the plateau before a
decay is flat), and at least a hundredth of the stage on long step-level curves.  Neither window crosses the
neighbouring decays.

- Lag.  The fall may start a little after the cut: the first evaluation after it (a test run before any
  update at the new rate), an epoch average that mixes both rates.  The fall is the largest one-window fall
  among the first LAG_POINTS + 1 points at the new rate (or the one the detector found there); it starts at
  the first point from the cut on that lies clearly below the level before the cut.
- Response.  On a smooth curve (one point per level), a metric that takes several evaluations to respond (a
  test loss that falls 3 % per evaluation for ten evaluations after a cut) is followed while each fall is at
  least RAMP times the one before (and clearly beyond the noise), for at most RESPONSE_POINTS points; the
  after level is taken where that ramp ends.  A step followed by a slowing descent ends at once.
- Sharp.  The change is sharp when it exceeds what the trend before the cut would have done over the same
  points by SHARP_Z standard errors of the two levels and by at least SHARP_MIN (log units): a loss that keeps
  its pace across the cut (a warm-up's steady fall, an early run's exponential descent) and noise around a
  flat level are not sharp.

Levels are found on the badness scale (a window's points moved along the local trend to the window's edge,
so that a steep curve's median does not lag) and quoted in the metric's own units.  The levels say the
direction: a loss that rose has after > before, whatever anything else said.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .smooth import Series, detrended_sigma, raw_value

LAG_POINTS = 2
RESPONSE_POINTS = 10
SHARP_Z = 3.0
SHARP_MIN = 0.02
NOISE_SPAN = 16
RAMP = 0.7


@dataclass
class Level:
    """A metric around a decay: the first row at the lower level, the levels (raw units), and sharpness."""

    row: int
    before: float
    after: float
    sharp: bool


def window_points(sigma: float, stage_points: int, before: bool) -> int:
    """Points in a level window for point noise ``sigma`` (log units) on a stage of ``stage_points`` points.
    Before a cut the curve has usually flattened (that is when one decays), so a very noisy one gets a longer
    window there; after it the curve moves (falls, may rise again), so the window stays short."""
    h = 1 if sigma <= 0.03 else 3 if sigma <= 0.08 else 5 if sigma <= 0.15 or not before else 9
    return max(h, stage_points // 100)


def measure(s: Series, event_row: int, lo_row: int, hi_row: int, fall_row: int | None = None) -> Level | None:
    """The levels of ``s`` around a decay first applied at ``event_row``, between the neighbouring decays
    (rows ``lo_row`` .. ``hi_row``, exclusive); ``fall_row``: where the detector found this metric's fall."""
    rows, g = s.rows, s.g
    n = len(rows)
    lo_k, hi_k = int(np.searchsorted(rows, lo_row)), int(np.searchsorted(rows, hi_row))
    k_e = int(np.searchsorted(rows, event_row))
    if k_e <= lo_k or k_e >= hi_k:
        return None
    # the point noise on each side (a property of the curve, so not bounded by the neighbouring cuts; the
    # step and the first points after it are no noise)
    sigma_b = detrended_sigma(g[max(0, k_e - NOISE_SPAN) : k_e])
    sigma_a = detrended_sigma(g[min(n, k_e + 2) : k_e + 2 + NOISE_SPAN])
    h_b = min(window_points(sigma_b, k_e - lo_k, True), k_e - lo_k)
    h_a = min(window_points(sigma_a, hi_k - k_e, False), hi_k - k_e)
    onset = _onset(g, k_e, lo_k, hi_k, h_b, h_a, sigma_b, rows, fall_row)
    h_b = min(h_b, onset - lo_k)
    h_a = min(h_a, hi_k - onset)
    if h_b < 1 or h_a < 1:
        return None
    m_b = max(h_b, 3)
    tb_g = _trend(g, onset - 3 * m_b, onset, m_b, lo_k, hi_k, sigma_b)
    g_before = _level(g, onset - h_b, onset, onset - 1, tb_g)
    end = _response_end(g, onset, lo_k, hi_k, g_before, sigma_a) if h_a == 1 else onset
    m_a = max(h_a, 3)
    g_after = _level(g, end, end + h_a, end, _trend(g, end, end + 3 * m_a, m_a, lo_k, hi_k, sigma_a))
    before, after = raw_value(s, g_before), raw_value(s, g_after)
    # what the trend before the cut would have done over the points between the two levels
    excess = (g_before - g_after) - max(0.0, tb_g) * (end - onset + 1)
    se = 1.25 * np.hypot(sigma_b / np.sqrt(h_b), sigma_a / np.sqrt(h_a))
    sharp = excess >= max(SHARP_Z * se, SHARP_MIN)
    return Level(int(rows[onset]), before, after, bool(sharp))


def _level(v: np.ndarray, a: int, b: int, at: int, fall_per_point: float) -> float:
    """The level of v at point ``at`` from the points a..b-1: the median of the points moved along the local
    trend to ``at`` (a plain median on a flat curve; on a steep one the window's median would lag)."""
    j = np.arange(a, b)
    return float(np.median(v[a:b] - fall_per_point * (at - j)))


def _trend(v: np.ndarray, a: int, b: int, m: int, lo_k: int, hi_k: int, sigma: float) -> float:
    """The fall per point over v[a:b] (3 m points), from the medians of its first and last m points; 0 where
    the span leaves the stage lo_k..hi_k or the change is within the noise (a noisy flat curve is flat)."""
    if a < lo_k or b > hi_k or b - a < 3 * m:
        return 0.0
    change = float(np.median(v[a : a + m]) - np.median(v[b - m : b]))
    if abs(change) < 2.0 * 1.25 * sigma * np.sqrt(2.0 / m):
        return 0.0
    return change / (b - a - m)


def _response_end(g: np.ndarray, onset: int, lo_k: int, hi_k: int, g_before: float, sigma: float) -> int:
    """Where a gradual response to a cut ends (a smooth curve, one point per level): follow the falls while
    each is at least RAMP times the one before and clearly beyond the noise; a step followed by a slowing
    descent ends at once."""
    prev = float(g[onset - 1] - g[onset]) if onset - 1 >= lo_k else g_before - float(g[onset])
    end = onset
    while prev > 0 and end + 1 < hi_k and end - onset < RESPONSE_POINTS:
        fall = float(g[end] - g[end + 1])
        if fall < max(RAMP * prev, 2.0 * sigma):
            break
        prev, end = fall, end + 1
    return end


def _onset(g, k_e, lo_k, hi_k, h_b, h_a, sigma_b, rows, fall_row) -> int:
    """The point where the fall starts.  The fall itself is the detector's (never before the cut), else the
    largest window fall among the first LAG_POINTS + 1 points at the new rate; its start is the first point from
    the cut on that already lies clearly below the level before the cut (a test run before any update at the
    new rate still shows the old level; a gradual response is under way from its first point)."""
    if fall_row is not None:
        fall = max(k_e, min(int(np.searchsorted(rows, fall_row)), hi_k - 1))
    else:
        fall, best = k_e, 0.0
        for j in range(k_e, min(hi_k - 1, k_e + LAG_POINTS) + 1):
            drop = float(np.median(g[max(lo_k, j - h_b) : j]) - np.median(g[j : min(hi_k, j + h_a)]))
            if drop > best:
                fall, best = j, drop
    pre = float(np.median(g[k_e - h_b : k_e]))
    post = float(np.median(g[fall : min(hi_k, fall + h_a)]))
    threshold = pre - max(3.0 * 1.25 * sigma_b / np.sqrt(h_b), 0.25 * (pre - post))
    for j in range(k_e, fall):
        if float(np.median(g[j : min(hi_k, j + h_a)])) < threshold:
            return j
    return fall
