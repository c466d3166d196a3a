"""Constant-rate stages and whether each had plateaued before the next change.

For a stage's main metric (training loss if logged, else validation loss, else an error rate) on the log
scale g, the tail (the last third of the stage, at least 4 points) gets a least-squares slope s per unit of
the log's x column (epoch, step: never per row, since rows may be many steps apart) and its standard error se.
The stage *plateaued* when the tail is not falling measurably: either the fall is not significant (s > -2.5 se)
or it is slow, projecting less than PLATEAU_FALL over another quarter of the stage (at least PLATEAU_MIN_ROWS
rows' worth of x).  It is *rising* when the tail climbs by the same measures (it then counts as plateaued: it
is not falling).

"More x to flatten" fits g(x) = a + b exp(-(x - x0) / tau) to the stage's second half (tau on a log grid,
a and b by least squares for each tau).  The curve has flattened when its slope projects less than
PLATEAU_FALL over the horizon, i.e. at x_flat = x0 + tau ln(b H / (tau ln(1 / (1 - PLATEAU_FALL)))).  The
uncertainty comes from the taus whose squared error is within a chi-square margin of the best
(SSE <= SSE_min (1 + 4 / (n - 3))).  The estimate is kept only when that range is bounded (tau inside the grid,
the range at most 3x the central value and 4 stage spans): otherwise there is no number to give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .smooth import Series, linear_slope

PLATEAU_FALL = 0.03  # a stage whose tail would fall less than 3 % more over another quarter of it has plateaued
PLATEAU_MIN_ROWS = 5
MAX_POINTS = 400  # stage curves are binned to about this many points
MIN_JUDGED = 4  # fewer points than this: too short to judge


# a fall to zero would make the relative change exactly -1, whose log (what words and fits use) is -inf
_FASTEST_FALL = -1.0 + 1e-12


@dataclass
class Stage:
    first_row: int
    last_row: int
    lr: float | None
    plateaued: bool
    tail_change: float  # relative change of the metric per x unit over the tail (-0.01: falling 1 % per epoch)
    metric: str | None = None
    rows_to_flatten: float | None = None  # when still falling: estimated further rows needed (None: unknown)
    judged: bool = True  # False when the stage is too short to judge
    start_value: float | None = None
    end_value: float | None = None
    rising: bool = False  # the tail climbs measurably (the stage got worse at this rate)
    tail_se: float = 0.0  # standard error of the tail slope (log units per x unit: about a relative change)
    tail_points: int = 0  # points in the tail fit
    tail_x: float = 0.0  # the x span the tail covers
    tail_raw: float | None = None  # the tail slope in the metric's own units per x unit
    flatten: tuple[float, float, float] | None = None  # (more x units, low, high) until flat, when supported
    spacing: float = 1.0  # median x distance between the metric's points in this stage
    points: int = 0  # the metric's points in this stage


def split_stages(n_rows: int, boundaries: list[int]) -> list[tuple[int, int]]:
    cuts = sorted({b for b in boundaries if 0 < b < n_rows})
    edges = [0, *cuts, n_rows]
    return [(edges[i], edges[i + 1] - 1) for i in range(len(edges) - 1)]


def _binned(xs: np.ndarray, g: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block means of x and medians of g and y, about MAX_POINTS blocks."""
    n = len(g)
    b = max(1, int(np.ceil(n / MAX_POINTS)))
    if b == 1:
        return xs, g, y
    m = n // b
    bx = xs[: m * b].reshape(m, b).mean(axis=1)
    bg = np.median(g[: m * b].reshape(m, b), axis=1)
    by = np.median(y[: m * b].reshape(m, b), axis=1)
    if m * b < n:
        bx, bg, by = (
            np.append(bx, xs[m * b :].mean()),
            np.append(bg, np.median(g[m * b :])),
            np.append(by, np.median(y[m * b :])),
        )
    return bx, bg, by


