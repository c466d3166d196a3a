"""Reading an LR range test's curve: the suggested learning rate, the range and how far noise moves them.

Finders that take ``argmin(np.gradient(loss))`` differentiate a noisy curve point by point, so one lucky
batch moves the answer by a decade.  Here, on the raw losses of one sweep, against x = log10(lr):

1. Spikes are clipped: each loss is limited to its running median (7 points) +/- 3 robust standard
   deviations (1.4826 x the median absolute deviation), and losses far above the starting level are capped
   (divergence).
2. A centred local quadratic regression with a Gaussian kernel (bandwidth h = max(2 grid steps, span/50)
   decades, i.e. about 0.14 decade for 100 points over 7 decades; Cleveland 1979, "Robust locally weighted
   regression") gives a smooth loss ``fit`` and its slope d loss / d log10 lr at every point, without the
   lag of an EMA.
3. Only the part of the curve before the fit's minimum counts.  Rules read off it:
   - ``turn_over_3`` (the suggestion for a model without BatchNorm): the *turn*, where the fit has done 80 %
     of its drop from the starting level to its minimum (the last crossing before the minimum,
     log-interpolated), divided by 3;
   - ``turn`` (the suggestion for a model with BatchNorm): the turn itself;
   - ``steepest``: the most negative slope;
   - ``midpoint``: where the fit crosses halfway between its starting level and its minimum
     (log-interpolated);
   - ``combined``: the geometric mean of ``steepest`` and ``midpoint`` (the suggestion until the regret bench);
   - ``valley`` (fastai's rule, on the fit): about halfway along the longest decreasing stretch;
   - ``minimum_over_10``: the lr at the fit's minimum divided by 10.
4. Why turn / 3.  A finder is for training well, so its rule was chosen by regret, not steadiness:
   ``bench/bench_finder_regret.py`` trains a grid of rates (5 tasks x SGD/AdamW x constant/1cycle x 10 seeds)
   and trains again at each rule's suggestion.  Accuracy against the rate falls gently below the optimum and
   off a cliff above it (the run diverges), so the rule that loses least sits safely below where the sweep's
   loss stops falling.  The fit's minimum itself marks that as well as the turn does, but a flat-bottomed curve
   lets it jump by half a decade between seeds; the 80 % crossing is a level crossing on the steep side and
   stays put.  ``combined``, ``steepest`` and ``midpoint`` sit in the steep middle of the descent, which is
   steady across seeds but too high for some runs and too low for others.  bench/RESULTS.md holds the table.
5. BatchNorm.  The weights in front of a BatchNorm layer are scale-invariant: their gradient shrinks as 1/|w|
   while SGD (and the noise) grow |w|, so the run lowers its own effective rate eta/|w|^2 (van Laarhoven 2017,
   "L2 regularization versus batch and weight normalization"; Arora, Li & Lyu 2019, "Theoretical analysis of
   auto rate-tuning by batch normalization").  A 100-step sweep sees the edge at the starting |w|; the run
   tolerates more.  In the bench the best rates of the two BatchNorm conv nets sit 0.16 below to 0.67 decades
   above the turn (constant) and 0.6-1.5 above it (1cycle), against 1.4 below to 0.15 above without BatchNorm
   (on a small noisy data set overfitting, and a little the noise floor, pull a constant rate 1.1-1.4 decades
   below the turn, BatchNorm or not: no sweep of the training loss sees that).  So with BatchNorm
   the suggestion is the turn and 1cycle's peak 3x the turn; without, a third and two thirds of the turn.
   ``range`` = (where 10 % of the drop is done, that peak): the lower and upper bounds for a cyclical schedule
   (Smith 2017); the upper bound is the peak for 1cycle (Smith & Topin 2018), which spends only a moment there
   and anneals, so it may go higher than the constant rate.
6. ``band``: where the rates within 1 % (relative) of the best validation loss are expected, around the
   suggestion (``BAND``) and around 1cycle's peak (``PEAK_BAND``): edges that held 8 in 10 of the regret
   bench's measured 1 %-bands whole, so the width says how far the rule can miss (about 2 decades).
7. ``interval``: a 90 % interval for the suggestion from a wild bootstrap of the fit's residuals (Rademacher
   signs; Wu 1986), i.e. how far the curve's own noise could move it, so one sweep says something about its
   own reliability.

NumPy only: the sweep that records the curve is :mod:`lrscope.probes.finder`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import UserError

RULES = ("turn_over_3", "turn", "steepest", "midpoint", "combined", "valley", "minimum_over_10")
PRIMARY = "turn_over_3"  # the rule behind ``suggestion`` for a model without BatchNorm (see 4. above)
BATCHNORM_PRIMARY = "turn"  # ... and for a model with BatchNorm (see 5. above)
TURN_DROP = 0.8  # the turn: where the fit has done this fraction of its drop
CONSTANT_BELOW_TURN = float(np.log10(3.0))  # decades from the turn to the suggestion
PEAK_BELOW_TURN = float(np.log10(1.5))  # decades from the turn to the range's top (1cycle's peak)
BATCHNORM_PEAK_ABOVE_TURN = float(np.log10(3.0))  # ... the same above the turn, for a model with BatchNorm
# log10(band edge / rate) from bench/bench_finder_regret.py (bench/RESULTS.md): the narrowest percentile pair
# (lower edge, upper edge) of the measured 1 %-bands that holds 80 % of them whole, over 50 (task, optimizer,
# seed) cases per recipe, rounded outward
BAND = (-1.4, 0.6)  # around the suggestion, for a constant rate
PEAK_BAND = (-1.45, 0.95)  # around the range's top, for 1cycle's peak
BOOTSTRAP = 40  # wild-bootstrap resamples behind ``interval``
MIN_POINTS = 10  # finite points a curve needs before any rule is read off it


def sweep_lrs(start_lr: float, end_lr: float, num_iter: int, mode: str = "exp") -> np.ndarray:
    """lr[i], i = 0..n-1: ``start * (end/start)**(i/(n-1))`` (exp) or ``start + (end-start) i/(n-1)``."""
    r = np.arange(num_iter) / (num_iter - 1)
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** r
    return start_lr + (end_lr - start_lr) * r


def debiased_ema(losses: np.ndarray, beta: float) -> np.ndarray:
    """s_i = m_i / (1 - beta^(i+1)), m_i = beta m_{i-1} + (1 - beta) loss_i (Kingma & Ba 2015)."""
    out = np.empty(len(losses))
    m = 0.0
    for i, value in enumerate(losses):
        m = beta * m + (1.0 - beta) * value
        out[i] = m / (1.0 - beta ** (i + 1)) if beta > 0 else value
    return out


def running_median(y: np.ndarray, half: int = 3) -> np.ndarray:
    """Centred running median over 2*half+1 points (edges padded), for one curve (n,) or many (n, B)."""
    pad = [(half, half)] + [(0, 0)] * (y.ndim - 1)
    padded = np.pad(y, pad, mode="edge")
    return np.median(sliding_window_view(padded, 2 * half + 1, axis=0), axis=-1)


def robust_clip(y: np.ndarray) -> np.ndarray:
    """Clip spikes to running median +/- 3 robust sd, and cap the divergent tail above the starting level."""
    med = running_median(y)
    mad = 1.4826 * np.median(np.abs(y - med), axis=0) + 1e-12
    y = np.clip(y, med - 3 * mad, med + 3 * mad)
    head = max(3, len(y) // 10)
    start = np.median(med[:head], axis=0)
    floor = np.min(med, axis=0)
    return np.minimum(y, start + np.maximum(start - floor, 1e-12))


def local_quadratic(x: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a Gaussian-kernel local quadratic fit: (F, S) with fit = F @ y and slope = S @ y."""
    d = x[None, :] - x[:, None]
    w = np.exp(-0.5 * (d / h) ** 2)
    basis = np.stack([w, w * d, w * d * d])  # 3 x n x n: the weighted design, transposed
    moments = np.stack([(w * d**k).sum(1) for k in range(5)], axis=1)  # n x 5
    a = np.stack([moments[:, 0:3], moments[:, 1:4], moments[:, 2:5]], axis=1)  # n x 3 x 3
    a_inv = np.linalg.pinv(a)
    f = np.einsum("ik,kij->ij", a_inv[:, 0, :], basis)
    s = np.einsum("ik,kij->ij", a_inv[:, 1, :], basis)
    return f, s


