"""The words of an explanation: where a row is ("epoch 51 (step 20400)"), numbers at three significant digits,
metric names ("validation error" for an accuracy read as an error), and the context every finding is written
from."""

from __future__ import annotations

from dataclasses import dataclass

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

    def where(self, row: int | None) -> str:
        return where(self.log, self.x, row)

    @property
    def unit(self) -> str:
        return {"epoch": "epoch", "step": "step"}.get(_axis(self.log), "row")


def _axis(log: RunLog) -> str:
    if log.x_name == "row":
        return "row"
    if log.roles.get("epoch") == log.x_name:
        return "epoch"
    if log.roles.get("step") == log.x_name:
        return "step"
    return log.x_name


def where(log: RunLog, x: np.ndarray, row: int | None) -> str:
    if row is None:
        return "?"
    axis = _axis(log)
    label = {"epoch": "epoch", "step": "step", "row": "row"}.get(axis, axis)
    value = row if axis == "row" else x[row]
    text = f"{label} {fmt_x(value)}"
    ep = log.roles.get("epoch")
    if axis != "epoch" and ep and ep in log.columns and np.isfinite(log.columns[ep][row]):
        text += f" (epoch {fmt_x(log.columns[ep][row])})"
    return text


def fmt_x(v) -> str:
    v = float(v)
    return f"{v:.0f}" if v == round(v) else f"{v:.3g}"


def fmt(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "?"
    return f"{v:.3g}"


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
        return f"{v:.{digits}f}%" if s.percent else (f"{100 * v:.{digits}f}%" if abs(v) <= 1 else fmt(v))
    return fmt(v) if digits == 1 else f"{v:.{digits + 2}g}"


def pair_words(s: Series, a: float, b: float) -> str:
    """'a -> b', with more digits when the short forms would read the same."""
    for digits in (1, 2, 3):
        left, right = value_word(s, a, digits), value_word(s, b, digits)
        if left != right:
            break
    return f"{left} -> {right}"
