"""Torch's arithmetic, replayed, so that a schedule's rate matches its torch twin to 1e-12.

Where torch computes a rate by chained multiplication (StepLR, MultiStepLR, ExponentialLR, LinearLR) the
product is replayed in the same order and cached as a table; where it uses a closed form with ``math.cos``
(CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts) :func:`cos` gives the same bits.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import cache

import numpy as np

REPLAY_LIMIT = 1 << 21  # longest replayed table (16 MB); beyond it the closed forms take over (a few ulps away)
_TABLES: OrderedDict[tuple, np.ndarray] = OrderedDict()


@cache
def _numpy_cos_is_libm() -> bool:
    """Whether np.cos gives the same bits as math.cos (torch's schedulers use math.cos) on this machine."""
    probe = np.concatenate([np.linspace(0.0, 8.0, 4099), np.pi * np.arange(1, 600) / 599.0])
    return bool(np.array_equal(np.cos(probe), np.array([math.cos(v) for v in probe.tolist()])))


def cos(x: np.ndarray) -> np.ndarray:
    """cos with math.cos's bits (near x = pi, 1 + cos(x) cancels: one ulp here is 1e-11 of the rate)."""
    if _numpy_cos_is_libm():
        return np.cos(x)
    flat = np.fromiter(map(math.cos, x.ravel().tolist()), dtype=np.float64, count=x.size)
    return flat.reshape(x.shape)


def table(key: tuple, n: int, extend: Callable[[np.ndarray | None, int], np.ndarray]) -> np.ndarray:
    """A cached table of at least n + 1 replayed values; ``extend(table, n)`` returns a longer one."""
    found = _TABLES.get(key)
    if found is None or found.size <= n:
        found = extend(found, max(n, 2 * found.size if found is not None else n))
    _TABLES[key] = found
    _TABLES.move_to_end(key)
    while len(_TABLES) > 16:
        _TABLES.popitem(last=False)
    return found


def chain(base: float, factor: float, k: np.ndarray) -> np.ndarray:
    """base * factor**k for k >= 0 as torch's repeated ``lr * gamma`` computes it.

    For integral k up to 2**21 the product is replayed (np.multiply.accumulate multiplies left to right, as
    the scheduler does step after step); otherwise the closed form base * factor**k is used.
    """

    def extend(so_far: np.ndarray | None, n: int) -> np.ndarray:
        so_far = np.array([base]) if so_far is None else so_far
        more = np.full(n + 1 - so_far.size + 1, factor)
        more[0] = so_far[-1]
        return np.concatenate([so_far, np.multiply.accumulate(more)[1:]])

    out = np.empty_like(k)
    exact = (k <= REPLAY_LIMIT) & (np.floor(k) == k)
    if np.any(exact):
        idx = k[exact].astype(np.int64)
        out[exact] = table(("chain", base, factor), int(idx.max()), extend)[idx]
    if not np.all(exact):
        out[~exact] = base * np.power(factor, k[~exact])
    return out


def linear_lr(base: float, start_factor: float, end_factor: float, total: int, t: np.ndarray) -> np.ndarray:
    """torch's LinearLR: base * (start_factor + (end_factor - start_factor) * min(t, total) / total).

    LinearLR multiplies the rate by 1 + (e - s) / (total * s + (t - 1) * (e - s)) at each step; near a small
    end_factor that factor is a difference of nearly equal numbers, so its rounding reaches 1e-12 of the rate.
    The factors depend on t only, so for integral t we replay the product exactly.  Otherwise, and when
    start_factor is 0 (which LinearLR refuses), we use the closed form, written as a weighted mean so
    that nothing cancels.
    """
    u = np.minimum(t, total)
    out = base * (start_factor * (total - u) + end_factor * u) / total
    exact = (np.floor(u) == u) & (start_factor > 0) & (total <= REPLAY_LIMIT)
    if np.any(exact):

        def build(_so_far: np.ndarray | None, _n: int) -> np.ndarray:
            steps = np.arange(1, total + 1, dtype=np.float64)
            delta = end_factor - start_factor
            factors = 1.0 + delta / (total * start_factor + (steps - 1) * delta)
            return np.multiply.accumulate(np.concatenate([[base * start_factor], factors]))

        replayed = table(("linear", base, start_factor, end_factor, total), total, build)
        out[exact] = replayed[u[exact].astype(np.int64)]
    return out
