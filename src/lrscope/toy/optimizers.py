"""SGD, heavy-ball momentum and Adam on a 2-D surface, for many runs at once.

All runs advance together as arrays of shape (R, 2); each run has its own learning-rate sequence (a row of
``lr_table``), so constant rates and a schedule are run side by side in one vectorised loop.

Update rules (the PyTorch forms):

- ``sgd``:       θ ← θ - η_t g
- ``momentum``:  v ← β v + g,  θ ← θ - η_t v            (heavy ball, Polyak 1964; torch.optim.SGD(momentum=β))
- ``adam``:      m ← β1 m + (1-β1) g,  v ← β2 v + (1-β2) g²,
                 θ ← θ - η_t m̂ / (√v̂ + ε),  m̂ = m/(1-β1^t), v̂ = v/(1-β2^t)   (Kingma & Ba 2015)

Gradient noise: ``g = ∇f(θ) + S ξ`` with ξ ~ N(0, I), one independent seeded stream per run.  On a quadratic
with Hessian eigenvalues h_i, SGD at a constant rate η then settles at the noise floor ``E[f] = Σ_i η S² / (2
(2 - η h_i))`` (Zhang et al. 2019, arXiv:1907.04164): the floor shrinks with the rate, which is why the loss
falls after each decay of a piecewise-constant schedule.

A run that leaves all bounds (farther than 1000 window diagonals from its start, or a non-finite value) is
frozen at NaN from that step on and its ``diverged_at`` step recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..validate import unsigned_seed
from .surfaces import ToySurface

OPTIMIZERS = ("sgd", "momentum", "adam")
_BLOWUP = 1000.0  # in window diagonals


@dataclass
class Trajectories:
    """The path of every run: ``points[r, t]`` is θ after t steps (t = 0 .. steps)."""

    surface: ToySurface
    optimizer: str
    labels: list[str]
    lr_table: np.ndarray  # (R, steps): the rate used at each step
    points: np.ndarray  # (R, steps + 1, 2)
    losses: np.ndarray  # (R, steps + 1), f at each point (NaN after divergence)
    diverged_at: list[int | None] = field(default_factory=list)
    noise: float = 0.0
    seed: int = 0

    @property
    def steps(self) -> int:
        return self.lr_table.shape[1]


def schedule_rates(schedule, steps: int) -> np.ndarray:
    """The rates ``schedule(t)`` for t = 0 .. steps-1: a spec in lrscope's schedule language or a callable."""
    if isinstance(schedule, str):
        try:
            from ..schedules import parse_schedule
        except ImportError as error:  # the schedules package is not there yet
            raise UserError(f"schedules are not available here ({error})") from None
        schedule = parse_schedule(schedule)
    t = np.arange(steps, dtype=float)
    try:
        rates = np.asarray(schedule(t), dtype=float)
    except Exception:  # noqa: BLE001 - a scalar-only callable
        rates = np.array([float(schedule(float(i))) for i in range(steps)])
    rates = np.broadcast_to(rates, (steps,)).astype(float)
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise UserError("the schedule gives a negative or non-finite learning rate")
    return rates


def check_rates(lrs: Sequence[float]) -> list[float]:
    rates = [float(r) for r in lrs]
    bad = [r for r in rates if not np.isfinite(r) or r <= 0]
    if bad:
        raise UserError(f"learning rates must be positive numbers; got {bad}")
    return rates


