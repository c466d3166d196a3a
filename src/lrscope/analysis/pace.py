"""Did a fall exceed the pace the curve already had?  A decay's drop is only the decay's when the metric falls
clearly faster after the cut than its trend before it would have carried it.

On the badness scale g (log loss, log error) a line g = a + b x is fitted to the last points before the change
(up to MAX_BEFORE, a fifth of the stage on long logs, at most MAX_FIT; least squares, x the log's own x values,
so b is per epoch or per step); a slope within two standard errors of zero is taken as flat, at the median
level (a noisy plateau has no trend to extrapolate).  The trend's extrapolation to the first points after the
change (up to MAX_AFTER) predicts where the curve would be had nothing happened; the *excess* is the median of
(predicted - observed) over those points, in log units
(positive: the curve sits below its old trend).  Its standard error combines the fit's residual scatter
(robust: 1.4826 MAD, at least the stage's point-to-point noise) over the points after, over the points before,
and the slope's uncertainty carried over the gap.  The fall is *distinct* when the excess is at least EXCESS_Z
standard errors, at least MIN_EXCESS, and at least half of the observed fall; otherwise the fall continues the
pace before it (early training, a decelerating descent) or stays within the noise, and is not credited to the
change.

With fewer than 3 points before the change (a stage of two rows) there is no trend to fit: the observed fall
is compared with the whole curve's point noise sigma instead (distinct when >= EXCESS_Z sigma sqrt 2), and
``trend`` is False.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .smooth import Series, noise_sigma

EXCESS_Z = 2.5
MIN_EXCESS = math.log(1.02)
MAX_BEFORE = 16  # points of the trend fit
MAX_AFTER = 5  # points after the change compared with the trend
MAX_FIT = 2000  # a step-level log's windows are capped: more points add time, not precision


@dataclass
class Pace:
    distinct: bool
    trend: bool  # False: too few points before the change for a trend; judged against the noise alone
    before: float  # relative change per x unit before the change (-0.4: falling 40 % per epoch); NaN if unknown
    after: float  # relative change per x unit over the points after the change (as many as the trend fit)
    excess: float  # log units below the extrapolated trend
    se: float


def pace_at(
    s: Series,
    x: np.ndarray,
    row: int,
    observed: float,
    limit_before: int | None = None,
    limit_after: int | None = None,
) -> Pace | None:
    """The pace test for a fall of ``observed`` log units at ``row`` (None when no point follows it)."""
    k = int(np.searchsorted(s.rows, row))
    lo = 0 if limit_before is None else int(np.searchsorted(s.rows, limit_before))
    hi = len(s) if limit_after is None else int(np.searchsorted(s.rows, limit_after))
    n_before, n_after = k - lo, hi - k
    if n_after < 1 or k < 1:
        return None
    xf = np.asarray(x, dtype=np.float64)
    if n_before < 3:
        sigma = noise_sigma(s.g)
        distinct = observed >= max(MIN_EXCESS, EXCESS_Z * sigma * math.sqrt(2.0))
        return Pace(bool(distinct), False, math.nan, math.nan, observed, sigma * math.sqrt(2.0))
    m = max(3, min(n_before // 2, max(MAX_BEFORE, n_before // 5), MAX_FIT))
    h = max(1, min(n_after, max(MAX_AFTER, len(s) // 200), m, MAX_FIT // 4))
    xb, gb = xf[s.rows[k - m : k]], s.g[k - m : k]
    xa, ga = xf[s.rows[k : k + h]], s.g[k : k + h]
    if not (np.all(np.isfinite(xb)) and np.all(np.isfinite(xa))) or xb[-1] <= xb[0]:
        return None
    b, a, xm, sxx, sigma = _line(xb, gb)
    if n_before >= 4:  # a few residuals underestimate the scatter: the stage's point noise is a floor
        sigma = max(sigma, noise_sigma(s.g[lo:k]))
    slope_se = sigma / math.sqrt(sxx)
    if abs(b) < 2.0 * slope_se:
        b, a = 0.0, float(np.median(gb))  # no measurable trend: a flat level, robust to a spike
    pred = a + b * (xa - xm)
    excess = float(np.median(pred - ga))
    gap = float(xa.mean() - xm)
    se = sigma * math.sqrt(1.0 / h + 1.0 / m + gap * gap / sxx)
    distinct = excess >= EXCESS_Z * se and excess >= MIN_EXCESS and excess >= 0.5 * observed and observed > 0
    after = math.nan
    ka = min(n_after, m)
    if ka >= 3:
        xs2, gs2 = xf[s.rows[k : k + ka]], s.g[k : k + ka]
        if xs2[-1] > xs2[0]:
            after = math.expm1(_line(xs2, gs2)[0])
    if math.isnan(after):
        dx = float(xa.mean() - xb[-1])
        end_fit = a + b * (float(xb[-1]) - xm)
        after = math.expm1((float(np.median(ga)) - end_fit) / dx) if dx > 0 else math.nan
    return Pace(bool(distinct), True, math.expm1(b), after, excess, se)


def _line(xs: np.ndarray, g: np.ndarray) -> tuple[float, float, float, float, float]:
    """(slope, mean of g, mean of x, sum of squares of x, robust residual sigma) of a least-squares line."""
    xm = float(xs.mean())
    xc = xs - xm
    sxx = float(xc @ xc)
    b = float(xc @ (g - g.mean())) / sxx
    a = float(g.mean())
    resid = g - (a + b * xc)
    sigma = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    sigma = max(sigma, 0.5 * float(np.std(resid)), 1e-3)
    return b, a, xm, sxx, sigma
