"""The schedule value: :class:`Schedule`, an immutable learning rate as a pure function of t, and its text.

``t`` counts completed scheduler steps (epochs or batches: the caller's choice) and may be a float or a NumPy
array.  ``s(t)`` equals the rate the matching ``torch.optim.lr_scheduler`` class gives after ``t`` calls to
``step()``; where torch computes a rate by chained multiplication (StepLR, MultiStepLR, ExponentialLR) we
multiply in the same order, and where it uses a closed form (CyclicLR, OneCycleLR,
CosineAnnealingWarmRestarts) we evaluate the same expression in the same order, so the two agree to a few
ulps (tests hold them to 1e-12 relative).

Each schedule is a small frozen dataclass (in ``decays``, ``cyclical`` and ``composites``) whose docstring
gives its formula and its torch twin.  ``s.spec`` is its canonical text (:func:`format_spec`; the ``spec``
module parses it back), ``s.to_json()`` its JSON document, ``s.events(t0, t1)`` lists its jumps and
``s.momentum(t)`` gives the momentum curve of schedules that have one (1cycle) and ``None`` otherwise.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from ..errors import UserError
from .events import Events, no_jumps

SCHEMA = "lrscope.schedule/1"

_EVENTS: OrderedDict[tuple, Events] = OrderedDict()  # the last few events() answers (immutable: safe to share)
_EVENTS_LOCK = threading.Lock()


def as_t(t: Any) -> tuple[np.ndarray, bool]:
    """t as a float64 array, and whether the caller passed a scalar."""
    arr = np.asarray(t, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise UserError("schedule time t must be finite")
    if arr.size and np.min(arr) < 0:
        raise UserError(f"schedule time t counts completed steps and must be >= 0, got {np.min(arr)!r}")
    return arr, arr.ndim == 0


@dataclass(frozen=True, repr=False)
class Schedule:
    """An immutable learning-rate schedule: ``s(t)`` for t completed scheduler steps (float or array)."""

    name: ClassVar[str] = ""
    positional: ClassVar[int] = 1  # how many leading parameters the canonical spec writes without keywords

    def __call__(self, t: Any) -> Any:
        arr, scalar = as_t(t)
        with np.errstate(over="ignore", under="ignore"):  # a rate that overflows is inf; callers check
            out = np.asarray(self._lr(np.atleast_1d(arr)), dtype=np.float64).reshape(arr.shape)
        return float(out) if scalar else out

    def _lr(self, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- momentum
    @property
    def has_momentum(self) -> bool:
        return False

    def momentum(self, t: Any) -> Any:
        """The momentum (SGD momentum or Adam beta1) at t, or None for schedules without a momentum curve."""
        if not self.has_momentum:
            return None
        arr, scalar = as_t(t)
        out = np.asarray(self._momentum(np.atleast_1d(arr)), dtype=np.float64).reshape(arr.shape)
        return float(out) if scalar else out

    def _momentum(self, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- events
    def events(self, t0: float, t1: float) -> Events:
        """Jumps with t0 <= t < t1, in time order (a boundary where the rate carries on is not one).

        A sequence of :class:`~lrscope.schedules.events.Event`; in :class:`Events`, ``len`` and the arrays
        ``.t``, ``.lr_before``, ``.lr_after`` are vectorised.  A UserError past ``MAX_EVENTS`` jumps.
        """
        t0, t1 = float(t0), float(t1)
        if math.isnan(t0) or math.isnan(t1) or math.isinf(t0):
            raise UserError(f"events(t0, t1) needs finite t0 and t1, got {t0!r}, {t1!r}")
        if math.isinf(t1):
            raise UserError("events(t0, t1) needs a finite end t1 (a schedule may jump without end)")
        lo = max(t0, 0.0)
        if t1 <= lo:
            return Events()
        key = (self, lo, t1)
        found = _EVENTS.get(key)
        if found is None:
            found = self._events(lo, t1)
            with _EVENTS_LOCK:  # the table, the plot and the count of one command ask for the same span
                _EVENTS[key] = found
                while len(_EVENTS) > 4:
                    _EVENTS.popitem(last=False)
        return found

    def _events(self, lo: float, t1: float) -> Events:
        times, before = self._jumps(lo, t1)
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        before = np.broadcast_to(np.asarray(before, dtype=np.float64), times.shape)
        if not times.size:
            return Events()
        after = np.asarray(self(times), dtype=np.float64).reshape(-1)
        changed = before != after
        return Events(times[changed], before[changed], after[changed])

    def _jumps(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Candidate jump times in [t0, t1) (0 <= t0 < t1 < inf) as an array in time order, and the rate's
        left limit at each (an array or one number); none if the schedule is continuous."""
        return no_jumps()

    def left_limit(self, t: float) -> float:
        """The rate just before t (differs from s(t) only at an event)."""
        for event in self.events(t, math.nextafter(t, math.inf)):
            if event.t == t:
                return event.lr_before
        return float(self(t))

    # ---------------------------------------------------------------------------------------- text and JSON
    @property
    def spec(self) -> str:
        """The canonical spec text (:func:`format_spec`)."""
        return format_spec(self)

    def params(self) -> dict[str, Any]:
        """The parameters as a dict (field order)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_json(self) -> dict:
        """``{"schema": "lrscope.schedule/1", "spec", "type", "params"}`` (read back by ``schedule_from_json``)."""
        return {"schema": SCHEMA, "spec": self.spec, **_to_json_body(self)}

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"<Schedule {self.spec}>"


def _to_json_body(s: Schedule) -> dict:
    def value(v: Any) -> Any:
        if isinstance(v, Schedule):
            return _to_json_body(v)
        if isinstance(v, tuple):
            return [value(x) for x in v]
        return v

    return {"type": s.name, "params": {k: value(v) for k, v in s.params().items()}}


# ---------------------------------------------------------------------------------------- the text form


def format_spec(schedule: Schedule) -> str:
    """The canonical spec text of ``schedule``, which parses back to an equal value: the first ``positional``
    parameters without keywords, the others as ``name=value``, parameters left at their defaults omitted."""
    parts = []
    for i, f in enumerate(fields(schedule)):
        value = getattr(schedule, f.name)
        if i < schedule.positional:
            parts.append(format_value(value))
        elif f.default is MISSING or not _same(value, f.default):
            parts.append(f"{f.name}={format_value(value)}")
    return f"{schedule.name}({', '.join(parts)})"


def signature(cls: type[Schedule]) -> str:
    """``name(a, b, c=default, ...)`` for messages and docs."""
    parts = []
    for f in fields(cls):
        parts.append(f.name if f.default is MISSING else f"{f.name}={format_value(f.default)}")
    return f"{cls.name}({', '.join(parts)})"


def format_value(value: Any) -> str:
    """One parameter's value as spec text: a schedule's spec, a list in brackets, a literal."""
    if isinstance(value, Schedule):
        return format_spec(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"cannot write {value!r} in a schedule spec")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b
