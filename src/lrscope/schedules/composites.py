"""Schedules built from schedules: warmup (a linear ramp into any schedule) and join (one after another).

A number where a schedule is expected means ``constant(number)``:

>>> from lrscope.schedules.composites import join, warmup
>>> from lrscope.schedules.decays import cosine
>>> warmup(5, cosine(0.1, total=95))([0, 1, 5]).tolist()
[0.0, 0.02, 0.1]
>>> join([0.1, 0.01], [30])([29, 30]).tolist()
[0.1, 0.01]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .core import Schedule
from .decays import Constant
from .events import check_jump_count, no_jumps
from .params import bool_param, float_param, int_param, numbers_param, param_error, set_param
from .replay import linear_lr


def schedule_param(s: Schedule, name: str) -> Schedule:
    """A schedule (a number means constant(number)), stored as a Schedule."""
    value = getattr(s, name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = Constant(value)
    if not isinstance(value, Schedule):
        raise param_error(s, f"{name} must be a schedule such as cosine(0.1, total=100), got {value!r}")
    set_param(s, name, value)
    return value


@dataclass(frozen=True, repr=False)
class Warmup(Schedule):
    """``warmup(steps, schedule, start_factor=0.0, prefix=True)``: a linear warm-up into any schedule (Goyal et
    al. 2017).

        s(t) = schedule(0) * (start_factor * (steps - t) + t) / steps    for t < steps,
        s(t) = schedule(t - steps)                                        for t >= steps (prefix=True),
        s(t) = schedule(t)                                                for t >= steps (prefix=False).

    With ``prefix=True`` (the default) the warm-up comes before the schedule, which starts its own t after it.
    With ``prefix=False`` the ramp replaces the schedule's first ``steps`` steps and the schedule keeps the
    run's t, as timm's schedulers with ``warmup_prefix=False`` (their default) do: timm's
    ``CosineLRScheduler(t_initial=T, lr_min=m, warmup_t=w, warmup_lr_init=a)`` is
    ``join([warmup(w, cosine(lr, total=T, min_lr=m), start_factor=a/lr, prefix=False), m], [T])``.
    The ramp then ends at schedule(0) and the schedule resumes at schedule(steps): a small jump at t = steps.

    Torch: SequentialLR([LinearLR(start_factor, 1.0, steps), twin], milestones=[steps]), where torch's
    LinearLR needs start_factor > 0 (prefix=True).

    >>> from lrscope.schedules.decays import cosine
    >>> s = warmup(2, cosine(0.1, total=4), prefix=False)
    >>> [round(float(v), 4) for v in s([0, 1, 2, 3, 4])]
    [0.0, 0.05, 0.05, 0.0146, 0.0]
    """

    steps: int
    schedule: Schedule
    start_factor: float = 0.0
    prefix: bool = True
    positional: ClassVar[int] = 2
    name: ClassVar[str] = "warmup"

    def __post_init__(self) -> None:
        int_param(self, "steps")
        schedule_param(self, "schedule")
        float_param(self, "start_factor", hi=1.0)
        bool_param(self, "prefix")

    @property
    def _shift(self) -> int:
        """How far the schedule's t lags the run's once the ramp is over."""
        return self.steps if self.prefix else 0

    def _lr(self, t):
        warm = t < self.steps
        out = np.empty_like(t)
        if np.any(warm):
            out[warm] = linear_lr(float(self.schedule(0.0)), self.start_factor, 1.0, self.steps, t[warm])
        if not np.all(warm):
            out[~warm] = self.schedule(t[~warm] - self._shift)
        return out

    @property
    def has_momentum(self) -> bool:
        return self.schedule.has_momentum

    def _momentum(self, t):
        return self.schedule.momentum(np.maximum(t - self._shift, 0.0))

    def _jumps(self, t0, t1):
        if t1 <= self.steps:
            return no_jumps()
        shift = self._shift
        inner = self.schedule.events(max(t0, self.steps) - shift, t1 - shift)
        times, before = inner.t + shift, inner.lr_before
        if not self.prefix and t0 <= self.steps:
            # the ramp ends at schedule(0); the schedule resumes at schedule(steps)
            end, resume = float(self.schedule(0.0)), float(self.schedule(float(self.steps)))
            if abs(end - resume) > 1e-12 * max(abs(end), abs(resume)) and not np.any(times == self.steps):
                times, before = np.concatenate([[float(self.steps)], times]), np.concatenate([[end], before])
        return times, before


@dataclass(frozen=True, repr=False)
class Join(Schedule):
    """``join(schedules, boundaries)``: s(t) = schedules[i](t - b[i-1]) for b[i-1] <= t < b[i].

    Each schedule restarts its own t at its boundary.  Torch: SequentialLR(schedulers, milestones=boundaries).
    """

    schedules: tuple[Schedule, ...]
    boundaries: tuple[int, ...]
    name: ClassVar[str] = "join"

    def __post_init__(self) -> None:
        items = self.schedules
        if not isinstance(items, (list, tuple)) or not items:
            raise param_error(self, f"schedules must be a non-empty list of schedules, got {items!r}")
        converted = []
        for item in items:
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = Constant(item)
            if not isinstance(item, Schedule):
                raise param_error(
                    self,
                    f"schedules must be a list of schedules such as [constant(0.1), cosine(0.1, "
                    f"total=90)], got {item!r} in it",
                )
            converted.append(item)
        set_param(self, "schedules", tuple(converted))
        bounds = numbers_param(self, "boundaries", integer=True, order="increasing", lo=1)
        if len(bounds) != len(converted) - 1:
            raise param_error(
                self,
                f"needs one boundary fewer than schedules, got {len(converted)} schedules and {len(bounds)} boundaries",
            )

    def _pieces(self) -> list[tuple[Schedule, float, float]]:
        starts = [0, *self.boundaries]
        ends = [*self.boundaries, math.inf]
        return list(zip(self.schedules, map(float, starts), map(float, ends), strict=False))

    def _by_piece(self, t: np.ndarray, evaluate: Callable[[Schedule, np.ndarray], Any]) -> np.ndarray:
        """evaluate(schedules[i], t - b[i-1]) for the t of each piece, in one pass over t (not one per piece:
        a join of a thousand pieces over 10**7 steps)."""
        out = np.empty_like(t)
        starts = np.array([0.0, *self.boundaries], dtype=np.float64)
        piece = np.searchsorted(starts, t, side="right") - 1  # t >= 0, so piece >= 0
        counts = np.bincount(piece, minlength=starts.size)
        order = np.argsort(piece, kind="stable")  # within a piece, t keeps its order
        edges = np.concatenate([[0], np.cumsum(counts)])
        for i in np.flatnonzero(counts).tolist():
            where = order[edges[i] : edges[i + 1]]
            out[where] = evaluate(self.schedules[i], t[where] - starts[i])
        return out

    def _lr(self, t):
        return self._by_piece(t, lambda sched, u: sched(u))

    @property
    def has_momentum(self) -> bool:
        return all(s.has_momentum for s in self.schedules)

    def _momentum(self, t):
        return self._by_piece(t, lambda sched, u: sched.momentum(u))

    def _jumps(self, t0, t1):
        times, before = [], []
        pieces = self._pieces()
        for i, (sched, a, b) in enumerate(pieces):
            if a >= t1:
                break
            if i > 0 and t0 <= a:
                prev, pa, _ = pieces[i - 1]
                times.append(np.array([a]))
                before.append(np.array([prev.left_limit(a - pa)]))
            lo, hi = max(t0, a), min(t1, b)
            if lo < hi:
                inner = sched.events(lo - a, hi - a)
                times.append(inner.t + a)
                before.append(inner.lr_before)
        if not times:
            return no_jumps()
        times_all = np.concatenate(times)
        check_jump_count(self, times_all.size, t0, t1)
        return times_all, np.concatenate(before)


# The constructors named as in the spec language.
warmup = Warmup
join = Join
