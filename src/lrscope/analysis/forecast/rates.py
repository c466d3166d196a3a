"""The rate at every optimizer step, rebuilt from a subsampled LR column or taken from a schedule.

The loss laws need ``rates[t-1]``, the rate optimizer step t used, for every step 1..T, but logs keep one row
every 50-128 steps.  Between two logged rows the rate is rebuilt one of two ways:

- ``hold``: each logged rate holds until the next logged row (a step schedule: the change happened at the row
  that first shows it);
- ``interpolate``: linear between the rows (a smooth schedule sampled every few steps).

``auto`` (the default) decides per interval from the column itself: a change between two rows that has a
change next to it (the rate moves at every row: cosine, a linear or exponential decay) is interpolated; an
isolated change with flat rows on both sides (a step schedule) is held.  On the public curves this is what
makes both the wsd decays and the two-stage steps right (bench/bench_forecast_curves.py measures the three).

Before the first logged row: with ``warmup_steps`` W > 0 and a log that starts after it, a linear warm-up
from 0 to the first logged rate over steps 1..W, then that rate held up to the first row (the papers'
set-up, and what the schedule-curves files need: they start at step 2176, their warm-up ends at 2160); a log
that starts inside its warm-up is ramped linearly from 0 to its first row.  With W = 0 the first logged
rate is held back to step 1.
"""

from __future__ import annotations

import numpy as np

from ...errors import UserError

