"""How the report writes values for people: numbers, percentages and file or run names."""

from __future__ import annotations

import math
from pathlib import Path

from ..logs.runlog import path_label


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


def fmt(value, digits: int = 4) -> str:
    """A number for people: 0.1, 2.3e-05, 1,024; text as it is; None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value == 0:
            return "0"
        if 1e-3 <= abs(value) < 1e5:
            return f"{value:.{digits}g}"
        return f"{value:.{max(digits - 2, 1)}e}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value) if len(value) <= 8 else f"[{len(value)} values]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v, digits)}" for k, v in list(value.items())[:8])
    return str(value)


def pct(value) -> str:
    """A fraction as a percentage with one decimal (0.741 -> '74.1 %'); a dash when it is not a number."""
    v = num(value)
    return "–" if v is None else f"{100 * v:.1f} %"