def fit_stage(s: Series | None, x: np.ndarray | None, first: int, last: int, lr: float | None = None) -> Stage:
    """The stage of rows first..last: its plateau verdict and the evidence for it (see module docstring)."""
    if s is None:
        return Stage(first, last, lr, False, 0.0, None, judged=False)
    lo, hi = np.searchsorted(s.rows, first), np.searchsorted(s.rows, last, side="right")
    rows, g, y = s.rows[lo:hi], s.g[lo:hi], s.y[lo:hi]
    xs = (rows.astype(np.float64) if x is None else np.asarray(x, dtype=np.float64)[rows]).copy()
    ends = (float(np.median(y[: min(3, len(y))])), float(np.median(y[-min(3, len(y)) :]))) if len(y) else (None, None)
    if len(rows) < MIN_JUDGED or not np.all(np.isfinite(xs)) or xs[-1] <= xs[0]:
        return Stage(first, last, lr, False, 0.0, s.role, None, False, *ends, points=len(rows))
    spacing = float(np.median(np.diff(xs)))
    bx, bg, by = _binned(xs, g, y)
    m = len(bg)
    k = max(4, m // 3)
    tail_x, tail_g = bx[-k:], bg[-k:]
    slope, se = linear_slope(tail_x, tail_g)
    raw, _ = linear_slope(tail_x, by[-k:])
    span = max(float(xs[-1] - xs[0]) + spacing, spacing)
    horizon = max(PLATEAU_MIN_ROWS * spacing, 0.25 * span)
    thr = math.log(1.0 / (1.0 - PLATEAU_FALL))
    significant = abs(slope) > 2.5 * se
    fast = abs(slope) * horizon >= thr
    rising = bool(slope > 0 and significant and fast)
    plateaued = bool(not (slope < 0 and significant and fast))
    flatten = None
    if not plateaued:
        flatten = flatten_estimate(bx[m // 2 :], bg[m // 2 :], float(xs[-1]), horizon, thr, span)
    rows_needed = None if flatten is None else flatten[0] / spacing
    return Stage(
        first,
        last,
        lr,
        plateaued,
        float(max(math.expm1(slope), _FASTEST_FALL)),
        s.role,
        rows_needed,
        True,
        *ends,
        rising=rising,
        tail_se=float(se),
        tail_points=int(min(k, len(rows))) if m == len(rows) else int(round(k * len(rows) / m)),
        tail_x=float(tail_x[-1] - tail_x[0]) + spacing,
        tail_raw=float(raw),
        flatten=flatten,
        spacing=spacing,
        points=len(rows),
    )


def flatten_estimate(
    x: np.ndarray, g: np.ndarray, x_end: float, horizon: float, thr: float, span: float
) -> tuple[float, float, float] | None:
    """(more x, low, high) until the exponential fit's slope projects less than ``thr`` over ``horizon``, or None
    when the fit does not support a number (see module docstring)."""
    n = len(g)
    if n < 6:
        return None
    x0 = float(x[0])
    width = float(x[-1] - x[0])
    if width <= 0:
        return None
    taus = width * np.geomspace(0.02, 20.0, 121)
    sse = np.full(len(taus), np.inf)
    fits = []
    for i, tau in enumerate(taus):
        e = np.exp(-(x - x0) / tau)
        a_mat = np.column_stack([np.ones(n), e])
        coef, *_ = np.linalg.lstsq(a_mat, g, rcond=None)
        fits.append(coef)
        if coef[1] > 0:
            r = g - a_mat @ coef
            sse[i] = float(r @ r)
    best = int(np.argmin(sse))
    if not np.isfinite(sse[best]) or best in (0, len(taus) - 1):
        return None
    ok = sse <= sse[best] * (1.0 + 4.0 / max(n - 3, 1))
    idx = np.flatnonzero(ok)
    if idx[0] == 0 or idx[-1] == len(taus) - 1 or np.any(np.diff(idx) != 1):
        return None

    def more(i: int) -> float:
        tau, b = taus[i], fits[i][1]
        arg = b * horizon / (tau * thr)
        if arg <= 1:
            return 0.0
        return x0 + tau * math.log(arg) - x_end

    mid = more(best)
    values = [more(i) for i in idx]
    lo_, hi_ = max(0.0, min(values)), max(values)
    if mid <= 0 or hi_ > 3 * mid or hi_ > 4 * span:
        return None
    return float(mid), float(lo_), float(hi_)
