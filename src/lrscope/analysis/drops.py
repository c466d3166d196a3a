"""Sharp falls in a noisy curve (:func:`find_falls`), each with what the inferred-decay rules need.

A fall at i is scored by comparing window medians on the badness scale g (log loss or log error):

    jump(i)  = median(g[i-w:i]) - median(g[i:i+w])              (positive: the curve got better)
    score(i) = jump(i) - max(0, jump(i-w), jump(i+w))             (the steeper neighbouring window is trend)

and z(i) = score(i) / se, se = 1.25 * sqrt(2 / w) * sigma, sigma the local point noise (MAD of first
differences over 4w points), floored at SIGMA_FLOOR, at half the curve's detrended noise (second
differences, so the steep start of a run adds nothing) and, for a quantised metric (a handful of distinct
values: an accuracy on a small evaluation set, a loss printed with few digits), at one quantum.  Medians make
single spikes harmless; subtracting the steeper neighbour removes trends and bends (a faster, then slower
descent).  A candidate is kept when z >= Z_MIN, score >= MIN_FALL, at least SHARPNESS of the fall happens
within two rows (a step, not a smooth acceleration), it is not the fall back from a spike, and the curve slows
down after it.  It is then located on the raw points: the split that leaves two flattest segments (least
absolute deviation from their medians; a spike barely moves it), moved back to where the fall starts (a metric
that responds over a few evaluations), or, on binned long curves, the largest two-segment t statistic.

Each fall carries ``ratio`` (jump against the steeper neighbouring jump), ``settled`` (the curve goes on for a
full window after it, or holds its new level to the end) and ``step_z`` (its largest one-row fall against the
one-row noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .smooth import Series, bin_medians, detrended_sigma, noise_sigma, window_medians

Z_MIN = 4.0
MIN_FALL = 0.015  # about a 1.5 % fall in the loss or in the error rate
SHARPNESS = 0.4  # at least this share of the fall happens within two rows
SIGMA_FLOOR = 0.005  # log units: the noise can be tiny on smooth epoch-level curves


@dataclass
class Fall:
    role: str
    row: int  # first row at the lower level
    z: float  # strength against the noise
    jump: float  # size in log units (log before - log after)
    settled: bool = True  # the curve goes on long enough after the fall to show its new level (a full window)
    ratio: float = float("inf")  # the fall against the steeper of the neighbouring windows' falls (the trend)
    before: float = 0.0  # the neighbouring windows' falls (log units; NaN where the curve has no such window)
    after: float = 0.0
    step_z: float = 0.0  # the largest one-row fall where it starts, in units of the one-row noise


def window_for(n: int) -> int:
    return int(np.clip(n // 30, 5, 8))


def find_falls(s: Series) -> list[Fall]:
    """Sharp falls in one metric's curve (rows in log rows), at two window sizes (w and 2w).

    The short window sees falls that come close together; the long one sees a modest persistent fall in a
    noisy curve (the second tenfold decay of a run whose loss is already near zero).
    """
    if len(s) < 8:
        return []
    rows, g, b = bin_medians(s.rows, s.g)
    n = len(g)
    w = window_for(n)
    found = _falls_at(s, rows, g, b, w)
    if n >= 8 * w:
        for f in _falls_at(s, rows, g, b, 2 * w):
            near = [o for o in found if abs(o.row - f.row) <= max(2, 2 * b) * w]
            if not near:
                found.append(f)
            elif f.z > max(o.z for o in near) and all(abs(o.row - f.row) <= 2 * b for o in near):
                for o in near:
                    found.remove(o)
                found.append(f)
    found.sort(key=lambda f: f.row)
    return found


def _falls_at(s: Series, rows: np.ndarray, g: np.ndarray, b: int, w: int) -> list[Fall]:
    n = len(g)
    if n < 2 * w + 2:
        return []
    med = window_medians(g, w)  # med[j] = median(g[j:j+w])
    # jump at i (i = w .. n-w): med[i-w] - med[i]
    idx = np.arange(w, n - w + 1)
    jump = med[idx - w] - med[idx]
    full = np.full(n + 1, np.nan)
    full[idx] = jump
    left = np.full(len(idx), np.inf)  # no left neighbour (the first 2w points): never a candidate, since the
    right = np.full(len(idx), -np.inf)  # steep start of training would look like a step there
    ok_l = idx - w >= w
    left[ok_l] = full[idx[ok_l] - w]
    ok_r = idx + w <= n - w
    right[ok_r] = full[idx[ok_r] + w]
    # the trend a window-median jump carries anyway: the steeper neighbouring jump (a straight line scores
    # nothing, and neither does a bend, faster then slower)
    with np.errstate(invalid="ignore"):
        baseline = np.maximum(0.0, np.where(np.isfinite(right), np.maximum(left, right), left))
    score = jump - baseline
    sigma = np.maximum(local_sigma(g, w)[idx], _quantum_sigma(s, rows, g, b)[idx])
    se = 1.25 * np.sqrt(2.0 / w) * np.maximum(sigma, max(SIGMA_FLOOR, 0.5 * detrended_sigma(g)))
    z = score / se
    falls: list[Fall] = []
    order = np.argsort(-z)
    taken = np.zeros(len(idx), dtype=bool)
    for k in order:
        if z[k] < Z_MIN:
            break
        if taken[k] or score[k] < MIN_FALL:
            continue
        lo, hi = max(0, k - w), min(len(idx), k + w + 1)
        if taken[lo:hi].any():
            continue
        i = int(idx[k])
        # a step falls within a row or two; a smooth acceleration (a cosine's annealing tail) spreads its fall
        a, c = max(1, i - w // 2), min(n - 1, i + w // 2)
        two_row = float(np.max(g[a - 1 : c - 1] - g[a + 1 : c + 1])) if c > a else 0.0
        if two_row < SHARPNESS * score[k]:
            continue
        # the fall back from a spike ends where the curve was before the spike: not a step
        if med[i - 2 * w] - med[i] < 0.5 * score[k]:
            continue
        # after a step the curve slows down; an accelerating smooth descent keeps falling as fast or faster
        if np.isfinite(right[k]) and jump[k] < 1.5 * right[k]:
            continue
        taken[lo:hi] = True
        row = _locate(s, rows, g, b, i, w)
        sides = [v for v in (left[k], right[k]) if np.isfinite(v)]
        ratio = float(jump[k]) / max(max(sides, default=0.0), 1e-9)
        j = int(np.searchsorted(rows, row))
        settled = bool(np.isfinite(right[k])) or _flat_after(g, j, w, float(jump[k]))
        # the largest one-row fall where it starts, against the point noise: a step happens in a row
        one_row = max((float(g[m - 1] - g[m]) for m in (j, j + 1) if 0 < m < n), default=0.0)
        step_z = one_row / max(float(sigma[k]), 1e-9) / np.sqrt(2.0)
        nb = [float(v) if np.isfinite(v) else float("nan") for v in (left[k], right[k])]
        falls.append(Fall(s.role, row, float(z[k]), float(score[k]), settled, ratio, nb[0], nb[1], step_z))
    falls.sort(key=lambda f: f.row)
    return falls


def _quantum_sigma(s: Series, rows: np.ndarray, g: np.ndarray, b: int) -> np.ndarray:
    """A noise floor for a quantised metric (a handful of distinct values: an accuracy on a small evaluation set,
    a loss printed with few digits), on the badness scale at each binned point (n + 1 values): a value can move
    by one quantum q with no change underneath, so the floor is q / |base| with base the loss or the error."""
    q = quantum(s.y)
    out = np.zeros(len(g) + 1)
    if q <= 0:
        return out
    base = np.abs(np.exp(g))  # g = log(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(base > 0, q / base, 0.0)
    out[: len(g)] = floor
    out[len(g)] = floor[-1] if len(floor) else 0.0
    return out


def quantum(y: np.ndarray) -> float:
    """The resolution of a metric's values: the smallest gap between its distinct values when it has few of them
    (fewer than half as many distinct values as points), else 0."""
    y = y[np.isfinite(y)]
    if len(y) < 8:
        return 0.0
    if len(np.unique(y[:2000])) > 0.5 * min(len(y), 2000):  # a sample settles it for most curves
        return 0.0
    u = np.unique(y)
    if len(u) > 0.5 * len(y) or len(u) < 2:
        return 0.0
    return float(np.min(np.diff(u)))


def local_sigma(g: np.ndarray, w: int) -> np.ndarray:
    """Point noise around each point: 1.4826 * median |first difference| / sqrt(2) over 4w points."""
    n = len(g)
    d = np.abs(np.diff(g))
    width = min(4 * w, len(d))
    if width < 3:
        return np.full(n + 1, noise_sigma(g))
    med = window_medians(d, width) * 1.4826 / np.sqrt(2)
    out = np.empty(n + 1)
    # centre the windows: point i uses differences i-2w .. i+2w
    start = np.clip(np.arange(n + 1) - width // 2, 0, len(med) - 1)
    out[:] = med[start]
    return out


def _locate(s: Series, rows: np.ndarray, g: np.ndarray, b: int, i: int, w: int) -> int:
    """The first row at the lower level near binned position i."""
    if b == 1:
        return int(s.rows[_onset(g, _l1_split(g, i, w), w)])
    # binned: split the raw points of bins i-2 .. i+1 where the two means differ most (CUSUM t-statistic)
    start = max(0, (i - 2) * b)
    stop = min(len(s.g), (i + 2) * b)
    seg = s.g[start:stop]
    m = len(seg)
    if m < 4:
        return int(s.rows[min(i * b, len(s.rows) - 1)])
    c = np.cumsum(seg)
    k = np.arange(1, m)
    left = c[:-1] / k
    right = (c[-1] - c[:-1]) / (m - k)
    t = (left - right) * np.sqrt(k * (m - k) / m)
    return int(s.rows[start + 1 + int(np.argmax(t))])


def _flat_after(g: np.ndarray, j: int, w: int, jump: float) -> bool:
    """Near the end of a curve (no full window after a fall): whether the points from j on (at least w) hold their
    new level rather than keep falling (the annealing tail of a smooth schedule keeps falling)."""
    rest = g[j:]
    if len(rest) < w:
        return False
    h = len(rest) // 2
    return float(np.median(rest[:h]) - np.median(rest[h:])) <= 0.5 * jump


def _onset(g: np.ndarray, j: int, w: int) -> int:
    """Where a fall split at j starts: walk back over the values already a quarter of the way down from the level
    before to the level after (a metric that responds over a few evaluations starts falling before the split)."""
    lo, hi = max(0, j - w), min(len(g), j + w)
    if j <= lo or j >= hi:
        return j
    before, after = float(np.median(g[lo:j])), float(np.median(g[j:hi]))
    threshold = before - 0.25 * (before - after)
    k = j
    while k - 1 > lo and g[k - 1] < threshold:
        k -= 1
    return k


def _l1_split(g: np.ndarray, i: int, w: int) -> int:
    """The index j near i (within w // 2 + 1) that splits g[i-w-1:i+w+1] into two flat segments best: least
    total absolute deviation from each segment's median (spikes barely move it)."""
    n = len(g)
    lo, hi = max(0, i - w - 1), min(n, i + w + 1)
    best, best_cost = i, np.inf
    for j in range(max(lo + 1, i - w // 2 - 1), min(hi - 1, i + w // 2 + 1) + 1):
        a, b = g[lo:j], g[j:hi]
        ma, mb = np.median(a), np.median(b)
        if mb >= ma:  # not a fall
            continue
        cost = np.abs(a - ma).sum() + np.abs(b - mb).sum()
        if cost < best_cost:
            best, best_cost = j, cost
    return best


def relative_gain(before: float, after: float, lower_is_better: bool) -> float:
    """(before - after) / before for losses and error rates; (after - before) / before for accuracies."""
    if before == 0:
        return 0.0
    if lower_is_better:
        return (before - after) / abs(before)
    return (after - before) / abs(before)
