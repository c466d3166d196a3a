"""A :class:`~.curve.Curve` from a :class:`~lrscope.logs.runlog.RunLog`: its step axis, a loss column, and the rate
of every step (rebuilt from its LR column, or from a schedule when the log has none)."""

from __future__ import annotations

import numpy as np

from ...errors import UserError
from ...logs.runlog import RunLog
from .curve import Curve
from .rates import rates_from_schedule, step_rates


def assumed_warmup(log: RunLog, warmup_steps: int | None) -> int:
    """The warm-up before a log's first row: ``warmup_steps`` when given.  None: a log whose first row comes long
    after step 1 (more than two logging intervals) is taken to start where its warm-up ended (a linear ramp from 0
    over the steps before it, as the papers' published curves are logged: their rows start just after the
    warm-up); a log that starts within its first intervals had no warm-up it did not log (0)."""
    if warmup_steps is not None:
        return int(warmup_steps)
    step = log.role("step")
    steps = np.sort(step[np.isfinite(step)]) if step is not None else np.empty(0)
    if steps.size < 2:
        return 0
    spacing = float(np.median(np.diff(steps)))
    first = float(steps[0])
    return int(first) - 1 if first > 1 and first > 2 * spacing else 0


def curve_from_log(log: RunLog, *, loss: str = "train_loss", schedule=None, how: str = "auto",
                   warmup_steps: int | None = 0, name: str | None = None) -> tuple[Curve, list[str]]:
    """The curve of ``log``'s ``loss`` role (``"train_loss"`` or ``"val_loss"``) and notes on how it was read.

    A log that counts steps from 0 is read as 1-based (step + 1).  ``schedule``: an lrscope Schedule giving the
    rates instead of the log's LR column (it counts completed steps).  ``warmup_steps``: see
    :func:`assumed_warmup` (None: assume the log starts where its warm-up ended).
    """
    warmup_steps = assumed_warmup(log, warmup_steps)
    label = name or log.path or "log"
    step = log.role("step")
    if step is None:
        raise UserError(f"{label}: no step column; a forecast needs the optimizer step of each row (columns: "
                        f"{', '.join(log.columns) or 'none'})")
    values = log.role(loss)
    if values is None:
        raise UserError(f"{label}: no {loss.replace('_', ' ')} column to fit (roles found: "
                        f"{', '.join(sorted(log.roles)) or 'none'})")
    notes = []
    offset = 0
    finite_steps = step[np.isfinite(step)]
    if finite_steps.size and finite_steps.min() == 0:
        offset = 1
        notes.append("the log counts steps from 0: read them as 1-based (step + 1)")
    keep = np.isfinite(step) & np.isfinite(values)
    if not keep.any():
        raise UserError(f"{label}: no row holds both a step and a {loss.replace('_', ' ')}")
    steps = step[keep] + offset
    if schedule is not None:
        rates = rates_from_schedule(schedule, int(np.max(steps)))
        notes.append(f"rates of every step from the schedule {getattr(schedule, 'spec', schedule)}")
    else:
        lr = log.role("lr")
        if lr is None:
            raise UserError(f"{label}: no learning-rate column; give the schedule the run used")
        have = np.isfinite(step) & np.isfinite(lr)
        if not have.any():
            raise UserError(f"{label}: the learning-rate column holds no value at a logged step")
        rates, note = step_rates(step[have] + offset, lr[have], how=how, warmup_steps=warmup_steps)
        notes.append(note)
        if rates.size < np.max(steps):  # the loss goes on after the last logged rate: that rate holds
            rates = np.concatenate([rates, np.full(int(np.max(steps)) - rates.size, rates[-1])])
            notes.append(f"held the last logged rate from step {int(np.max(step[have]) + offset)} to the end")
    return Curve(steps, values[keep], rates, name=name or log.path, warmup_steps=warmup_steps), notes
