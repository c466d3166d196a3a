"""Learning-rate schedules as immutable values and pure functions of t.

``t`` counts completed scheduler steps (epochs or batches: the caller's choice) and may be a float or a NumPy
array.  ``s(t)`` equals the rate the matching ``torch.optim.lr_scheduler`` class gives after ``t`` calls to
``step()``; where torch computes a rate by chained multiplication (StepLR, MultiStepLR, ExponentialLR) we
multiply in the same order, and where it uses a closed form (CyclicLR, OneCycleLR,
CosineAnnealingWarmRestarts) we evaluate the same expression in the same order, so the two agree to a few ulps
(tests hold them to 1e-12 relative).

Each schedule is a small frozen dataclass whose docstring gives its formula and its torch twin.  ``s.spec`` is
its text form (``lrscope.schedules.spec`` parses it back), ``s.events(t0, t1)`` lists its jumps,
``s.momentum(t)`` gives the momentum curve of schedules that have one (1cycle) and ``None`` otherwise.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, ClassVar

import numpy as np

from ..errors import UserError

SCHEMA = "lrscope.schedule/1"


# ---------------------------------------------------------------------------------------- helpers


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


MAX_EVENTS = 20_000_000  # jumps one events() call may list (two per step over the 10**7 steps of --steps)


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


_EVENTS: OrderedDict[tuple, Events] = OrderedDict()  # the last few events() answers (immutable: safe to share)
_EVENTS_LOCK = threading.Lock()


def _no_jumps() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0), np.empty(0)


def _too_many_jumps(schedule: Schedule, count: int, t0: float, t1: float) -> None:
    if count > MAX_EVENTS:
        raise UserError(
            f"{schedule.spec} jumps {count} times in [{t0:g}, {t1:g}), more than the {MAX_EVENTS} lrscope "
            f"lists; use a shorter span"
        )


def _multiples(schedule: Schedule, step: int, t0: float, t1: float) -> np.ndarray:
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
    _too_many_jumps(schedule, k1 - k0, t0, t1)
    return np.arange(k0, max(k0, k1), dtype=np.float64)


def _as_t(t: Any) -> tuple[np.ndarray, bool]:
    """t as a float64 array, and whether the caller passed a scalar."""
    arr = np.asarray(t, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise UserError("schedule time t must be finite")
    if arr.size and np.min(arr) < 0:
        raise UserError(f"schedule time t counts completed steps and must be >= 0, got {np.min(arr)!r}")
    return arr, arr.ndim == 0


@cache
def _numpy_cos_is_libm() -> bool:
    """Whether np.cos gives the same bits as math.cos (torch's schedulers use math.cos) on this machine."""
    probe = np.concatenate([np.linspace(0.0, 8.0, 4099), np.pi * np.arange(1, 600) / 599.0])
    return bool(np.array_equal(np.cos(probe), np.array([math.cos(v) for v in probe.tolist()])))


def _cos(x: np.ndarray) -> np.ndarray:
    """cos with math.cos's bits (near x = pi, 1 + cos(x) cancels: one ulp here is 1e-11 of the rate)."""
    if _numpy_cos_is_libm():
        return np.cos(x)
    flat = np.fromiter(map(math.cos, x.ravel().tolist()), dtype=np.float64, count=x.size)
    return flat.reshape(x.shape)


_REPLAY_LIMIT = (
    1 << 21
)  # longest replayed table (16 MB); beyond it the closed forms take over (a few ulps away)
_TABLES: OrderedDict[tuple, np.ndarray] = OrderedDict()


def _table(key: tuple, n: int, extend: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """A cached table of at least n + 1 replayed values; ``extend(table, n)`` returns a longer one."""
    table = _TABLES.get(key)
    if table is None or table.size <= n:
        table = extend(table, max(n, 2 * table.size if table is not None else n))
    _TABLES[key] = table
    _TABLES.move_to_end(key)
    while len(_TABLES) > 16:
        _TABLES.popitem(last=False)
    return table


def _chain(base: float, factor: float, k: np.ndarray) -> np.ndarray:
    """base * factor**k for k >= 0 as torch's repeated ``lr * gamma`` computes it.

    For integral k up to 2**21 the product is replayed (np.multiply.accumulate multiplies left to right, as
    the scheduler does step after step); otherwise the closed form base * factor**k is used.
    """

    def extend(table: np.ndarray | None, n: int) -> np.ndarray:
        table = np.array([base]) if table is None else table
        more = np.full(n + 1 - table.size + 1, factor)
        more[0] = table[-1]
        return np.concatenate([table, np.multiply.accumulate(more)[1:]])

    out = np.empty_like(k)
    exact = (k <= _REPLAY_LIMIT) & (np.floor(k) == k)
    if np.any(exact):
        idx = k[exact].astype(np.int64)
        out[exact] = _table(("chain", base, factor), int(idx.max()), extend)[idx]
    if not np.all(exact):
        out[~exact] = base * np.power(factor, k[~exact])
    return out


def _linear_lr(base: float, start_factor: float, end_factor: float, total: int, t: np.ndarray) -> np.ndarray:
    """torch's LinearLR: base * (start_factor + (end_factor - start_factor) * min(t, total) / total).

    LinearLR multiplies the rate by 1 + (e - s) / (total * s + (t - 1) * (e - s)) at each step; near a small
    end_factor that factor is a difference of nearly equal numbers, so its rounding reaches 1e-12 of the rate.
    The factors depend on t only, so for integral t we replay the product exactly; otherwise (and when
    start_factor is 0, which LinearLR refuses) we use the closed form, written as a weighted mean so that
    nothing cancels.
    """
    u = np.minimum(t, total)
    out = base * (start_factor * (total - u) + end_factor * u) / total
    exact = (np.floor(u) == u) & (start_factor > 0) & (total <= _REPLAY_LIMIT)
    if np.any(exact):

        def build(_table_so_far: np.ndarray | None, _n: int) -> np.ndarray:
            steps = np.arange(1, total + 1, dtype=np.float64)
            delta = end_factor - start_factor
            factors = 1.0 + delta / (total * start_factor + (steps - 1) * delta)
            return np.multiply.accumulate(np.concatenate([[base * start_factor], factors]))

        table = _table(("linear", base, start_factor, end_factor, total), total, build)
        out[exact] = table[u[exact].astype(np.int64)]
    return out


# ---------------------------------------------------------------------------------------- validation

MAX_INT = 10**15  # largest step count, period, milestone or boundary: 10**15 steps is beyond any training run
MAX_NUMBER = 1e300  # largest magnitude of a rate or factor (anything near float's 1.8e308 overflows at once)


def _bad(schedule: Schedule, message: str) -> UserError:
    return UserError(f"{schedule.name}(): {message}")


def _set(schedule: Schedule, name: str, value: Any) -> None:
    object.__setattr__(schedule, name, value)


def _float(
    s: Schedule,
    name: str,
    *,
    lo: float | None = 0.0,
    lo_open: bool = False,
    hi: float | None = None,
    hi_open: bool = False,
    what: str = "",
) -> float:
    value = getattr(s, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(s, f"{name} must be a number, got {_short(value)}")
    if isinstance(value, (int, np.integer)) and abs(int(value)) > MAX_NUMBER:
        raise _bad(s, f"{name} must be a finite number of magnitude at most {MAX_NUMBER:g}, got {_short(value)}")
    value = float(value)
    ok = math.isfinite(value)
    ok = ok and (lo is None or (value > lo if lo_open else value >= lo))
    ok = ok and (hi is None or (value < hi if hi_open else value <= hi))
    if not ok:
        if not what:
            lo_text = "" if lo is None else f"{'>' if lo_open else '>='} {lo:g}"
            hi_text = "" if hi is None else f"{'<' if hi_open else '<='} {hi:g}"
            what = "a finite number " + " and ".join(x for x in (lo_text, hi_text) if x)
        raise _bad(s, f"{name} must be {what.strip()}, got {value!r}")
    _set(s, name, value)
    return value


def _short(value: Any) -> str:
    """repr(value), cut to 60 characters (a 10,000-digit integer is not a message)."""
    if isinstance(value, int) and abs(value) > 10**40:
        return f"an integer of {len(str(abs(value))) if abs(value) < 10**4000 else 'over 4000'} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(s: Schedule, name: str, *, lo: int = 1) -> int:
    value = getattr(s, name)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= MAX_INT:
        raise _bad(s, f"{name} must be an integer from {lo} to {MAX_INT:.0e}, got {_short(value)}")
    _set(s, name, int(value))
    return int(value)


def _numbers(
    s: Schedule, name: str, *, integer: bool, order: str | None, lo: float, min_len: int = 0
) -> tuple:
    """A list of numbers (ints when ``integer``), each >= lo, in ``order`` (increasing, non-decreasing)."""
    value = getattr(s, name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise _bad(s, f"{name} must be a list of numbers, got {value!r}")
    out = []
    hi = MAX_INT if integer else MAX_NUMBER
    for item in value:
        if isinstance(item, (float, np.floating)) and integer and float(item).is_integer():
            item = int(item)
        good = not isinstance(item, bool) and isinstance(
            item, (int, np.integer) if integer else (int, float, np.number)
        )
        if not good or not (lo <= item <= hi) or not math.isfinite(float(item)):
            kind = "integers" if integer else "finite numbers"
            raise _bad(s, f"{name} must be a list of {kind} from {lo:g} to {hi:.0e}, got {_short(list(value))}")
        out.append(int(item) if integer else float(item))
    if len(out) < min_len:
        raise _bad(s, f"{name} needs at least {min_len} entries, got {list(value)!r}")
    for a, b in zip(out, out[1:], strict=False):
        if (order == "non-decreasing" and b < a) or (order == "increasing" and b <= a):
            raise _bad(
                s,
                f"{name} must be {'strictly increasing' if order == 'increasing' else 'sorted'}, got {out!r}",
            )
    result = tuple(out)
    _set(s, name, result)
    return result


def _choice(s: Schedule, name: str, choices: tuple[str, ...]) -> str:
    value = getattr(s, name)
    if value not in choices:
        raise _bad(s, f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return value


def _bool(s: Schedule, name: str) -> bool:
    value = getattr(s, name)
    if not isinstance(value, (bool, np.bool_)):
        raise _bad(s, f"{name} must be True or False, got {value!r}")
    _set(s, name, bool(value))
    return bool(value)


def _schedule(s: Schedule, name: str) -> Schedule:
    value = getattr(s, name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = Constant(value)
    if not isinstance(value, Schedule):
        raise _bad(s, f"{name} must be a schedule such as cosine(0.1, total=100), got {value!r}")
    _set(s, name, value)
    return value


# ---------------------------------------------------------------------------------------- base


@dataclass(frozen=True, repr=False)
class Schedule:
    """An immutable learning-rate schedule: ``s(t)`` for t completed scheduler steps (float or array)."""

    name: ClassVar[str] = ""
    positional: ClassVar[int] = 1  # how many leading parameters the canonical spec writes without keywords

    def __call__(self, t: Any) -> Any:
        arr, scalar = _as_t(t)
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
        arr, scalar = _as_t(t)
        out = np.asarray(self._momentum(np.atleast_1d(arr)), dtype=np.float64).reshape(arr.shape)
        return float(out) if scalar else out

    def _momentum(self, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- events
    def events(self, t0: float, t1: float) -> Events:
        """Jumps with t0 <= t < t1, in time order (a boundary where the rate carries on is not one).

        A sequence of :class:`Event` (see :class:`Events`: ``len`` and the arrays ``.t``, ``.lr_before``,
        ``.lr_after`` are vectorised); a UserError if there are more than ``MAX_EVENTS``.
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
        return _no_jumps()

    def left_limit(self, t: float) -> float:
        """The rate just before t (differs from s(t) only at an event)."""
        for event in self.events(t, math.nextafter(t, math.inf)):
            if event.t == t:
                return event.lr_before
        return float(self(t))

    # ---------------------------------------------------------------------------------------- text and JSON
    @property
    def spec(self) -> str:
        from .spec import format_spec

        return format_spec(self)

    def params(self) -> dict[str, Any]:
        """The parameters as a dict (field order)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "spec": self.spec, **_to_json_body(self)}

    @staticmethod
    def from_json(document: Any) -> Schedule:
        """Inverse of :meth:`to_json` (accepts the dict or its JSON text)."""
        import json

        if isinstance(document, (str, bytes)):
            document = json.loads(document)
        if not isinstance(document, dict) or "type" not in document:
            raise UserError(
                f"not a schedule JSON document (expected keys type and params): {document!r:.200}"
            )
        if document.get("schema", SCHEMA) != SCHEMA:
            raise UserError(f"unsupported schedule schema {document.get('schema')!r}, expected {SCHEMA!r}")
        return _from_json_body(document)

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


def _from_json_body(doc: dict) -> Schedule:
    from .spec import SCHEDULES

    cls = SCHEDULES.get(doc.get("type"))
    if cls is None:
        raise UserError(f"unknown schedule type {doc.get('type')!r} in JSON; valid: {', '.join(SCHEDULES)}")

    def value(v: Any) -> Any:
        if isinstance(v, dict) and "type" in v:
            return _from_json_body(v)
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    params = doc.get("params", {})
    known = {f.name for f in fields(cls)}
    unknown = set(params) - known
    if unknown:
        raise UserError(f"{cls.name}() has no parameter(s) {', '.join(sorted(unknown))}")
    return cls(**{k: value(v) for k, v in params.items()})


# ---------------------------------------------------------------------------------------- schedules


@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """``constant(lr)``: s(t) = lr.  Torch: no scheduler (or LambdaLR with lambda t: 1)."""

    lr: float
    name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        _float(self, "lr")

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
        _float(self, "lr")
        _int(self, "step_size")
        _float(self, "gamma")

    def _lr(self, t):
        return _chain(self.lr, self.gamma, np.floor_divide(t, self.step_size))

    def _jumps(self, t0, t1):
        k = _multiples(self, self.step_size, t0, t1)
        return k * float(self.step_size), _chain(self.lr, self.gamma, k - 1.0)


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
        _float(self, "lr")
        _numbers(self, "milestones", integer=True, order="non-decreasing", lo=0)
        _float(self, "gamma")

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
        values = _numbers(self, "values", integer=False, order=None, lo=0.0, min_len=1)
        bounds = self.boundaries
        if isinstance(bounds, (int, float)) and not isinstance(bounds, bool):
            bounds = [bounds]
        if not isinstance(bounds, (list, tuple)) or any(
            isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds
        ):
            raise _bad(self, f"boundaries must be a list of numbers, got {_short(self.boundaries)}")
        if any(not 0 < b <= MAX_INT for b in bounds):  # also refuses nan
            raise _bad(self, f"boundaries must be numbers from 0 (excluded) to {MAX_INT:.0e}, got {_short(bounds)}")
        bounds = tuple(int(b) if float(b).is_integer() else float(b) for b in bounds)
        if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise _bad(self, f"boundaries must be positive and strictly increasing, got {_short(list(bounds))}")
        if len(values) != len(bounds) + 1:
            raise _bad(
                self,
                f"needs one more value than boundaries, got {len(values)} values and "
                f"{len(bounds)} boundaries",
            )
        _set(self, "boundaries", bounds)

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
        _float(self, "lr")
        _float(self, "gamma", lo=0.0, lo_open=True)

    def _lr(self, t):
        return _chain(self.lr, self.gamma, t)


@dataclass(frozen=True, repr=False)
class Linear(Schedule):
    """``linear(start, end, total)``: s(t) = start + (end - start) * min(t, total) / total.

    Torch: LinearLR(start_factor=1, end_factor=end/start, total_iters=total) on base lr start (for a rising
    line, base lr end and start_factor=start/end); its chained rounding is replayed (see ``_linear_lr``).
    """

    start: float
    end: float
    total: int
    positional: ClassVar[int] = 2
    name: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        _float(self, "start")
        _float(self, "end")
        _int(self, "total")

    def _lr(self, t):
        if self.end <= self.start:  # LinearLR(start_factor=1, end_factor=end/start) on base lr start
            if self.start == 0.0:
                return np.zeros_like(t)
            return _linear_lr(self.start, 1.0, self.end / self.start, self.total, t)
        return _linear_lr(self.end, self.start / self.end, 1.0, self.total, t)  # rising: base lr end


@dataclass(frozen=True, repr=False)
class Poly(Schedule):
    """``poly(lr, total, power=1.0)``: s(t) = lr * (1 - min(t, total) / total) ** power.  Torch:
    PolynomialLR."""

    lr: float
    total: int
    power: float = 1.0
    name: ClassVar[str] = "poly"

    def __post_init__(self) -> None:
        _float(self, "lr")
        _int(self, "total")
        _float(self, "power", lo=0.0, lo_open=True)

    def _lr(self, t):
        # 1.0 - t / total, not (total - t) / total: torch's recursion telescopes to exactly this rounding.
        return self.lr * np.power(1.0 - np.minimum(t, self.total) / self.total, self.power)


@dataclass(frozen=True, repr=False)
class Cosine(Schedule):
    """``cosine(lr, total, min_lr=0.0)``: s(t) = min_lr + (lr - min_lr) * (1 + cos(pi * t / total)) / 2.

    Loshchilov & Hutter 2017 (SGDR) without restarts.  Torch: CosineAnnealingLR.  For t <= total its recursive
    form agrees with this closed form to a few ulps; past total the rate rises again (as in torch, whose
    recursion we replay there); use join(...) or a longer total to hold min_lr instead.
    """

    lr: float
    total: int
    min_lr: float = 0.0
    name: ClassVar[str] = "cosine"

    def __post_init__(self) -> None:
        _float(self, "lr")
        _int(self, "total")
        _float(self, "min_lr")

    def _lr(self, t):
        out = self.min_lr + (self.lr - self.min_lr) * (1 + _cos(np.pi * t / self.total)) / 2
        past = (t > self.total) & (np.floor(t) == t) & (t <= self.total + _REPLAY_LIMIT)
        if np.any(past):
            idx = (t[past] - self.total).astype(np.int64)
            table = _table(("cosine", self.lr, self.total, self.min_lr), int(idx.max()), self._replay)
            out[past] = table[idx]
        return out

    def _replay(self, table: np.ndarray | None, n: int) -> np.ndarray:
        """Rates at total, total + 1, ..., total + n by CosineAnnealingLR's recursion (past total its rounding
        drifts from the closed form by more than 1e-12, so we step it as torch does).  At t = total the rate
        is exactly min_lr whatever came before (1 + cos(pi) == 0), so the replay starts there."""
        lr, total, low = self.lr, self.total, self.min_lr
        values = [low] if table is None else table.tolist()
        for t in range(total + len(values), total + n + 1):
            if (t - 1 - total) % (2 * total) == 0:
                values.append(values[-1] + (lr - low) * (1 - math.cos(math.pi / total)) / 2)
            else:
                values.append(
                    (1 + math.cos(math.pi * t / total))
                    / (1 + math.cos(math.pi * (t - 1) / total))
                    * (values[-1] - low)
                    + low
                )
        return np.array(values)


@dataclass(frozen=True, repr=False)
class SGDR(Schedule):
    """``sgdr(lr, period, mult=1, min_lr=0.0)``: cosine annealing with warm restarts.

    s(t) = min_lr + (lr - min_lr) * (1 + cos(pi * t_cur / t_i)) / 2, where cycle i lasts t_i = period *
    mult**i steps and t_cur counts steps since its start.  Loshchilov & Hutter 2017.  Torch:
    CosineAnnealingWarmRestarts.
    """

    lr: float
    period: int
    mult: int = 1
    min_lr: float = 0.0
    name: ClassVar[str] = "sgdr"

    def __post_init__(self) -> None:
        _float(self, "lr")
        _int(self, "period")
        _int(self, "mult")
        _float(self, "min_lr")

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
        return self.min_lr + (self.lr - self.min_lr) * (1 + _cos(np.pi * t_cur / t_i)) / 2

    def _jumps(self, t0, t1):
        if self.mult == 1:  # a restart at every multiple of period
            times = _multiples(self, self.period, t0, t1) * float(self.period)
        else:  # restarts grow geometrically: a few dozen up to any t
            restarts = np.array(self._restarts(t1)[1:], dtype=np.float64)
            times = restarts[(restarts >= t0) & (restarts < t1)]
        return times, self.min_lr


@dataclass(frozen=True, repr=False)
class Triangular(Schedule):
    """``triangular(base_lr, max_lr, step_size, mode='triangular', gamma=1.0)``: cyclical learning rates.

    cycle = floor(1 + t / (2 step_size)), x = |t / step_size - 2 cycle + 1|, s(t) = base_lr + (max_lr -
    base_lr) * max(0, 1 - x) * scale, with scale 1 (triangular), 1 / 2**(cycle - 1) (triangular2) or gamma**t
    (exp_range).  Smith 2017.  Torch: CyclicLR with step_size_up = step_size_down = step_size.  The rate only:
    no momentum curve (torch's CyclicLR cycles momentum by default; pass cycle_momentum=False to it to
    compare).
    """

    base_lr: float
    max_lr: float
    step_size: int
    mode: str = "triangular"
    gamma: float = 1.0
    positional: ClassVar[int] = 2
    name: ClassVar[str] = "triangular"

    def __post_init__(self) -> None:
        _float(self, "base_lr")
        _float(self, "max_lr")
        _int(self, "step_size")
        _choice(self, "mode", ("triangular", "triangular2", "exp_range"))
        _float(self, "gamma", lo=0.0, lo_open=True)

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
    (cosine or linear) to max_lr / (div_factor * final_div_factor) at t = total - 1; with three_phase it first
    falls back to the start value over as many steps, then anneals.  Momentum moves the other way between
    max_momentum and base_momentum.  Torch: OneCycleLR(total_steps=total), phase arithmetic reproduced.  Past
    total - 1 (where torch overshoots at t = total and raises beyond) the final value is held.
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
        _float(self, "max_lr", lo=0.0, lo_open=True)
        total = _int(self, "total", lo=2)
        pct = _float(self, "pct_start", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
        _float(self, "div_factor", lo=0.0, lo_open=True)
        _float(self, "final_div_factor", lo=0.0, lo_open=True)
        _choice(self, "anneal", ("cos", "linear"))
        three = _bool(self, "three_phase")
        _float(self, "base_momentum", hi=1.0)
        _float(self, "max_momentum", hi=1.0)
        ends = [end for end, *_ in self._phases()]
        starts = [0.0, *ends[:-1]]
        if any(e <= s for s, e in zip(starts, ends, strict=False)):
            need = "1 < pct_start * total < (total + 1) / 2" if three else "pct_start * total > 1"
            raise _bad(
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
                out[here] = end + (start - end) / 2.0 * (_cos(np.pi * pct) + 1)
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


@dataclass(frozen=True, repr=False)
class Warmup(Schedule):
    """``warmup(steps, schedule, start_factor=0.0)``: a linear warm-up into any schedule.

    s(t) = schedule(0) * (start_factor * (steps - t) + t) / steps for t < steps, then schedule(t - steps).
    Goyal et al. 2017.  Torch: SequentialLR([LinearLR(start_factor, 1.0, steps), twin], milestones=[steps])
    (torch's LinearLR needs start_factor > 0).
    """

    steps: int
    schedule: Schedule
    start_factor: float = 0.0
    positional: ClassVar[int] = 2
    name: ClassVar[str] = "warmup"

    def __post_init__(self) -> None:
        _int(self, "steps")
        _schedule(self, "schedule")
        _float(self, "start_factor", hi=1.0)

    def _lr(self, t):
        warm = t < self.steps
        out = np.empty_like(t)
        if np.any(warm):
            out[warm] = _linear_lr(float(self.schedule(0.0)), self.start_factor, 1.0, self.steps, t[warm])
        if not np.all(warm):
            out[~warm] = self.schedule(t[~warm] - self.steps)
        return out

    @property
    def has_momentum(self) -> bool:
        return self.schedule.has_momentum

    def _momentum(self, t):
        return self.schedule.momentum(np.maximum(t - self.steps, 0.0))

    def _jumps(self, t0, t1):
        if t1 <= self.steps:
            return _no_jumps()
        inner = self.schedule.events(max(t0 - self.steps, 0.0), t1 - self.steps)
        return inner.t + self.steps, inner.lr_before


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
            raise _bad(self, f"schedules must be a non-empty list of schedules, got {items!r}")
        converted = []
        for item in items:
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = Constant(item)
            if not isinstance(item, Schedule):
                raise _bad(
                    self,
                    f"schedules must be a list of schedules such as [constant(0.1), cosine(0.1, "
                    f"total=90)], got {item!r} in it",
                )
            converted.append(item)
        _set(self, "schedules", tuple(converted))
        bounds = _numbers(self, "boundaries", integer=True, order="increasing", lo=1)
        if len(bounds) != len(converted) - 1:
            raise _bad(
                self,
                f"needs one boundary fewer than schedules, got {len(converted)} schedules and "
                f"{len(bounds)} boundaries",
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
            return _no_jumps()
        times_all = np.concatenate(times)
        _too_many_jumps(self, times_all.size, t0, t1)
        return times_all, np.concatenate(before)


SCHEDULE_CLASSES: tuple[type[Schedule], ...] = (
    Constant,
    Step,
    MultiStep,
    Piecewise,
    Exponential,
    Linear,
    Poly,
    Cosine,
    SGDR,
    Triangular,
    OneCycle,
    Warmup,
    Join,
)

# Lower-case constructors named as in the spec language: cosine(0.1, total=100) in Python and in a spec.
constant = Constant
step = Step
multistep = MultiStep
piecewise = Piecewise
exponential = Exponential
linear = Linear
poly = Poly
cosine = Cosine
sgdr = SGDR
triangular = Triangular
onecycle = OneCycle
warmup = Warmup
join = Join