HOWS = ("auto", "hold", "interpolate")
MAX_STEPS = 50_000_000  # a per-step float64 sequence of this length is 400 MB: beyond it, a step axis is wrong


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: equal rates (to a relative 1e-9, so a float column written with rounding still holds)."""
    return np.abs(a - b) <= 1e-9 * np.maximum(np.abs(a), np.abs(b))


def checked_steps(step, what: str = "step") -> np.ndarray:
    """``step`` as an int64 array of 1-based optimizer steps, strictly increasing, or :class:`UserError`."""
    arr = np.asarray(step, dtype=np.float64).ravel()
    if arr.size == 0:
        raise UserError(f"{what}: no rows")
    if not np.all(np.isfinite(arr)):
        raise UserError(f"{what} holds NaN or infinite values; expected 1-based optimizer step numbers")
    if np.any(arr != np.round(arr)) or arr[0] < 1:
        raise UserError(f"{what} must hold whole optimizer steps from 1 on; got {arr[0]!r} ... {arr[-1]!r}")
    if np.any(np.diff(arr) <= 0):
        bad = int(np.argmax(np.diff(arr) <= 0))
        raise UserError(f"{what} must increase from row to row; row {bad + 2} has {arr[bad + 1]:g} after "
                        f"{arr[bad]:g}")
    if arr[-1] > MAX_STEPS:
        raise UserError(f"{what} reaches {arr[-1]:g}; expected at most {MAX_STEPS} optimizer steps")
    return arr.astype(np.int64)


def checked_rates(rates, what: str = "rates") -> np.ndarray:
    """``rates`` as a finite, non-negative float64 array with a positive value, or :class:`UserError`."""
    arr = np.asarray(rates, dtype=np.float64).ravel()
    if arr.size == 0:
        raise UserError(f"{what}: empty; expected one learning rate per optimizer step")
    if not np.all(np.isfinite(arr)):
        raise UserError(f"{what} hold NaN or infinite values; expected finite learning rates")
    if np.any(arr < 0) or not np.any(arr > 0):
        raise UserError(f"{what} must be >= 0 with at least one positive value; got min {arr.min():g}, "
                        f"max {arr.max():g}")
    return arr


def interpolated_intervals(lr: np.ndarray) -> np.ndarray:
    """For ``auto``: which intervals between consecutive rows to interpolate (a change with a changing neighbour)."""
    changed = ~_same(lr[1:], lr[:-1])
    before = np.concatenate([[False], changed[:-1]])
    after = np.concatenate([changed[1:], [False]])
    return changed & (before | after)


def step_rates(step, lr, *, how: str = "auto", warmup_steps: int = 0) -> tuple[np.ndarray, str]:
    """The rate of every optimizer step 1..max(step) from a logged (step, lr) column, and a note saying how.

    ``rates[t-1]`` is the rate step t used.  ``how``: ``"hold"``, ``"interpolate"`` or ``"auto"`` (per
    interval, see the module docstring).  ``warmup_steps``: the warm-up's length when the log starts after it.
    """
    if how not in HOWS:
        raise UserError(f"how must be one of {', '.join(HOWS)}; got {how!r}")
    steps = checked_steps(step)
    lr = checked_rates(lr, "lr")
    if lr.size != steps.size:
        raise UserError(f"step and lr must have one value per row; got {steps.size} steps and {lr.size} rates")
    warmup = int(warmup_steps)
    if warmup < 0:
        raise UserError(f"warmup_steps must be >= 0; got {warmup_steps!r}")
    total = int(steps[-1])
    t = np.arange(1, total + 1)
    held = lr[np.searchsorted(steps, t, side="right") - 1] if steps.size else lr  # valid from steps[0] on
    if how == "hold" or steps.size == 1:
        rates = held
        smooth = np.zeros(max(steps.size - 1, 0), dtype=bool)
    else:
        smooth = np.ones(steps.size - 1, dtype=bool) if how == "interpolate" else interpolated_intervals(lr)
        rates = held.copy()
        ramps = np.interp(t, steps, lr)
        interval = np.clip(np.searchsorted(steps, t, side="right") - 1, 0, max(steps.size - 2, 0))
        use = (t >= steps[0]) & (t < steps[-1]) & smooth[interval]
        rates[use] = ramps[use]
    notes = [_between_note(how, lr, smooth, steps.size, total)]
    first = int(steps[0])
    if first > 1:
        if warmup >= first:
            rates[: first - 1] = lr[0] * t[: first - 1] / first
            notes.append(f"ramped linearly from 0 to the first logged rate {lr[0]:.4g} over steps 1-{first - 1} "
                         f"(the log starts inside its {warmup}-step warm-up)")
        elif warmup > 0:
            rates[:warmup] = lr[0] * t[:warmup] / warmup
            rates[warmup: first - 1] = lr[0]
            hold = f", then held it to step {first - 1}" if first - 1 > warmup else ""
            notes.append(f"linear warm-up from 0 to the first logged rate {lr[0]:.4g} over steps 1-{warmup}{hold}")
        else:
            rates[: first - 1] = lr[0]
            notes.append(f"held the first logged rate {lr[0]:.4g} back to step 1 (no warm-up given; the log "
                         f"starts at step {first})")
    return rates, "; ".join(notes)


def _between_note(how: str, lr: np.ndarray, smooth: np.ndarray, rows: int, total: int) -> str:
    changed = ~_same(lr[1:], lr[:-1])
    head = f"rebuilt the rate of each of {total} steps from {rows} logged rows"
    if not changed.any():
        return f"{head}: the logged rate never changes"
    held = int((changed & ~smooth).sum())
    ramped = int((changed & smooth).sum())
    if how == "hold":
        return f"{head}: each logged rate held until the next row (how='hold')"
    if how == "interpolate":
        return f"{head}: linear interpolation between rows (how='interpolate')"
    parts = []
    if ramped:
        parts.append(f"interpolated linearly across {ramped} interval{'s' * (ramped != 1)} where the rate changes "
                     f"at every row (a smooth schedule)")
    if held:
        parts.append(f"held each rate until the next row at {held} isolated change{'s' * (held != 1)} (a step "
                     f"schedule)")
    return f"{head}: " + "; ".join(parts)


def rates_from_schedule(schedule, total_steps: int) -> np.ndarray:
    """``rates[t-1]`` = ``schedule(t-1)`` for t = 1..total_steps: the rate after t-1 completed steps is the rate
    step t uses (lrscope schedules count completed steps, as torch's schedulers do)."""
    total = int(total_steps)
    if total < 1 or total > MAX_STEPS:
        raise UserError(f"total_steps must be from 1 to {MAX_STEPS}; got {total_steps!r}")
    rates = np.asarray(schedule(np.arange(total, dtype=np.float64)), dtype=np.float64)
    return checked_rates(rates, f"the rates of schedule {getattr(schedule, 'spec', schedule)!s}")


def warmup_end(rates: np.ndarray) -> int:
    """The number of warm-up steps a per-step rate sequence shows: 0 when it does not start by rising, else the
    first step at which the initial non-decreasing stretch reaches its top (the peak after a linear warm-up)."""
    rates = np.asarray(rates, dtype=np.float64)
    if rates.size < 2:
        return 0
    falls = np.nonzero(rates[1:] < rates[:-1] * (1 - 1e-9))[0]
    stop = int(falls[0]) + 1 if falls.size else rates.size  # end of the non-decreasing prefix
    top = rates[:stop].max()
    if top <= rates[0] * (1 + 1e-9):
        return 0
    return int(np.argmax(rates[:stop] >= top * (1 - 1e-9))) + 1
