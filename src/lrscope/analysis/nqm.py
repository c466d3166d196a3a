"""The noisy quadratic model (NQM) of Zhang, Li, Nado et al. 2019, "Which Algorithmic Choices Matter at Which
Batch Sizes?" (arXiv:1907.04164), solved in closed form for any lrscope schedule.

Loss L(theta) = 1/2 sum_i h_i theta_i^2; a minibatch of B examples gives gradient noise of variance c_i / B in
mode i. SGD with rate alpha_t moves the second moment s_i = E[theta_i^2] by

    s_i(t+1) = (1 - alpha_t h_i)^2 s_i(t) + alpha_t^2 c_i / B

While the rate stays at alpha the solution is s_i(t) = s_i* + (1 - alpha h_i)^(2 (t - t0)) (s_i(t0) - s_i*)
with the fixed point s_i* = alpha c_i / (B h_i (2 - alpha h_i)).  We cut the schedule into runs of constant
rate and apply the closed form on each run, for all modes at once; a schedule that changes every step reduces
to the recursion itself. Expected loss E[L](t) = 1/2 sum_i h_i s_i(t); the floor of rate alpha is L*(alpha) =
sum_i alpha c_i / (2 B (2 - alpha h_i)), about alpha tr(C) / (4 B) when alpha h_i << 1.  A cut alpha1 ->
alpha2 brings the high-curvature modes to the new floor within ~1 / (2 alpha2 h_i) steps: the staircase,
analytically.

Momentum is folded in as the effective rate alpha / (1 - beta) (an approximation; see analysis/noise_floor.py).
NumPy only.

Time is walked in blocks of ``_BLOCK`` steps, so ``expected_loss`` needs memory for one block, not for all
T x modes second moments; a rate that changes at every step costs a few microseconds a step (the recursion,
its coefficients computed a block at a time).  ``MAX_STEPS`` (10**6) bounds T: about 10 s for a schedule
that changes every step with 100 modes on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..validate import check_int

MAX_STEPS = 1_000_000  # steps of one NQM curve (--steps); 10**6 per-step rates take about 10 s
_BLOCK = 4096  # steps of second moments held at once (4096 x modes floats)


@dataclass(frozen=True)
class Spectrum:
    """Curvatures h_i and per-example noise variances c_i of the modes (the NQM's C = H by default)."""

    h: np.ndarray
    c: np.ndarray

    @classmethod
    def power_law(cls, modes: int = 1000, h_max: float = 1.0, power: float = 1.0) -> Spectrum:
        """h_i = h_max * i^(-power), i = 1..modes, and c_i = h_i (Zhang et al.'s choice)."""
        h = h_max * np.arange(1, modes + 1, dtype=np.float64) ** (-power)
        return cls(h=h, c=h.copy())


def _validate(spectrum: Spectrum, batch_size: float) -> tuple[np.ndarray, np.ndarray]:
    h, c = np.asarray(spectrum.h, np.float64), np.asarray(spectrum.c, np.float64)
    if h.shape != c.shape or h.ndim != 1 or h.size == 0:
        raise UserError(f"h and c must be 1-D arrays of one length; got shapes {h.shape} and {c.shape}")
    if (h <= 0).any() or (c < 0).any():
        raise UserError("curvatures h must be > 0 and noise variances c >= 0")
    if not batch_size > 0:
        raise UserError(f"batch size must be > 0; got {batch_size}")
    return h, c


def fixed_point(lr, h, c, batch_size: float):
    """s* = alpha c / (B h (2 - alpha h)); inf where the rate is unstable (alpha h >= 2)."""
    lr, h, c = np.asarray(lr, np.float64), np.asarray(h, np.float64), np.asarray(c, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = lr * c / (batch_size * h * (2.0 - lr * h))
    return np.where(lr * h < 2.0, s, np.inf)


def floor_loss(lr: float, spectrum: Spectrum, batch_size: float = 1.0) -> float:
    """L*(alpha) = 1/2 sum_i h_i s_i*(alpha) = sum_i alpha c_i / (2 B (2 - alpha h_i))."""
    h, c = _validate(spectrum, batch_size)
    return float(0.5 * np.sum(h * fixed_point(lr, h, c, batch_size)))


def rates(schedule, steps: int, momentum: float = 0.0) -> np.ndarray:
    """alpha_t / (1 - beta) for t = 0..steps-1 from any callable schedule (an lrscope Schedule or a function).
    """
    steps = check_int("steps", steps, low=1, high=MAX_STEPS)
    t = np.arange(steps, dtype=np.float64)
    try:
        values = np.asarray(schedule(t), dtype=np.float64)
    except UserError:
        raise
    except Exception:  # noqa: BLE001 - a plain scalar function: evaluate point by point
        values = np.array([float(schedule(v)) for v in t])
    values = np.broadcast_to(values, t.shape)
    if not np.isfinite(values).all() or (values < 0).any():
        raise UserError("the schedule gives a negative or non-finite rate")
    return values / (1.0 - momentum)


def second_moments(lrs: np.ndarray, spectrum: Spectrum, batch_size: float = 1.0, s0=1.0) -> np.ndarray:
    """s_i(t) for t = 0..len(lrs) (shape [T + 1, modes]), where lrs[t] is the rate of step t.

    Closed form on each run of equal rates; exact for any sequence of rates.
    """
    h, c = _validate(spectrum, batch_size)
    lrs = np.asarray(lrs, np.float64).reshape(-1)
    out = np.empty((lrs.size + 1, h.size))
    out[0] = _start(s0, h)
    for a, block in _blocks(lrs, h, c, batch_size, out[0]):
        out[a + 1 : a + 1 + len(block)] = block
    return out


def expected_loss(lrs: np.ndarray, spectrum: Spectrum, batch_size: float = 1.0, s0=1.0) -> np.ndarray:
    """E[L](t) = 1/2 sum_i h_i s_i(t), t = 0..len(lrs) (one block of second moments in memory at a time)."""
    h, c = _validate(spectrum, batch_size)
    lrs = np.asarray(lrs, np.float64).reshape(-1)
    out = np.empty(lrs.size + 1)
    first = _start(s0, h)
    out[0] = 0.5 * first @ h
    for a, block in _blocks(lrs, h, c, batch_size, first):
        out[a + 1 : a + 1 + len(block)] = 0.5 * block @ h
    return out


def _start(s0, h: np.ndarray) -> np.ndarray:
    return np.array(np.broadcast_to(np.asarray(s0, np.float64), h.shape), dtype=np.float64)


def _blocks(lrs: np.ndarray, h: np.ndarray, c: np.ndarray, batch_size: float, s: np.ndarray):
    """Yield (a, block) with block[j] = s(a + 1 + j), for blocks of at most ``_BLOCK`` steps in time order.

    Within a block each run of equal rates gets the closed form; a run of one step gets the recursion itself,
    s <- (1 - alpha h)^2 s + alpha^2 c / B, with the coefficients computed for the whole block at once.
    """
    n = lrs.size
    changes = np.flatnonzero(np.r_[True, lrs[1:] != lrs[:-1]]) if n else np.array([], int)
    for a in range(0, n, _BLOCK):
        b = min(a + _BLOCK, n)
        lr = lrs[a:b]
        inside = changes[np.searchsorted(changes, a, side="right") : np.searchsorted(changes, b, side="left")]
        cuts = np.r_[0, inside - a, b - a].tolist()
        block = np.empty((b - a, h.size))
        if min(np.diff(cuts)) == 1:  # some runs of one step
            decay = (1.0 - lr[:, None] * h) ** 2
            noise = lr[:, None] ** 2 * c / batch_size
        for r0, r1 in zip(cuts[:-1], cuts[1:], strict=True):
            if r1 - r0 == 1:
                s = decay[r0] * s + noise[r0]
                block[r0] = s
            else:
                block[r0:r1] = _run(float(lr[r0]), r1 - r0, s, h, c, batch_size)
                s = block[r1 - 1]
        yield a, block


def _run(lr: float, length: int, s: np.ndarray, h: np.ndarray, c: np.ndarray, batch_size: float) -> np.ndarray:
    """s(t0 + 1 .. t0 + length) at a constant rate from s(t0) = s: the closed form."""
    decay = (1.0 - lr * h) ** 2  # per-step contraction of mode i
    n = np.arange(1, length + 1, dtype=np.float64)[:, None]
    if np.all(lr * h < 2.0):
        star = fixed_point(lr, h, c, batch_size)
        return star + decay**n * (s - star)
    noise = lr**2 * c / batch_size  # unstable modes: sum the geometric series directly (no finite fixed point)
    with np.errstate(over="ignore", invalid="ignore"):
        series = np.where(decay == 1.0, n, (decay**n - 1.0) / (decay - 1.0))
        return decay**n * s + noise * series


def simulate(
    lrs: np.ndarray, spectrum: Spectrum, batch_size: float = 1.0, s0=1.0, replicas: int = 2000, seed: int = 0
) -> np.ndarray:
    """Monte Carlo check of the recursion: run noisy SGD on the quadratic in ``replicas`` copies and return
    the mean of theta_i^2 over copies (shape [T + 1, modes]).
    """
    h, c = _validate(spectrum, batch_size)
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((replicas, h.size)) * np.sqrt(np.broadcast_to(s0, h.shape))
    out = [np.mean(theta**2, axis=0)]
    for lr in np.asarray(lrs, np.float64):
        noise = rng.standard_normal(theta.shape) * np.sqrt(c / batch_size)
        theta = theta - lr * (h * theta + noise)
        out.append(np.mean(theta**2, axis=0))
    return np.array(out)
