"""The loss laws: a plain power law in steps and the two schedule-aware laws, each as a small object.

Inside, every law works in scale-free units: rates divided by a ``peak`` rate (u = eta / peak) and steps and
areas divided by a ``horizon`` (s1 = sum of u / horizon), so its constants are O(1) whatever the model; the
fitted constants are turned back into the user's units by :meth:`Law.user_params`.  The area S1 counts the
warm-up (the multi-power law's S1 + S_W); the annealing terms start after it.

- ``power``: L(t) = L0 + A * (t + t0)^-alpha, in optimizer steps, blind to the schedule (the baseline).
- ``tissue`` (Tissue et al. 2024, arXiv:2408.11029): L = L0 + A * S1^-alpha - C * S2, S2(t) = sum_{i<=t} m_i,
  m_i = lambda * m_{i-1} + (eta_{i-1} - eta_i).  lambda is fitted as the time scale 1 / (1 - lambda) of the
  annealing momentum (bounded to 1 step .. 10 horizons), or held fixed (``TissueLaw(0.999)``, the paper's
  1000-step memory): :func:`~.choose.make_law` fits it only where a sharp decay pins it down
  (bench/RESULTS.md compares the two on every public curve).
- ``mpl`` (Luo et al. 2025, arXiv:2503.12811): L = L0 + A * (S1 + S_W)^-alpha - LD, LD(t) = B * sum_k
  (eta_{k-1} - eta_k) * G(eta_k^-gamma * S_k(t)), G(x) = 1 - (C x + 1)^-beta, evaluated on blocks of steps
  (:mod:`.blocks`), with its Jacobian in closed form (it is the costly one).

A law gives ``features`` for one run (what does not depend on the constants), ``value`` and ``jacobian`` of
the predicted loss, its bounds, and ``grid``/``basis`` for the starts: for each point of a small grid of the
non-linear constants the linear ones (L0, A and the annealing amplitude) solve a non-negative least squares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .blocks import drop_blocks


@dataclass(frozen=True)
class Scale:
    """The units the fit works in: ``peak`` rate -> 1, ``horizon`` steps -> 1."""

    peak: float
    horizon: float


@dataclass(frozen=True)
class Run:
    """One run as a law sees it: per-step rates ``u`` (divided by the peak), warm-up steps, the 1-based steps
    ``rows`` to evaluate, and the normalised area at those rows ``s1``."""

    u: np.ndarray
    warmup: int
    rows: np.ndarray
    s1: np.ndarray
    scale: Scale


def make_run(rates: np.ndarray, warmup: int, rows: np.ndarray, scale: Scale) -> Run:
    """A :class:`Run` from user-unit ``rates`` (one per step, at least up to max(rows)) and logged ``rows``.

    The loss a training loop logs at step t comes from step t's forward pass, before that step's update: it
    reflects the updates of steps 1..t-1.  So a logged row t is evaluated after t-1 updates (visible at a
    sharp decay: the row that first shows the new rate still shows the old loss).
    """
    done = np.maximum(np.asarray(rows, dtype=np.int64) - 1, 1)
    u = np.asarray(rates[: int(done[-1])], dtype=np.float64) / scale.peak
    area = np.cumsum(u)
    s1 = np.maximum(area[done - 1] / scale.horizon, 1e-12)
    return Run(u, int(warmup), done, s1, scale)


class Law:
    """One loss law; see the module docstring.  ``names``: internal constants in order; ``linear``: indices of
    the constants that enter linearly (solved exactly at each grid point for the starts)."""

    name = ""
    title = ""
    names: tuple[str, ...] = ()
    linear: tuple[int, ...] = ()

    def bounds(self, y_max: float) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def features(self, run: Run):
        return run

    def value(self, theta: np.ndarray, f) -> np.ndarray:
        raise NotImplementedError

    def jacobian(self, theta: np.ndarray, f) -> np.ndarray | None:
        """d value / d theta (rows x constants), or None to let the fitter take finite differences."""
        return None

    def value_and_jacobian(self, theta: np.ndarray, f) -> tuple[np.ndarray, np.ndarray]:
        return self.value(theta, f), self.jacobian(theta, f)

    def grid(self) -> list[tuple[float, ...]]:
        """Points of the non-linear constants to start from."""
        raise NotImplementedError

    def basis(self, point: tuple[float, ...], f) -> np.ndarray:
        """Columns multiplying the linear constants (each with the sign that makes its constant >= 0)."""
        raise NotImplementedError

    def assemble(self, linear: np.ndarray, point: tuple[float, ...]) -> np.ndarray:
        """The full internal constant vector from the linear solution and the grid point."""
        raise NotImplementedError

    def user_params(self, theta: np.ndarray, scale: Scale) -> dict[str, float]:
        raise NotImplementedError

    def release(self) -> None:
        """Drop what the starting grid cached (the fitted law is kept with the forecast; its data need not be)."""


class PowerLaw(Law):
    """L(t) = L0 + A * (t + t0)^-alpha, t in optimizer steps (no schedule awareness)."""

    name = "power"
    title = "power law in steps"
    names = ("L0", "A", "alpha", "t0")
    linear = (0, 1)

    def bounds(self, y_max):
        return np.array([0.0, 0.0, 0.01, 0.0]), np.array([y_max, 1e3 * y_max, 5.0, 2.0])

    def features(self, run):
        return run.rows / run.scale.horizon

    def value(self, theta, f):
        L0, A, alpha, t0 = theta
        return L0 + A * (f + t0) ** -alpha

    def grid(self):
        return [(a, t0) for a in (0.2, 0.5, 1.0) for t0 in (0.0, 0.05, 0.3)]

    def basis(self, point, f):
        alpha, t0 = point
        return np.column_stack([np.ones_like(f), (f + t0) ** -alpha])

    def assemble(self, linear, point):
        return np.array([linear[0], linear[1], point[0], point[1]])

    def user_params(self, theta, scale):
        L0, A, alpha, t0 = (float(v) for v in theta)
        return {"L0": L0, "A": A * scale.horizon**alpha, "alpha": alpha, "t0": t0 * scale.horizon}


@dataclass(frozen=True)
class TissueFeatures:
    s1: np.ndarray
    drops: np.ndarray  # per step, 0 in the warm-up
    rows: np.ndarray
    horizon: float


class TissueLaw(Law):
    """L = L0 + A * S1^-alpha - C * S2 with the annealing momentum's time scale fitted (or fixed: ``lam``)."""

    name = "tissue"
    title = "LR-annealing law (Tissue et al. 2024)"
    names = ("L0", "A", "alpha", "C", "log_tau")
    linear = (0, 1, 3)

    def __init__(self, lam: float | None = None):
        self.lam = lam  # None: fitted

    def bounds(self, y_max):
        lo = np.array([0.0, 0.0, 0.01, 0.0, math.log(1e-6)])
        hi = np.array([y_max, 1e3 * y_max, 5.0, 1e4 * y_max, math.log(10.0)])
        return lo, hi

    def features(self, run):
        drops = np.zeros(run.u.size)
        drops[1:] = run.u[:-1] - run.u[1:]
        drops[: max(run.warmup, 1)] = 0.0
        return TissueFeatures(run.s1, drops, run.rows, run.scale.horizon)

    def _lambda(self, log_tau, horizon):
        if self.lam is not None:
            return self.lam
        return 1.0 - 1.0 / max(math.exp(log_tau) * horizon, 1.0)

    def s2(self, lam: float, f: TissueFeatures) -> np.ndarray:
        momentum = lfilter([1.0], [1.0, -lam], f.drops)
        return np.cumsum(momentum)[f.rows - 1] / f.horizon

    def value(self, theta, f):
        L0, A, alpha, C, log_tau = theta
        return L0 + A * f.s1**-alpha - C * self.s2(self._lambda(log_tau, f.horizon), f)

    def jacobian(self, theta, f):
        return self.value_and_jacobian(theta, f)[1]

    def value_and_jacobian(self, theta, f):
        L0, A, alpha, C, log_tau = theta
        lam = self._lambda(log_tau, f.horizon)
        denominator = [1.0, -lam]
        momentum = lfilter([1.0], denominator, f.drops)
        s2 = np.cumsum(momentum)[f.rows - 1] / f.horizon
        s_pow = f.s1**-alpha
        J = np.empty((f.s1.size, 5))
        J[:, 0] = 1.0
        J[:, 1] = s_pow
        J[:, 2] = -A * s_pow * np.log(f.s1)
        J[:, 3] = -s2
        J[:, 4] = 0.0
        if self.lam is None and math.exp(log_tau) * f.horizon > 1.0:
            # dm_i/dlambda = m_{i-1} + lambda dm_{i-1}/dlambda, and dlambda/dlog_tau = 1 - lambda
            d_momentum = lfilter([1.0], denominator, np.concatenate([[0.0], momentum[:-1]]))
            J[:, 4] = -C * (1.0 - lam) * np.cumsum(d_momentum)[f.rows - 1] / f.horizon
        return L0 + A * s_pow - C * s2, J

    def grid(self):
        taus = (0.04,) if self.lam is not None else (0.003, 0.01, 0.03, 0.1)
        return [(a, t) for a in (0.2, 0.4, 0.7, 1.0) for t in taus]

    def basis(self, point, f):
        alpha, tau = point
        return np.column_stack([np.ones_like(f.s1), f.s1**-alpha, -self.s2(self._lambda(math.log(tau), f.horizon),
                                                                           f)])

    def assemble(self, linear, point):
        return np.array([linear[0], linear[1], point[0], linear[2], math.log(point[1])])

    def user_params(self, theta, scale):
        L0, A, alpha, C, log_tau = (float(v) for v in theta)
        lam = self._lambda(log_tau, scale.horizon)
        return {"L0": L0, "A": A * (scale.peak * scale.horizon) ** alpha, "alpha": alpha,
                "C": C / (scale.peak * scale.horizon), "lambda": lam}


