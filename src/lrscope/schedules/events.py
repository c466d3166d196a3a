"""A schedule's jumps: :class:`Event` (one jump) and :class:`Events` (the jumps over a span, as arrays).

A jump at ``t`` is where the rate tends to ``lr_before`` just before ``t`` and is ``lr_after`` at ``t``.  The
helpers below let a schedule list its candidate jump times cheaply (``multiples`` of a step size) and refuse
a span with more jumps than ``MAX_EVENTS``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError

MAX_EVENTS = 20_000_000  # jumps one events() call may list (two per step over the 10**7 steps of --steps)


@dataclass(frozen=True)
class Event:
    """A jump at ``t``: the rate tends to ``lr_before`` just before ``t`` and is ``lr_after`` at ``t``."""

    t: float
    lr_before: float
    lr_after: float

    @property
    def factor(self) -> float:
        """lr_after / lr_before (inf when the rate jumps up from zero)."""
        return self.lr_after / self.lr_before if self.lr_before else math.inf

    def to_json(self) -> dict:
        return {"t": self.t, "lr_before": self.lr_before, "lr_after": self.lr_after}


class Events(Sequence):
    """The jumps of a schedule over [t0, t1): a read-only sequence of :class:`Event` backed by three arrays.

    ``len(events)``, ``events.t``, ``events.lr_before`` and ``events.lr_after`` cost nothing per jump, so an
    ``sgdr(0.1, period=1)`` over 10**7 steps is counted and drawn without 10**7 Python objects; indexing and
    iteration make the :class:`Event` values on demand.  Compares equal to a list of the same events.
    """

    __slots__ = ("lr_after", "lr_before", "t")

    def __init__(self, t: Any = (), lr_before: Any = (), lr_after: Any = ()) -> None:
        arrays = [np.asarray(a, dtype=np.float64).reshape(-1) for a in (t, lr_before, lr_after)]
        if not arrays[0].size == arrays[1].size == arrays[2].size:
            raise ValueError("t, lr_before and lr_after must have one length")
        for name, array in zip(("t", "lr_before", "lr_after"), arrays, strict=True):
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Events is read-only")

    def __len__(self) -> int:
        return int(self.t.size)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Events(self.t[index], self.lr_before[index], self.lr_after[index])
        i = range(len(self))[index]  # IndexError and negative indices as a list has them
        return Event(float(self.t[i]), float(self.lr_before[i]), float(self.lr_after[i]))

    def __iter__(self) -> Iterator[Event]:
        for t, before, after in zip(self.t.tolist(), self.lr_before.tolist(), self.lr_after.tolist(), strict=True):
            yield Event(t, before, after)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Events):
            return bool(
                np.array_equal(self.t, other.t)
                and np.array_equal(self.lr_before, other.lr_before)
                and np.array_equal(self.lr_after, other.lr_after)
            )
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if len(self) <= 6:
            return f"Events({list(self)!r})"
        return f"Events({len(self)} jumps from t={self.t[0]:g} to t={self.t[-1]:g})"


def no_jumps() -> tuple[np.ndarray, np.ndarray]:
    """The candidate jumps of a continuous stretch: no times, no left limits."""
    return np.empty(0), np.empty(0)


def check_jump_count(schedule: Any, count: int, t0: float, t1: float) -> None:
    """Refuse a span of ``schedule`` (anything with a ``spec``) that jumps more than ``MAX_EVENTS`` times."""
    if count > MAX_EVENTS:
        raise UserError(
            f"{schedule.spec} jumps {count} times in [{t0:g}, {t1:g}), more than the {MAX_EVENTS} lrscope "
            f"lists; use a shorter span"
        )


def multiples(schedule: Any, step: int, t0: float, t1: float) -> np.ndarray:
    """The k >= 1 with t0 <= k * step < t1 as a float array (for 0 <= t0 < t1 < inf)."""
    k0 = max(1, math.ceil(t0 / step))
    while k0 > 1 and (k0 - 1) * step >= t0:  # t0 / step rounded up past a multiple
        k0 -= 1
    while k0 * step < t0:
        k0 += 1
    k1 = math.ceil(t1 / step)  # the first k with k * step >= t1
    while k1 > 0 and (k1 - 1) * step >= t1:
        k1 -= 1
    while k1 * step < t1:
        k1 += 1
    check_jump_count(schedule, k1 - k0, t0, t1)
    return np.arange(k0, max(k0, k1), dtype=np.float64)