def optimize(
    surface: ToySurface,
    lr_table: np.ndarray,
    *,
    optimizer: str = "sgd",
    noise: float = 0.0,
    seed: int = 0,
    start: tuple[float, float] | None = None,
    momentum: float = 0.9,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    labels: Sequence[str] | None = None,
) -> Trajectories:
    """Run ``optimizer`` on ``surface`` for every row of ``lr_table`` (shape (R, steps)) at once."""
    if optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}")
    if noise < 0 or not np.isfinite(noise):
        raise UserError(f"noise must be a non-negative number; got {noise}")
    lr_table = np.atleast_2d(np.asarray(lr_table, dtype=float))
    runs, steps = lr_table.shape
    if steps < 1:
        raise UserError(f"steps must be at least 1; got {steps}")
    x0 = np.array(surface.start if start is None else start, dtype=float)
    xmin, xmax, ymin, ymax = surface.window
    bound = _BLOWUP * float(np.hypot(xmax - xmin, ymax - ymin))

    theta = np.tile(x0, (runs, 1))
    points = np.empty((runs, steps + 1, 2))
    points[:, 0] = theta
    alive = np.ones(runs, dtype=bool)
    diverged_at: list[int | None] = [None] * runs
    buf = np.zeros_like(theta)  # momentum buffer or Adam's first moment
    second = np.zeros_like(theta)  # Adam's second moment
    rngs = [np.random.default_rng([unsigned_seed(seed), r]) for r in range(runs)]
    b1, b2 = betas

    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            gx, gy = surface.gradient(theta[:, 0], theta[:, 1])
            g = np.stack([gx, gy], axis=1)
            if noise > 0:
                g = g + noise * np.stack([rng.standard_normal(2) for rng in rngs])
            lr = lr_table[:, t : t + 1]
            if optimizer == "sgd":
                theta = theta - lr * g
            elif optimizer == "momentum":
                buf = momentum * buf + g if t else g.copy()
                theta = theta - lr * buf
            else:
                buf = b1 * buf + (1 - b1) * g
                second = b2 * second + (1 - b2) * g * g
                m_hat = buf / (1 - b1 ** (t + 1))
                v_hat = second / (1 - b2 ** (t + 1))
                theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
            blown = alive & ~(np.all(np.isfinite(theta), axis=1) & (np.abs(theta - x0).max(axis=1) < bound))
            for r in np.flatnonzero(blown):
                diverged_at[r] = t + 1
            alive &= ~blown
            theta[~alive] = np.nan
            points[:, t + 1] = theta

        losses = surface.value(points[..., 0], points[..., 1])
    losses = np.where(np.isfinite(losses), losses, np.nan)
    if labels is None:
        labels = [f"lr {row[0]:g}" if np.all(row == row[0]) else "schedule" for row in lr_table]
    return Trajectories(surface, optimizer, list(labels), lr_table, points, losses, diverged_at, noise, seed)


def run_rates(
    surface: ToySurface,
    lrs: Sequence[float] = (),
    *,
    steps: int,
    optimizer: str = "sgd",
    noise: float = 0.0,
    seed: int = 0,
    schedule: str | Callable | None = None,
    schedule_label: str | None = None,
) -> Trajectories:
    """Constant-rate runs for each of ``lrs`` and, with ``schedule``, one scheduled run after them."""
    rates = check_rates(lrs)
    if steps < 1:
        raise UserError(f"--steps must be at least 1; got {steps}")
    rows = [np.full(steps, r) for r in rates]
    labels = [f"lr {r:g}" for r in rates]
    if schedule is not None:
        rows.append(schedule_rates(schedule, steps))
        label = schedule_label or (schedule if isinstance(schedule, str) else "schedule")
        labels.append(str(label))
    if not rows:
        raise UserError("give at least one learning rate (--lrs A,B,C) or a --schedule")
    return optimize(surface, np.stack(rows), optimizer=optimizer, noise=noise, seed=seed, labels=labels)


def noise_floor(lr: float, hessian_eigenvalues: Sequence[float], noise: float) -> float:
    """Stationary E[f] of SGD at constant rate ``lr`` on ½ Σ h_i θ_i² with gradient noise S per coordinate.

    s_i* = η S² / (h_i (2 - η h_i)), E[f] = ½ Σ h_i s_i* = Σ η S² / (2 (2 - η h_i))   (Zhang et al. 2019).
    """
    h = np.asarray(hessian_eigenvalues, dtype=float)
    if np.any(lr * h >= 2):
        return float("inf")
    return float(np.sum(lr * noise**2 / (2.0 * (2.0 - lr * h))))
