"""The words of an explanation: where a row is ("epoch 51 (step 20400)"), numbers, percentages and rates of
change, metric names ("validation error" for an accuracy read as an error), and the context every finding is
written from.

Numbers.  :func:`fmt` is the one formatter of plain numbers (rates, losses): three significant digits, so one
rate reads the same wherever it appears (0.0015625 is always "0.00156").  :func:`pct` writes a fraction as a
percentage with two significant digits ("45%", "5.0%", "0.84%").  :func:`value_word` writes a metric's value:
losses with :func:`fmt`, accuracies and error rates as percentages (a fraction 0.414 is "41.4%").

Rates of change are per unit of the log's x column (epoch, step, iteration), never per row: a slope fitted on
row numbers is wrong wherever rows are 50 or 115 steps apart.  :func:`rate_scale` picks how many x units one
quoted rate covers ("per epoch", "per 125 steps", "per 1000 steps").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..logs.runlog import RunLog
from .drops import Fall
from .events import RateChange, ScheduleShape
from .explanation import Drop
from .smooth import Series
from .stages import Stage


@dataclass
class Context:
    log: RunLog
    x: np.ndarray
    series: dict[str, Series]
    falls: dict[str, list[Fall]]
    events: list[RateChange]
    shape: ScheduleShape
    drops: list[Drop]
    stages: list[Stage]
    primary: str | None
    spec: str | None = None
    memo: dict = field(default_factory=dict)  # verdicts several producers share (pathologies, overfitting)

    def where(self, row: int | None) -> str:
        return where(self.log, self.x, row)

    @property
    def unit(self) -> str:
        """The word for one x unit: "epoch", "step", "iteration" or "row"."""
        return unit_word(self.log)

    def xv(self, row: int) -> float:
        """The x value of a row (the row's 1-based number when the log has no x column)."""
        return float(row + 1) if self.unit == "row" else float(self.x[row])

    def span(self, first: int, last: int) -> str:
        """Rows first..last in the log's own x values: "epoch 1-81", "step 3650-5100"; one row: "epoch 3"."""
        a, b = fmt_x(self.xv(first)), fmt_x(self.xv(last))
        return f"{self.unit} {a}" if a == b else f"{self.unit} {a}-{b}"

    def has_lr_info(self) -> bool:
        """True when the rate is known (a logged column or a --schedule spec)."""
        return self.log.has("lr") or bool(self.spec)


def _axis(log: RunLog) -> str:
    if log.x_name == "row":
        return "row"
    if log.roles.get("epoch") == log.x_name:
        return "epoch"
    if log.roles.get("step") == log.x_name:
        return "step"
    return log.x_name


def unit_word(log: RunLog) -> str:
    axis = _axis(log)
    name = log.x_name.strip().lower()
    if axis == "step" and name.startswith("iter"):
        return "iteration"
    if axis in ("epoch", "step", "row"):
        return axis
    if name.startswith("iter"):
        return "iteration"
    if "epoch" in name:
        return "epoch"
    return "step" if "step" in name else "row"


def where(log: RunLog, x: np.ndarray, row: int | None) -> str:
    if row is None:
        return "?"
    label = unit_word(log)
    value = row + 1 if label == "row" else x[row]
    text = f"{label} {fmt_x(value)}"
    ep = log.roles.get("epoch")
    if label != "epoch" and ep and ep != log.x_name and ep in log.columns and np.isfinite(log.columns[ep][row]):
        text += f" (epoch {fmt_x(log.columns[ep][row])})"
    return text


def fmt_x(v) -> str:
    v = float(v)
    return f"{v:.0f}" if v == round(v) else f"{v:.3g}"


def fmt(v: float | None, digits: int = 3) -> str:
    """A plain number at ``digits`` significant digits ("?" when unknown)."""
    if v is None or not np.isfinite(v):
        return "?"
    return f"{v:.{digits}g}"


def pct(frac: float, signed: bool = False) -> str:
    """A fraction as a percentage at two significant digits: 0.4486 -> "45%", 0.0084 -> "0.84%"."""
    if frac is None or not np.isfinite(frac):
        return "?"
    p = 100.0 * frac
    a = abs(p)
    if a >= 10 or a == 0:
        body = f"{a:.0f}"
    elif a >= 1:
        body = f"{a:.1f}"
    else:
        decimals = min(6, 1 - int(math.floor(math.log10(a))))
        body = f"{a:.{decimals}f}"
    sign = "-" if p < 0 else ("+" if signed else "")
    if body.strip("0.") == "":
        sign = "+" if signed else ""
    return f"{sign}{body}%"


def rate_scale(unit: str, spacing: float, span: float) -> float:
    """How many x units one quoted rate covers: 1 for epochs; for steps, the metric's own spacing when it is
    logged every k steps (k >= 10: "per 125 steps"), else the power of ten near a tenth of the span."""
    if unit == "epoch" and span >= 2:
        return 1.0
    if spacing >= 10 and abs(spacing - round(spacing)) < 1e-9:
        return float(round(spacing))
    if span <= 0:
        return 1.0
    return float(10 ** max(0, math.floor(math.log10(max(span / 10.0, 1.0)))))


def per_words(unit: str, scale: float) -> str:
    """ "per epoch", "per 125 steps"."""
    if scale == 1:
        return f"per {unit}"
    return f"per {fmt_x(scale)} {unit}s"


def units_words(unit: str, n: float) -> str:
    """ "14 epochs", "1 step", "1700 steps"."""
    return f"{fmt_x(n)} {unit}" + ("" if n == 1 else "s")


METRIC_WORDS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
}


def metric_word(ctx: Context, role: str) -> str:
    s = ctx.series.get(role)
    if s is not None and role.endswith("acc") and s.lower_is_better:
        return "training error" if role == "train_acc" else "validation error"
    return METRIC_WORDS[role]


def value_word(s: Series, v: float, digits: int = 1) -> str:
    if s.role.endswith("acc"):
        return f"{v:.{digits}f}%" if s.percent else (f"{100 * v:.{digits}f}%" if abs(v) <= 1 + 1e-9 else fmt(v))
    return fmt(v) if digits == 1 else fmt(v, digits + 2)


def pair_words(s: Series, a: float, b: float) -> str:
    """'a -> b', with more digits when the short forms would read the same."""
    for digits in (1, 2, 3):
        left, right = value_word(s, a, digits), value_word(s, b, digits)
        if left != right:
            break
    return f"{left} -> {right}"


def change_words(s: Series, a: float, b: float) -> str:
    """How a metric went from a to b, with the right direction word: "fell 45% (0.162 -> 0.0808)",
    "rose 4.1 points (88.6% -> 92.7%)", "held at 93.3%"; raw differences for a loss that goes negative."""
    pair = pair_words(s, a, b)
    if len(set(pair.split(" -> "))) == 1:
        return f"held at {value_word(s, b)}"
    verb = "rose" if b > a else "fell"
    if s.role.endswith("acc"):
        return f"{verb} {pair}"
    if a > 0 and b > 0:
        return f"{verb} {pct(abs(b - a) / a)} ({pair})"
    return f"{verb} by {fmt(abs(b - a))} ({pair})"
