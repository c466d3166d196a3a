"""Sharp falls in a noisy curve, and how large a fall was.

A fall at i is scored by comparing window medians on the badness scale (log loss or log error):

    jump(i) = median(g[i-w:i]) - median(g[i:i+w])          (positive: the curve got better)
    score(i) = jump(i) - max(0, (jump(i-w) + jump(i+w)) / 2)   (the neighbouring windows' jumps are trend)

and z(i) = score(i) / se with se = 1.25 * sqrt(2 / w) * sigma, sigma the point noise (MAD of differences).
Medians
make single spikes harmless; subtracting the neighbouring jumps removes steady trends and makes a decelerating
(convex) descent score negative.  A candidate is kept when z >= Z_MIN and the fall is at least MIN_FALL (log
units),
and at least SHARPNESS of it happens within two rows (a step, not a smooth acceleration), then located
exactly with the largest one-row fall nearby (short curves) or a two-segment split (binned curves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .smooth import Series, bin_medians, noise_sigma, window_medians

Z_MIN = 4.0
MIN_FALL = 0.07  # about a 7 % fall in the loss or in the error rate
SHARPNESS = 0.4  # at least this share of the fall happens within two rows


@dataclass
class Fall:
    role: str
    row: int  # first row at the lower level
    z: float  # strength against the noise
    jump: float  # size in log units (log before - log after)


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
    # the trend a window-median jump carries anyway: the mean of the neighbouring jumps (exact for a straight
    # line; at least the jump itself on a decelerating descent, so such curves never score)
    with np.errstate(invalid="ignore"):
        baseline = np.maximum(0.0, np.where(np.isfinite(right), 0.5 * (left + right), left))
    score = jump - baseline
    sigma = local_sigma(g, w)[idx]
    # the noise can be tiny on smooth epoch-level training curves: floor it at 0.5 % of a unit
    se = 1.25 * np.sqrt(2.0 / w) * np.maximum(sigma, max(0.005, 0.5 * noise_sigma(g)))
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
        falls.append(Fall(s.role, row, float(z[k]), float(score[k])))
    falls.sort(key=lambda f: f.row)
    return falls


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
        lo, hi = max(1, i - w // 2 - 1), min(len(g), i + w // 2 + 1)
        d = g[lo - 1 : hi - 1] - g[lo:hi]  # one-row falls g[k-1] - g[k] for k in lo..hi-1
        k = lo + int(np.argmax(d))
        return int(s.rows[k])
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


def drop_at(
    s: Series, row: int, h: int | None = None, limit_before: int | None = None, limit_after: int | None = None
) -> tuple[float, float, int] | None:
    """(before, after, first row after) levels of a metric around ``row``: medians of h points on each side.

    h is 1 for clean short curves (the value just before and just after), more for noisy or long ones.
    """
    k = int(np.searchsorted(s.rows, row))
    if k == 0 or k >= len(s):
        return None
    if h is None:
        sigma = noise_sigma(s.g)
        h = 1 if sigma < 0.04 else 3
        h = max(h, len(s) // 200)
    lo = max(0, k - h)
    if limit_before is not None:
        lo = max(lo, int(np.searchsorted(s.rows, limit_before)))
    hi = min(len(s), k + h)
    if limit_after is not None:
        hi = min(hi, int(np.searchsorted(s.rows, limit_after)))
    lo = min(lo, k - 1)
    hi = max(hi, k + 1)
    before = float(np.median(s.y[lo:k]))
    after = float(np.median(s.y[k:hi]))
    return before, after, int(s.rows[k])


def relative_gain(before: float, after: float, lower_is_better: bool) -> float:
    """(before - after) / before for losses and error rates; (after - before) / before for accuracies."""
    if before == 0:
        return 0.0
    if lower_is_better:
        return (before - after) / abs(before)
    return (after - before) / abs(before)
