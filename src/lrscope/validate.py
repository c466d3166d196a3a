"""One checker for the numbers a user gives: a command-line flag or an API argument, against a sane range.

Every numeric input is checked at the boundary, once, here, so that an absurd value (``--epochs 10**23``,
``--lr-scale 1e308``, ``--threads 100000``) is one line saying what came and what was expected, never a hang,
a MemoryError or an OverflowError deep inside::

    >>> check_int("--epochs", 30, low=1, high=1_000_000)
    30
    >>> check_int("--epochs", 10**23, low=1, high=1_000_000)
    Traceback (most recent call last):
    ...
    lrscope.errors.UserError: --epochs must be an integer from 1 to 1000000; got 100000000000000000000000
    >>> check_float("--span", 0.5, low=0, low_open=True, high=1e3)
    0.5
"""

from __future__ import annotations

import math
import numbers
import os

from .errors import UserError

# torch.manual_seed accepts exactly this range (it wraps negatives into the unsigned 64-bit space)
SEED_RANGE = (-(2**63), 2**64 - 1)


def _number_text(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_number(value) -> bool:
    """A real number that is neither a bool nor NaN/inf (what a JSON record's numeric field must hold)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``low..high`` (inclusive; None = unbounded), or :class:`UserError`."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value, ok = int(value), True
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    raise UserError(f"{name} must be {_int_range_text(low, high)}; got {_number_text(value)}")


def check_float(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the bounds (open or closed at each end), or :class:`UserError`."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    if ok and math.isfinite(number):
        above = low is None or (number > low if low_open else number >= low)
        below = high is None or (number < high if high_open else number <= high)
        if above and below:
            return number
    raise UserError(f"{name} must be {_float_range_text(low, high, low_open, high_open)}; got "
                    f"{_number_text(value)}")


def check_seed(name: str, value) -> int:
    """A seed torch.manual_seed accepts: an integer from -2**63 to 2**64 - 1."""
    return check_int(name, value, low=SEED_RANGE[0], high=SEED_RANGE[1])


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (MemAvailable), or None where that cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(what: str, nbytes: float) -> None:
    """Refuse, before allocating, work whose arrays alone would need more memory than the machine has free."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise UserError(f"{what} needs about {_bytes_text(nbytes)} of memory; this machine has "
                        f"{_bytes_text(free)} free")


def _bytes_text(n: float) -> str:
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def unsigned_seed(seed: int) -> int:
    """A seed as the unsigned 64-bit number torch makes of it (-1 -> 2**64 - 1), for NumPy's generators,
    which take no negative seeds; seeds 0 .. 2**64 - 1 are unchanged."""
    return int(seed) % 2**64


def check_choice(name: str, value, choices) -> str:
    """``value`` if it is one of ``choices``, else :class:`UserError` listing them."""
    if value in choices:
        return value
    raise UserError(f"{name} must be one of {', '.join(map(str, choices))}; got {_number_text(value)}")


def _int_range_text(low, high) -> str:
    if low is not None and high is not None:
        return f"an integer from {low} to {high}"
    if low is not None:
        return f"an integer >= {low}"
    if high is not None:
        return f"an integer <= {high}"
    return "an integer"


def _float_range_text(low, high, low_open, high_open) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return "a finite number" + (" " + " and ".join(parts) if parts else "")
