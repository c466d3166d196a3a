"""Schedules that rise and fall again: sgdr (warm restarts), triangular (cyclical rates), onecycle (1cycle).

Each is a frozen dataclass whose docstring gives s(t), its paper and its torch twin:

>>> from lrscope.schedules.cyclical import onecycle, sgdr, triangular
>>> sgdr(0.1, period=10)([0, 5, 10]).tolist()
[0.1, 0.05, 0.1]
>>> triangular(0.001, 0.1, step_size=10)([0, 10, 20]).tolist()
[0.001, 0.1, 0.001]
>>> s = onecycle(0.4, total=100)
>>> s(29), s.momentum(29)  # the peak, at t = pct_start * total - 1
(0.4, 0.85)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .core import Schedule
from .events import multiples
from .params import bool_param, choice_param, float_param, int_param, param_error
from .replay import cos


@dataclass(frozen=True, repr=False)
class SGDR(Schedule):
    """``sgdr(lr, period, mult=1, min_lr=0.0)``: cosine annealing with warm restarts (Loshchilov & Hutter 2017).

        s(t) = min_lr + (lr - min_lr) * (1 + cos(pi * t_cur / t_i)) / 2,

    where cycle i lasts t_i = period * mult**i steps and t_cur counts the steps since its start.
    Torch: CosineAnnealingWarmRestarts(period, mult, min_lr).
    """

    lr: float
    period: int
    mult: int = 1
    min_lr: float = 0.0
    name: ClassVar[str] = "sgdr"

    def __post_init__(self) -> None:
        float_param(self, "lr")
        int_param(self, "period")
        int_param(self, "mult")
        float_param(self, "min_lr")

    def _restarts(self, t_max: float) -> list[int]:
        """Restart times 0 = r_0 < r_1 < ... up to the first one beyond t_max."""
        out, r, length = [0], 0, self.period
        while r <= t_max:
            r += length
            length *= self.mult
            out.append(r)
        return out

    def _lr(self, t):
        if self.mult == 1:
            t_cur, t_i = np.mod(t, self.period), float(self.period)
        else:
            starts = np.array(self._restarts(float(t.max()) if t.size else 0.0), dtype=np.float64)
            n = np.searchsorted(starts, t, side="right") - 1
            t_cur = t - starts[n]
            t_i = self.period * np.power(float(self.mult), n)
        return self.min_lr + (self.lr - self.min_lr) * (1 + cos(np.pi * t_cur / t_i)) / 2

    def _jumps(self, t0, t1):
        if self.mult == 1:  # a restart at every multiple of period
            times = multiples(self, self.period, t0, t1) * float(self.period)
        else:  # restarts grow geometrically: a few dozen up to any t
            restarts = np.array(self._restarts(t1)[1:], dtype=np.float64)
            times = restarts[(restarts >= t0) & (restarts < t1)]
        return times, self.min_lr


@dataclass(frozen=True, repr=False)
class Triangular(Schedule):
    """``triangular(base_lr, max_lr, step_size, mode='triangular', gamma=1.0)``: cyclical rates (Smith 2017).

        cycle = floor(1 + t / (2 step_size)),  x = |t / step_size - 2 cycle + 1|,
        s(t) = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale,

    with scale 1 (triangular), 1 / 2**(cycle - 1) (triangular2) or gamma**t (exp_range).  Torch: CyclicLR
    with step_size_up = step_size_down = step_size.  The rate only, no momentum curve: torch's CyclicLR
    cycles momentum by default, so pass it cycle_momentum=False to compare.
    """

    base_lr: float
    max_lr: float
    step_size: int
    mode: str = "triangular"
    gamma: float = 1.0
    positional: ClassVar[int] = 2
    name: ClassVar[str] = "triangular"

    def __post_init__(self) -> None:
        float_param(self, "base_lr")
        float_param(self, "max_lr")
        int_param(self, "step_size")
        choice_param(self, "mode", ("triangular", "triangular2", "exp_range"))
        float_param(self, "gamma", lo=0.0, lo_open=True)

    def _lr(self, t):
        # CyclicLR.get_lr, operation for operation.
        total_size = float(self.step_size) + float(self.step_size)
        step_ratio = float(self.step_size) / total_size
        cycle = np.floor(1 + t / total_size)
        x = 1.0 + t / total_size - cycle
        scale_factor = np.where(x <= step_ratio, x / step_ratio, (x - 1) / (step_ratio - 1))
        base_height = (self.max_lr - self.base_lr) * scale_factor
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1 / np.power(2.0, cycle - 1)
        else:
            scale = np.power(self.gamma, t)
        return self.base_lr + base_height * scale


@dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    """``onecycle(max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4, anneal='cos',
    three_phase=False, base_momentum=0.85, max_momentum=0.95)``: the 1cycle policy (Smith & Topin 2019).

    The rate rises from max_lr / div_factor to max_lr over the first pct_start * total steps, then anneals
    (cosine or linear) to max_lr / (div_factor * final_div_factor) at t = total - 1; with three_phase it
    first falls back to the start value over as many steps, then anneals.  Momentum moves the other way,
    between max_momentum and base_momentum.  Torch: OneCycleLR(total_steps=total), its phase arithmetic
    reproduced.  Past total - 1 the final value is held (torch overshoots at t = total, raises beyond).
    """

    max_lr: float
    total: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    three_phase: bool = False
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    name: ClassVar[str] = "onecycle"

    def __post_init__(self) -> None:
        float_param(self, "max_lr", lo=0.0, lo_open=True)
        total = int_param(self, "total", lo=2)
        pct = float_param(self, "pct_start", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
        float_param(self, "div_factor", lo=0.0, lo_open=True)
        float_param(self, "final_div_factor", lo=0.0, lo_open=True)
        choice_param(self, "anneal", ("cos", "linear"))
        three = bool_param(self, "three_phase")
        float_param(self, "base_momentum", hi=1.0)
        float_param(self, "max_momentum", hi=1.0)
        ends = [end for end, *_ in self._phases()]
        starts = [0.0, *ends[:-1]]
        if any(e <= s for s, e in zip(starts, ends, strict=False)):
            need = "1 < pct_start * total < (total + 1) / 2" if three else "pct_start * total > 1"
            raise param_error(
                self, f"every phase needs at least one step: {need}, got pct_start={pct!r}, total={total!r}"
            )

    def _phases(self) -> list[tuple[float, str, str, str, str]]:
        """(end_step, start_lr, end_lr, start_momentum, end_momentum) as OneCycleLR builds them."""
        first = float(self.pct_start * self.total) - 1
        if self.three_phase:
            return [
                (first, "initial", "max", "max_m", "base_m"),
                (float(2 * self.pct_start * self.total) - 2, "max", "initial", "base_m", "max_m"),
                (self.total - 1, "initial", "min", "max_m", "max_m"),
            ]
        return [
            (first, "initial", "max", "max_m", "base_m"),
            (self.total - 1, "max", "min", "base_m", "max_m"),
        ]

    def _curve(self, t: np.ndarray, start_key: int) -> np.ndarray:
        initial = self.max_lr / self.div_factor
        level = {
            "initial": initial,
            "max": self.max_lr,
            "min": initial / self.final_div_factor,
            "max_m": self.max_momentum,
            "base_m": self.base_momentum,
        }
        step = np.minimum(t, self.total - 1)
        out = np.empty_like(step)
        done = np.zeros(step.shape, dtype=bool)
        start_step = 0.0
        phases = self._phases()
        for i, phase in enumerate(phases):
            end_step = phase[0]
            here = ~done & ((step <= end_step) | (i == len(phases) - 1))
            pct = (step[here] - start_step) / (end_step - start_step)
            start, end = level[phase[start_key]], level[phase[start_key + 1]]
            if self.anneal == "cos":
                out[here] = end + (start - end) / 2.0 * (cos(np.pi * pct) + 1)
            else:
                out[here] = (end - start) * pct + start
            done |= here
            start_step = end_step
        return out

    def _lr(self, t):
        return self._curve(t, 1)

    @property
    def has_momentum(self) -> bool:
        return True

    def _momentum(self, t):
        return self._curve(t, 3)


# The constructors named as in the spec language.
sgdr = SGDR
triangular = Triangular
onecycle = OneCycle
