"""Schedules that decay or hold: constant, step, multistep, piecewise, exponential, linear, poly, cosine.

Each is a frozen dataclass whose docstring gives s(t), its torch twin and, where there is one, its paper.
The lower-case names are the constructors as the spec language spells them:

>>> from lrscope.schedules.decays import cosine, multistep, step
>>> multistep(0.1, milestones=[30, 45])([0, 30, 45]).tolist()
[0.1, 0.010000000000000002, 0.0010000000000000002]
>>> step(0.1, step_size=10, gamma=0.5)(25)
0.025
>>> cosine(0.1, total=100)(50)
0.05
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .core import Schedule
from .events import multiples
from .params import MAX_INT, float_param, int_param, numbers_param, param_error, set_param, short
from .replay import REPLAY_LIMIT, chain, cos, linear_lr, table


@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """``constant(lr)``: s(t) = lr.  Torch: no scheduler (or LambdaLR with lambda t: 1)."""

    lr: float
    name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        float_param(self, "lr")

    def _lr(self, t):
        return np.full_like(t, self.lr)


@dataclass(frozen=True, repr=False)
class Step(Schedule):
    """``step(lr, step_size, gamma=0.1)``: s(t) = lr * gamma ** floor(t / step_size).  Torch: StepLR.

    Torch multiplies the current rate by gamma at each multiple of step_size; we replay that product.
    """

    lr: float
    step_size: int
    gamma: float = 0.1
    name: ClassVar[str] = "step"

    def __post_init__(self) -> None:
        float_param(self, "lr")
        int_param(self, "step_size")
        float_param(self, "gamma")

    def _lr(self, t):
        return chain(self.lr, self.gamma, np.floor_divide(t, self.step_size))

    def _jumps(self, t0, t1):
        k = multiples(self, self.step_size, t0, t1)
        return k * float(self.step_size), chain(self.lr, self.gamma, k - 1.0)


@dataclass(frozen=True, repr=False)
class MultiStep(Schedule):
    """``multistep(lr, milestones, gamma=0.1)``: s(t) = lr * gamma ** #{m in milestones : m <= t}.

    Torch: MultiStepLR (a milestone listed twice decays by gamma**2 there, as in torch).
    """

    lr: float
    milestones: tuple[int, ...]
    gamma: float = 0.1
    name: ClassVar[str] = "multistep"

    def __post_init__(self) -> None:
        float_param(self, "lr")
        numbers_param(self, "milestones", integer=True, order="non-decreasing", lo=0)
        float_param(self, "gamma")

    def _levels(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct milestones (as floats) and the rate before each of them and after the last."""
        distinct, counts = np.unique(np.asarray(self.milestones, dtype=np.int64), return_counts=True)
        power = {c: self.gamma**c for c in set(counts.tolist())}  # gamma ** (times listed), as Python has it
        factors = [power[c] for c in counts.tolist()]
        return distinct.astype(np.float64), np.multiply.accumulate(np.array([self.lr, *factors]))

    def _lr(self, t):
        distinct, levels = self._levels()
        return levels[np.searchsorted(distinct, t, side="right")]

    def _jumps(self, t0, t1):
        distinct, levels = self._levels()
        lo, hi = np.searchsorted(distinct, [t0, t1], side="left")
        return distinct[lo:hi], levels[lo:hi]


@dataclass(frozen=True, repr=False)
class Piecewise(Schedule):
    """``piecewise(values, boundaries)``: s(t) = values[i] for boundaries[i-1] <= t < boundaries[i].

    len(values) == len(boundaries) + 1.  Torch: MultiStepLR's convention (the new value applies from the
    boundary on); equals LambdaLR with the same step function.
    """

    values: tuple[float, ...]
    boundaries: tuple[float, ...]
    name: ClassVar[str] = "piecewise"

    def __post_init__(self) -> None:
        values = numbers_param(self, "values", integer=False, order=None, lo=0.0, min_len=1)
        bounds = self.boundaries
        if isinstance(bounds, (int, float)) and not isinstance(bounds, bool):
            bounds = [bounds]
        if not isinstance(bounds, (list, tuple)) or any(
            isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds
        ):
            raise param_error(self, f"boundaries must be a list of numbers, got {short(self.boundaries)}")
        if any(not 0 < b <= MAX_INT for b in bounds):  # also refuses nan
            raise param_error(
                self, f"boundaries must be numbers from 0 (excluded) to {MAX_INT:.0e}, got {short(bounds)}"
            )
        bounds = tuple(int(b) if float(b).is_integer() else float(b) for b in bounds)
        if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise param_error(self, f"boundaries must be positive and strictly increasing, got {short(list(bounds))}")
        if len(values) != len(bounds) + 1:
            raise param_error(
                self,
                f"needs one more value than boundaries, got {len(values)} values and {len(bounds)} boundaries",
            )
        set_param(self, "boundaries", bounds)

    def _lr(self, t):
        idx = np.searchsorted(np.array(self.boundaries, dtype=np.float64), t, side="right")
        return np.asarray(self.values, dtype=np.float64)[idx]

    def _jumps(self, t0, t1):
        bounds = np.array(self.boundaries, dtype=np.float64)
        lo, hi = np.searchsorted(bounds, [t0, t1], side="left")
        return bounds[lo:hi], np.asarray(self.values[:-1], dtype=np.float64)[lo:hi]


