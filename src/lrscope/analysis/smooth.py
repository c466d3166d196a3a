"""Curve preparation: put every metric on one "badness" scale, bin long curves, and measure noise robustly.

Badness g is the log of something that falls as training improves: the loss, or the error rate (100 -
accuracy for
percentages, 1 - accuracy for fractions).  On the log scale a tenfold-decay drop of "loss halves" is the same
size
at any loss level, and multiplicative (lognormal) noise becomes additive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_POINTS = 4000  # long step-level curves are binned down to about this many points for shape analysis


@dataclass
class Series:
    """One metric's finite points: rows (indices into the log), raw values y, badness g."""

    role: str
    name: str
    rows: np.ndarray
    y: np.ndarray
    g: np.ndarray
    lower_is_better: bool
    percent: bool

    def __len__(self) -> int:
        return len(self.rows)


def badness(values: np.ndarray, lower_is_better: bool, percent: bool) -> np.ndarray:
    """log(loss) or log(error rate); NaN where undefined."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if lower_is_better:
            base = v
        else:
            top = 100.0 if percent else 1.0
            base = top - v
        fin = base[np.isfinite(base)]
        positive = fin[fin > 0]
        floor = positive.min() * 0.5 if len(positive) else 1e-12
        g = np.log(np.maximum(base, floor))
    if len(fin) and (fin <= 0).mean() > 0.2:
        # a metric that goes negative (ELBO-like): use the raw scale, normalised
        scale = _spread(v)
        g = (v if lower_is_better else -v) / scale
    g[~np.isfinite(v)] = np.nan
    return g


def _spread(v: np.ndarray) -> float:
    """Standard deviation of the finite values, computed on a rescaled copy so that 1e308 cannot overflow."""
    fin = v[np.isfinite(v)]
    top = float(np.max(np.abs(fin))) if len(fin) else 0.0
    if top == 0.0:
        return 1.0
    return float(np.std(fin / top)) * top or 1.0


def series(log, role: str) -> Series | None:
    name = log.roles.get(role)
    if name is None:
        return None
    values = log.columns[name]
    lower = log.lower_is_better.get(name, role.endswith("loss"))
    pct = log.percent.get(name, False)
    g = badness(values, lower, pct)
    ok = np.isfinite(g) & np.isfinite(values)
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return None
    return Series(role, name, rows, values[ok], g[ok], lower, pct)


def raw_value(s: Series, gv: float) -> float:
    """The metric value whose badness is ``gv``: the inverse of :func:`badness` for this series (exp for a loss,
    top - exp for an accuracy; the linear map of a metric kept on its raw scale)."""
    top = 100.0 if s.percent else 1.0
    base = s.y if s.lower_is_better else top - s.y
    ok = np.flatnonzero(base > 0)
    if len(ok) and np.allclose(s.g[ok[:16]], np.log(base[ok[:16]]), rtol=0, atol=1e-9):
        b = float(np.exp(gv))
        return b if s.lower_is_better else top - b
    nz = np.flatnonzero(s.g != 0)
    if not len(nz):
        return float(gv)
    scale = float(s.y[nz[0]] / s.g[nz[0]])  # g = +-v / spread
    return float(gv) * scale


def noise_sigma(g: np.ndarray) -> float:
    """Point-to-point noise of a curve: 1.4826 * MAD of first differences / sqrt(2) (robust to jumps)."""
    if len(g) < 3:
        return 0.0
    d = np.diff(g)
    mad = np.median(np.abs(d - np.median(d)))
    return float(1.4826 * mad / np.sqrt(2))


def detrended_sigma(g: np.ndarray) -> float:
    """Point noise with steady trends removed: 1.4826 * MAD of second differences / sqrt(6) (a straight line, or
    the steep early fall of a run, adds nothing; a step adds one outlier)."""
    if len(g) < 4:
        return 0.0
    d2 = np.diff(g, 2)
    mad = np.median(np.abs(d2 - np.median(d2)))
    return float(1.4826 * mad / np.sqrt(6))


def bin_medians(rows: np.ndarray, g: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray, int]:
    """Medians of consecutive blocks of b points (b = 1 when short): (first row of each block, medians, b)."""
    n = len(g)
    b = max(1, int(np.ceil(n / max_points)))
    if b == 1:
        return rows, g, 1
    m = n // b
    med = np.median(g[: m * b].reshape(m, b), axis=1)
    first = rows[: m * b : b]
    if m * b < n:
        med = np.append(med, np.median(g[m * b :]))
        first = np.append(first, rows[m * b])
    return first, med, b


def window_medians(g: np.ndarray, w: int) -> np.ndarray:
    """med[i] = median(g[i:i+w]) for i = 0 .. n-w (NumPy sliding windows)."""
    if len(g) < w:
        return np.empty(0)
    return np.median(np.lib.stride_tricks.sliding_window_view(g, w), axis=1)


def x_per_row(x: np.ndarray, rows: np.ndarray | None = None) -> float:
    """How far x moves per row: the median of dx / drow over consecutive finite points of ``rows`` (all rows when
    None), so that a slope per row becomes a slope per epoch or per step (rows may be 50 or 115 steps apart;
    merged sparse logs leave gaps).  1.0 when it cannot be told."""
    x = np.asarray(x, dtype=np.float64)
    rows = np.arange(len(x)) if rows is None else np.asarray(rows)
    if len(rows) < 2:
        return 1.0
    xv = x[rows]
    ok = np.isfinite(xv)
    r, xv = rows[ok], xv[ok]
    if len(r) < 2:
        return 1.0
    dr, dx = np.diff(r), np.diff(xv)
    good = dr > 0
    if not good.any():
        return 1.0
    per = float(np.median(dx[good] / dr[good]))
    return per if np.isfinite(per) and per > 0 else 1.0


def level(y: np.ndarray, lo: int, hi: int) -> float:
    """Median of y[lo:hi] clipped to the array (a robust level)."""
    lo, hi = max(0, lo), min(len(y), hi)
    if hi <= lo:
        return float("nan")
    return float(np.median(y[lo:hi]))


def linear_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error."""
    n = len(x)
    if n < 3:
        return 0.0, float("inf")
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx == 0:
        return 0.0, float("inf")
    slope = float(xc @ (y - y.mean())) / sxx
    resid = y - y.mean() - slope * xc
    se = float(np.sqrt(max(resid @ resid, 0.0) / (n - 2) / sxx))
    return slope, se