def bandwidth(x: np.ndarray) -> float:
    """h = max(2 grid steps, span / 50) in the units of x (decades of lr)."""
    span = float(x[-1] - x[0])
    step = float(np.median(np.diff(x))) if len(x) > 1 else span
    return max(2.0 * step, span / 50.0, 1e-6)


def _crossing(x: np.ndarray, fit: np.ndarray, imin: int, level: float) -> float:
    """log10 lr where the fit, walking left from its minimum, last rises above ``level`` (interpolated)."""
    k = imin
    while k > 0 and fit[k - 1] < level:
        k -= 1
    if k == 0:
        return float(x[0])
    t = (fit[k - 1] - level) / max(fit[k - 1] - fit[k], 1e-300)
    return float(x[k - 1] + min(max(t, 0.0), 1.0) * (x[k] - x[k - 1]))


def _valley(fit: np.ndarray, imin: int) -> int:
    """fastai's valley on the fit: the longest decreasing run before the minimum, a bit past its middle."""
    best = (0, 0)
    i = 0
    while i <= imin:
        j = i
        while j + 1 <= imin and fit[j + 1] < fit[j]:
            j += 1
        if j - i > best[1] - best[0]:
            best = (i, j)
        i = j + 1
    length = best[1] - best[0]
    return best[0] + length // 3 + length // 6