@dataclass(frozen=True, repr=False)
class Exponential(Schedule):
    """``exponential(lr, gamma)``: s(t) = lr * gamma ** t.  Torch: ExponentialLR (replayed product)."""

    lr: float
    gamma: float
    name: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        float_param(self, "lr")
        float_param(self, "gamma", lo=0.0, lo_open=True)

    def _lr(self, t):
        return chain(self.lr, self.gamma, t)


@dataclass(frozen=True, repr=False)
class Linear(Schedule):
    """``linear(start, end, total)``: s(t) = start + (end - start) * min(t, total) / total.

    Torch: LinearLR(start_factor=1, end_factor=end/start, total_iters=total) on base lr start (for a rising
    line, base lr end and start_factor=start/end); its chained rounding is replayed (see ``linear_lr``).
    """

    start: float
    end: float
    total: int
    positional: ClassVar[int] = 2
    name: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        float_param(self, "start")
        float_param(self, "end")
        int_param(self, "total")

    def _lr(self, t):
        if self.end <= self.start:  # LinearLR(start_factor=1, end_factor=end/start) on base lr start
            if self.start == 0.0:
                return np.zeros_like(t)
            return linear_lr(self.start, 1.0, self.end / self.start, self.total, t)
        return linear_lr(self.end, self.start / self.end, 1.0, self.total, t)  # rising: base lr end


@dataclass(frozen=True, repr=False)
class Poly(Schedule):
    """``poly(lr, total, power=1.0)``: s(t) = lr * (1 - min(t, total) / total) ** power.

    Torch: PolynomialLR(total, power), whose recursion telescopes to this closed form, rounding included.
    """

    lr: float
    total: int
    power: float = 1.0
    name: ClassVar[str] = "poly"

    def __post_init__(self) -> None:
        float_param(self, "lr")
        int_param(self, "total")
        float_param(self, "power", lo=0.0, lo_open=True)

    def _lr(self, t):
        # 1.0 - t / total, not (total - t) / total: torch's recursion telescopes to exactly this rounding.
        return self.lr * np.power(1.0 - np.minimum(t, self.total) / self.total, self.power)


@dataclass(frozen=True, repr=False)
class Cosine(Schedule):
    """``cosine(lr, total, min_lr=0.0)``: s(t) = min_lr + (lr - min_lr) * (1 + cos(pi * t / total)) / 2.

    Loshchilov & Hutter 2017 (SGDR) without restarts.  Torch: CosineAnnealingLR.  For t <= total its
    recursive form agrees with this closed form to a few ulps; past total the rate rises again, as in torch,
    whose recursion we replay there.  To hold min_lr instead, use join(...) or a longer total.
    """

    lr: float
    total: int
    min_lr: float = 0.0
    name: ClassVar[str] = "cosine"

    def __post_init__(self) -> None:
        float_param(self, "lr")
        int_param(self, "total")
        float_param(self, "min_lr")

    def _lr(self, t):
        out = self.min_lr + (self.lr - self.min_lr) * (1 + cos(np.pi * t / self.total)) / 2
        past = (t > self.total) & (np.floor(t) == t) & (t <= self.total + REPLAY_LIMIT)
        if np.any(past):
            idx = (t[past] - self.total).astype(np.int64)
            replayed = table(("cosine", self.lr, self.total, self.min_lr), int(idx.max()), self._replay)
            out[past] = replayed[idx]
        return out

    def _replay(self, so_far: np.ndarray | None, n: int) -> np.ndarray:
        """Rates at total, total + 1, ..., total + n by CosineAnnealingLR's recursion.

        Past total its rounding drifts from the closed form by more than 1e-12, so we step it as torch does.
        The replay starts at t = total, where the rate is exactly min_lr (1 + cos(pi) == 0).
        """
        lr, total, low = self.lr, self.total, self.min_lr
        values = [low] if so_far is None else so_far.tolist()
        for t in range(total + len(values), total + n + 1):
            if (t - 1 - total) % (2 * total) == 0:
                values.append(values[-1] + (lr - low) * (1 - math.cos(math.pi / total)) / 2)
            else:
                values.append(
                    (1 + math.cos(math.pi * t / total)) / (1 + math.cos(math.pi * (t - 1) / total)) * (values[-1] - low)
                    + low
                )
        return np.array(values)


# The constructors named as in the spec language: cosine(0.1, total=100) in Python and in a spec.
constant = Constant
step = Step
multistep = MultiStep
piecewise = Piecewise
exponential = Exponential
linear = Linear
poly = Poly
cosine = Cosine
