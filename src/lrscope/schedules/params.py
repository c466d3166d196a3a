"""Checks of a schedule's parameters, run by each schedule's ``__post_init__``.

Each check reads the field ``name`` of a schedule, refuses a bad value with a
:class:`~lrscope.errors.UserError` that names the schedule, the parameter, what was expected and what came
(``step(): step_size must be an integer from 1 to 1e+15, got 0``), and stores the value in its canonical
type (a float, an int, a tuple), so that equal schedules compare and hash equal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import UserError
from .core import Schedule

MAX_INT = 10**15  # largest step count, period, milestone or boundary: 10**15 steps is beyond any training run
MAX_NUMBER = 1e300  # largest magnitude of a rate or factor (anything near float's 1.8e308 overflows at once)


def param_error(schedule: Schedule, message: str) -> UserError:
    return UserError(f"{schedule.name}(): {message}")


def set_param(schedule: Schedule, name: str, value: Any) -> None:
    """Store a checked value in a frozen schedule."""
    object.__setattr__(schedule, name, value)


def short(value: Any) -> str:
    """repr(value), cut to 60 characters (a 10,000-digit integer is not a message)."""
    if isinstance(value, int) and abs(value) > 10**40:
        return f"an integer of {len(str(abs(value))) if abs(value) < 10**4000 else 'over 4000'} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def float_param(
    s: Schedule,
    name: str,
    *,
    lo: float | None = 0.0,
    lo_open: bool = False,
    hi: float | None = None,
    hi_open: bool = False,
    what: str = "",
) -> float:
    """A finite number within [lo, hi] (either end open or absent), stored as a float."""
    value = getattr(s, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise param_error(s, f"{name} must be a number, got {short(value)}")
    if isinstance(value, (int, np.integer)) and abs(int(value)) > MAX_NUMBER:
        raise param_error(s, f"{name} must be a finite number of magnitude at most {MAX_NUMBER:g}, got {short(value)}")
    value = float(value)
    ok = math.isfinite(value)
    ok = ok and (lo is None or (value > lo if lo_open else value >= lo))
    ok = ok and (hi is None or (value < hi if hi_open else value <= hi))
    if not ok:
        if not what:
            lo_text = "" if lo is None else f"{'>' if lo_open else '>='} {lo:g}"
            hi_text = "" if hi is None else f"{'<' if hi_open else '<='} {hi:g}"
            what = "a finite number " + " and ".join(x for x in (lo_text, hi_text) if x)
        raise param_error(s, f"{name} must be {what.strip()}, got {value!r}")
    set_param(s, name, value)
    return value


def int_param(s: Schedule, name: str, *, lo: int = 1) -> int:
    """An integer from lo to ``MAX_INT`` (an integral float is accepted), stored as an int."""
    value = getattr(s, name)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= MAX_INT:
        raise param_error(s, f"{name} must be an integer from {lo} to {MAX_INT:.0e}, got {short(value)}")
    set_param(s, name, int(value))
    return int(value)


def numbers_param(s: Schedule, name: str, *, integer: bool, order: str | None, lo: float, min_len: int = 0) -> tuple:
    """A list of numbers (ints when ``integer``), each >= lo, in ``order`` (increasing, non-decreasing)."""
    value = getattr(s, name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise param_error(s, f"{name} must be a list of numbers, got {value!r}")
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
            raise param_error(s, f"{name} must be a list of {kind} from {lo:g} to {hi:.0e}, got {short(list(value))}")
        out.append(int(item) if integer else float(item))
    if len(out) < min_len:
        raise param_error(s, f"{name} needs at least {min_len} entries, got {list(value)!r}")
    for a, b in zip(out, out[1:], strict=False):
        if (order == "non-decreasing" and b < a) or (order == "increasing" and b <= a):
            raise param_error(
                s,
                f"{name} must be {'strictly increasing' if order == 'increasing' else 'sorted'}, got {out!r}",
            )
    result = tuple(out)
    set_param(s, name, result)
    return result


def choice_param(s: Schedule, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    value = getattr(s, name)
    if value not in choices:
        raise param_error(s, f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return value


def bool_param(s: Schedule, name: str) -> bool:
    """True or False (a NumPy bool is accepted), stored as a bool."""
    value = getattr(s, name)
    if not isinstance(value, (bool, np.bool_)):
        raise param_error(s, f"{name} must be True or False, got {value!r}")
    set_param(s, name, bool(value))
    return bool(value)
