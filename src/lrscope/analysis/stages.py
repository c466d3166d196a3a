"""Constant-rate stages and whether each had plateaued before the next change.

For a stage's main metric (training loss if logged, else validation loss, else an error rate) on the log
scale g, the
tail (the last third of the stage, at least 4 points) gets a least-squares slope s (log units per row) and its
standard error.  The stage *plateaued* when the tail is not falling measurably: either the fall is not
significant
(s > -2.5 se) or it is slow, projecting less than PLATEAU_FALL over another quarter of the stage (and at least
PLATEAU_MIN_ROWS rows).  Otherwise it was still falling; if the fall is slowing (the slope of the tail's
second half is
smaller than the first half's), an exponentially decaying slope s(t) = s2 * exp(-lambda t) reaches the plateau
threshold after ln(s2 / s_thr) / lambda more rows: the "rows to flatten" estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .smooth import Series, bin_medians, linear_slope

PLATEAU_FALL = (
    0.03  # a stage whose tail would fall less than 3 % more over another quarter of it has plateaued
)
PLATEAU_MIN_ROWS = 5


@dataclass
class Stage:
    first_row: int
    last_row: int
    lr: float | None
    plateaued: bool
    tail_change: float  # relative change of the metric per row over the tail (-0.01: falling 1 %/row)
    metric: str | None = None
    rows_to_flatten: float | None = None  # when still falling: estimated further rows needed (None: unknown)
    judged: bool = True  # False when the stage is too short to judge
    start_value: float | None = None
    end_value: float | None = None


def split_stages(n_rows: int, boundaries: list[int]) -> list[tuple[int, int]]:
    cuts = sorted({b for b in boundaries if 0 < b < n_rows})
    edges = [0, *cuts, n_rows]
    return [(edges[i], edges[i + 1] - 1) for i in range(len(edges) - 1)]


def judge_stage(s: Series | None, first: int, last: int) -> tuple[bool, float, float | None, bool, tuple]:
    """(plateaued, tail_change, rows_to_flatten, judged, (start, end)) for rows first..last of a metric."""
    if s is None:
        return False, 0.0, None, False, (None, None)
    lo, hi = np.searchsorted(s.rows, first), np.searchsorted(s.rows, last, side="right")
    rows, g, y = s.rows[lo:hi], s.g[lo:hi], s.y[lo:hi]
    if len(rows) < 4:
        ends = (float(y[0]), float(y[-1])) if len(y) else (None, None)
        return False, 0.0, None, False, ends
    brows, bg, _ = bin_medians(rows.astype(np.float64), g, 400)
    m = len(bg)
    k = max(4, m // 3)
    tail_x, tail_g = brows[-k:], bg[-k:]
    slope, se = linear_slope(tail_x, tail_g)
    span = max(float(last - first + 1), 1.0)
    horizon = max(PLATEAU_MIN_ROWS, 0.25 * span)
    projected = -slope * horizon  # log units the tail would still fall over the horizon
    significant = slope < -2.5 * se
    plateaued = (not significant) or projected < math.log(1.0 / (1.0 - PLATEAU_FALL))
    tail_change = math.expm1(slope)
    rows_needed = None
    if not plateaued and k >= 6:
        h = k // 2
        s1, _ = linear_slope(tail_x[:h], tail_g[:h])
        s2, _ = linear_slope(tail_x[h:], tail_g[h:])
        thr = -math.log(1.0 / (1.0 - PLATEAU_FALL)) / horizon
        if s1 < s2 < thr < 0:
            dt = float(np.mean(tail_x[h:]) - np.mean(tail_x[:h]))
            lam = math.log(s1 / s2) / dt if dt > 0 else 0.0
            if lam > 0:
                rows_needed = math.log(s2 / thr) / lam
    start = float(np.median(y[: min(3, len(y))]))
    end = float(np.median(y[-min(3, len(y)) :]))
    return bool(plateaued), float(tail_change), rows_needed, True, (start, end)