@dataclass(frozen=True)
class MplFeatures:
    s1: np.ndarray  # (R,)
    area: np.ndarray  # (R, K): S_k(t) per row and block, 0 where the block comes after the row
    drop: np.ndarray  # (K,)
    log_rate: np.ndarray  # (K,)


class MultiPowerLaw(Law):
    """L = L0 + A * S1^-alpha - B * sum_k drop_k * (1 - (C * eta_k^-gamma * S_k(t) + 1)^-beta)."""

    name = "mpl"
    title = "multi-power law (Luo et al. 2025)"
    names = ("L0", "A", "alpha", "B", "log_C", "beta", "gamma")
    linear = (0, 1, 3)

    def __init__(self, block: int | None = None):
        self.block = block  # steps per block; None: BLOCK, longer where the drops span more than MAX_BLOCKS
        self._last_drop = None

    def bounds(self, y_max):
        lo = np.array([0.0, 0.0, 0.01, 0.0, math.log(1e-2), 0.01, 0.0])
        hi = np.array([y_max, 1e3 * y_max, 5.0, 1e3 * y_max, math.log(1e8), 5.0, 2.0])
        return lo, hi

    def features(self, run):
        horizon = run.scale.horizon
        cumulative = np.cumsum(run.u)
        b = drop_blocks(run.u, cumulative, run.warmup, self.block, cuts=run.rows)
        at_rows = cumulative[run.rows - 1]
        area = np.clip(at_rows[:, None] - b.area[None, :], 0.0, None) / horizon
        return MplFeatures(run.s1, area, b.drop, np.log(b.rate))

    def _terms(self, theta, f):
        """z = 1 + C x, log z and P = z^-beta over the (rows x blocks) matrix, computed in place."""
        C, beta, gamma = math.exp(theta[4]), theta[5], theta[6]
        z = f.area * (C * np.exp(-gamma * f.log_rate))[None, :]
        z += 1.0
        log_z = np.log(z)
        power = np.multiply(log_z, -beta)
        np.exp(power, out=power)
        return z, log_z, power

    def value(self, theta, f):
        L0, A, alpha, B = theta[:4]
        base = L0 + A * f.s1**-alpha
        if f.drop.size == 0:
            return base
        power = self._terms(theta, f)[2]
        return base - B * (f.drop.sum() - power @ f.drop)

    def jacobian(self, theta, f):
        return self.value_and_jacobian(theta, f)[1]

    def value_and_jacobian(self, theta, f):
        L0, A, alpha, B = theta[:4]
        beta = theta[5]
        J = np.zeros((f.s1.size, 7))
        s_pow = f.s1**-alpha
        J[:, 0] = 1.0
        J[:, 1] = s_pow
        J[:, 2] = -A * s_pow * np.log(f.s1)
        if f.drop.size == 0:
            return L0 + A * s_pow, J
        z, log_z, power = self._terms(theta, f)
        p_drop = power @ f.drop
        J[:, 3] = p_drop - f.drop.sum()  # -(sum of drop * G)
        log_z *= power  # P log z = dG / d beta
        J[:, 5] = -B * (log_z @ f.drop)
        np.divide(power, z, out=z)
        np.subtract(power, z, out=z)  # P (z - 1) / z = dG / d log C
        J[:, 4] = -B * beta * (z @ f.drop)
        J[:, 6] = B * beta * (z @ (f.drop * f.log_rate))
        return L0 + A * s_pow + B * J[:, 3], J

    def grid(self):
        # alpha varies fastest: basis() reuses the loss-drop column while (C, beta, gamma) stay the same
        return [(a, c, b, g) for c in (100.0, 1000.0, 10000.0) for b in (0.3, 1.0) for g in (0.3, 0.7)
                for a in (0.25, 0.5, 0.8)]

    def basis(self, point, f):
        alpha, C, beta, gamma = point
        key = (C, beta, gamma)
        if self._last_drop is None or self._last_drop[0] != key or self._last_drop[1] is not f:
            theta = np.array([0.0, 0.0, alpha, 0.0, math.log(C), beta, gamma])
            drop = self._terms(theta, f)[2] @ f.drop - f.drop.sum() if f.drop.size else np.zeros_like(f.s1)
            self._last_drop = (key, f, drop)
        return np.column_stack([np.ones_like(f.s1), f.s1**-alpha, self._last_drop[2]])

    def release(self):
        self._last_drop = None

    def assemble(self, linear, point):
        alpha, C, beta, gamma = point
        return np.array([linear[0], linear[1], alpha, linear[2], math.log(C), beta, gamma])

    def user_params(self, theta, scale):
        L0, A, alpha, B, log_C, beta, gamma = (float(v) for v in theta)
        p, h = scale.peak, scale.horizon
        return {"L0": L0, "A": A * (p * h) ** alpha, "alpha": alpha, "B": B / p,
                "C": math.exp(log_C) * p ** (gamma - 1.0) / h, "beta": beta, "gamma": gamma}


LAWS = {"mpl": MultiPowerLaw, "tissue": TissueLaw, "power": PowerLaw}


def make_law(name: str) -> Law:
    return LAWS[name]()
