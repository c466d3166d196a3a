"""How the report writes values for people: numbers, percentages and file or run names.

One rule for every number on the page (tables, lists, the explanation's sentences): three significant digits,
as explain words its findings (0.00156, 0.0808, 2.5e-05), whole numbers as they are (5000, 12,345).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ..analysis.wording import pct as _words_pct
from ..logs.runlog import path_label

DIGITS = 3
_LONG_DECIMAL = re.compile(r"(?<![\w.])(\d+\.\d{4,})(?!\w|\.\d)")


def name_of(path: Path | str) -> str:
    """A file or run name as display text (a name that is not UTF-8 shows its bytes as \\xff)."""
    return path_label(Path(path).name)


def num(value) -> float | None:
    """``value`` as a finite float, else None (booleans, text and NaN are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _whole(value: int) -> str:
    return f"{value:,}" if abs(value) >= 10_000 else str(value)


def fmt(value, digits: int = DIGITS) -> str:
    """A value for people: numbers at ``digits`` significant digits (0.1, 0.00156, 2.5e-05, 1,235), whole
    numbers whole (5000, 12,345); text as it is; None and NaN as a dash; lists joined (long ones counted)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return _whole(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value == 0:
            return "0"
        if value == round(value) and abs(value) < 1e15:
            return _whole(int(value))
        if 10**digits <= abs(value) < 1e15:
            return _whole(round(value))
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value) if len(value) <= 8 else f"[{len(value)} values]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v, digits)}" for k, v in list(value.items())[:8])
    return str(value)


def fmt_text(text: str) -> str:
    """A sentence with its long decimals (0.0015625) rewritten by :func:`fmt` (0.00156), so the page prints
    each number one way; integers, short decimals and dotted versions (2.13.0) are left as they are."""
    return _LONG_DECIMAL.sub(lambda m: fmt(float(m.group(1))), text)


def pct(value, signed: bool = False) -> str:
    """A fraction as a percentage at two significant digits, as explain words it (0.324 -> '32%', 0.0093 ->
    '0.93%'; ``signed``: '+0.17%'); a dash when it is not a number."""
    v = num(value)
    return "–" if v is None else _words_pct(v, signed=signed)
