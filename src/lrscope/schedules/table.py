"""A few rows that show a schedule's shape (the CLI table): evenly spaced t and the steps around each jump."""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .core import Schedule

MAX_STEPS = 10_000_000


def check_steps(steps: int) -> int:
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        raise UserError(f"--steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
    return steps


def values(schedule: Schedule, steps: int) -> list[float]:
    """s(t) for t = 0 .. steps - 1 as Python floats (finite, or a UserError saying where it overflowed)."""
    lrs = schedule(np.arange(check_steps(steps), dtype=np.float64))
    bad = np.flatnonzero(~np.isfinite(lrs))
    if bad.size:
        raise UserError(f"{schedule.spec} is not finite at t={int(bad[0])} (overflow); use fewer steps")
    return lrs.tolist()


MAX_JUMP_ROWS = 12  # jumps shown in the table (each as the step before it and its own); the count says the rest


def rows(schedule: Schedule, steps: int, samples: int = 10) -> list[dict]:
    """Rows {t, lr, momentum, event} for evenly spaced t in [0, steps) and t - 1, t at each jump.

    At most ``MAX_JUMP_ROWS`` jumps get rows (evenly chosen among them, the first and last included): an
    sgdr(0.1, period=1) over 10**7 steps jumps at every step, and its table stays a table.
    """
    check_steps(steps)
    events = schedule.events(0, steps)
    whole = np.flatnonzero(np.floor(events.t) == events.t)  # jumps at integral t (all, for integral bounds)
    if whole.size > MAX_JUMP_ROWS:
        whole = whole[np.unique(np.linspace(0, whole.size - 1, MAX_JUMP_ROWS).round().astype(np.int64))]
    ts = set(np.unique(np.linspace(0, steps - 1, min(samples, steps)).round().astype(int)).tolist())
    for t in events.t[whole].astype(np.int64).tolist():
        ts.update(x for x in (t - 1, t) if 0 <= x < steps)
    ts_sorted = sorted(ts)
    at = np.array(ts_sorted, dtype=np.float64)
    lrs = schedule(at)
    moms = schedule.momentum(at)
    found = np.minimum(np.searchsorted(events.t, at), max(len(events) - 1, 0))
    out = []
    for i, t in enumerate(ts_sorted):
        event = events[int(found[i])] if len(events) and events.t[found[i]] == t else None  # any row may be a jump
        out.append(
            {
                "t": t,
                "lr": float(lrs[i]),
                "momentum": None if moms is None else float(moms[i]),
                "event": None if event is None else _jump_text(event),
            }
        )
    return out


def _jump_text(event) -> str:
    if event.lr_before > 0:
        return f"x{event.factor:.4g}"
    return f"{event.lr_before:.3g} -> {event.lr_after:.3g}"