def _starting_level(fit: np.ndarray, imin: int) -> float:
    """The fit's level before it falls: the median of its first third up to the minimum (3 points at least)."""
    head = max(3, imin // 3)
    return float(np.median(fit[:head])) if imin > 0 else float(fit[0])


def primary_rule(batchnorm: bool = False) -> str:
    """The rule behind ``suggestion``: ``turn`` for a model with BatchNorm layers, else ``turn_over_3``.

    >>> primary_rule(), primary_rule(batchnorm=True)
    ('turn_over_3', 'turn')
    """
    return BATCHNORM_PRIMARY if batchnorm else PRIMARY


def rules(x: np.ndarray, fit: np.ndarray, slope: np.ndarray, *,
          batchnorm: bool = False) -> tuple[dict[str, float], tuple[float, float]]:
    """Every rule for one fitted curve, and the range's bounds, as log10 lr (the top: 1cycle's peak, placed
    for a model with or without BatchNorm)."""
    imin = int(np.argmin(fit))
    top = _starting_level(fit, imin)
    low = float(fit[imin])
    steep = int(np.argmin(slope[: imin + 1]))
    drop = top - low
    turn = _crossing(x, fit, imin, top - TURN_DROP * drop)
    out = {
        "turn_over_3": turn - CONSTANT_BELOW_TURN,
        "turn": turn,
        "steepest": float(x[steep]),
        "midpoint": _crossing(x, fit, imin, top - 0.5 * (top - low)),
        "valley": float(x[_valley(fit, imin)]),
        "minimum_over_10": float(x[imin]) - 1.0,
    }
    out["combined"] = 0.5 * (out["steepest"] + out["midpoint"])
    peak = turn + BATCHNORM_PEAK_ABOVE_TURN if batchnorm else turn - PEAK_BELOW_TURN
    bounds = (min(_crossing(x, fit, imin, top - 0.1 * drop), peak), peak)
    return {k: out[k] for k in RULES}, bounds


def _doubts(y: np.ndarray, fit: np.ndarray) -> tuple[list[str], bool]:
    """Why a fitted curve's suggestion may mislead, and whether it is still reliable."""
    notes = []
    imin = int(np.argmin(fit))
    top = _starting_level(fit, imin)
    drop = top - float(fit[imin])
    noise = float(np.median(np.abs(y - fit))) * 1.4826
    reliable = True
    if drop <= 3 * noise or drop <= 0.02 * abs(top):
        notes.append(f"the loss hardly fell during the sweep (drop {drop:.3g} against noise {noise:.3g}): "
                     "the suggestion is unreliable; widen the lr range or check the model")
        reliable = False
    if imin >= len(fit) - 2:
        notes.append("the loss was still falling at end_lr: raise end_lr to see where it turns")
    if imin <= 1:
        notes.append("the loss was lowest at start_lr: lower start_lr")
        reliable = False
    return notes, reliable


def _bootstrap_interval(x, y, fit, f, s, resamples: int, rule: str) -> tuple[float, float]:
    """5-95 % of ``rule`` over fits to fit + residual x random signs (own generator, seed 0)."""
    rng = np.random.default_rng(0)  # never touches the global RNGs
    signs = rng.choice([-1.0, 1.0], size=(len(y), resamples))
    ys = fit[:, None] + (y - fit)[:, None] * signs
    fits, slopes = f @ ys, s @ ys
    values = [rules(x, fits[:, b], slopes[:, b])[0][rule] for b in range(resamples)]
    lo, hi = np.percentile(values, [5, 95])
    return float(lo), float(hi)


def suggest(lrs, losses, *, bootstrap: int = BOOTSTRAP, batchnorm: bool = False) -> dict[str, Any]:
    """Read the suggestions off one curve (see the module docstring); ``batchnorm``: the model has BatchNorm
    layers, which moves the suggestion and the range's top up (5. above).

    Returns a dict with ``fit``, ``slope`` (d loss / d log10 lr), ``suggestions`` (lr per rule), ``rule``
    (the one behind the suggestion), ``range``, ``interval`` (90 % bootstrap interval of the suggestion),
    ``notes`` (why it may be unreliable) and ``reliable``.
    """
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    ok = np.isfinite(losses) & (lrs > 0)
    n_ok = int(ok.sum())
    if n_ok < MIN_POINTS:
        raise UserError(f"the range test produced {n_ok} usable points; at least {MIN_POINTS} are needed "
                        "(lower start_lr, raise num_iter, or check the loss for NaN)")
    x = np.log10(lrs[ok])
    y = robust_clip(losses[ok])
    f, s = local_quadratic(x, bandwidth(x))
    fit, slope = f @ y, s @ y
    found, bounds = rules(x, fit, slope, batchnorm=batchnorm)
    notes, reliable = _doubts(y, fit)
    rule = primary_rule(batchnorm)
    interval = (found[rule], found[rule])
    if bootstrap > 0:
        interval = _bootstrap_interval(x, y, fit, f, s, bootstrap, rule)
    full_fit = np.full(len(lrs), np.nan)
    full_slope = np.full(len(lrs), np.nan)
    full_fit[ok], full_slope[ok] = fit, slope
    return {
        "fit": full_fit, "slope": full_slope,
        "suggestions": {k: float(10.0**v) for k, v in found.items()}, "rule": rule,
        "range": (float(10.0 ** bounds[0]), float(10.0 ** bounds[1])),
        "interval": (float(10.0 ** interval[0]), float(10.0 ** interval[1])),
        "notes": notes, "reliable": reliable,
    }


def band_around(rate: float, edges: tuple[float, float] = BAND) -> tuple[float, float]:
    """(rate * 10**edges[0], rate * 10**edges[1]): where the rates within 1 % of the best validation loss are
    expected, for a suggestion (``BAND``) or a 1cycle peak (``PEAK_BAND``).

    >>> [round(v, 6) for v in band_around(0.1, (-1.0, 0.5))]
    [0.01, 0.316228]
    """
    return float(rate * 10.0 ** edges[0]), float(rate * 10.0 ** edges[1])
