"""Restarted warm-ups in words: a rate that fell and then climbed back (a new or resumed run appended to the
log restarts its warm-up) is said to be one, so that nobody reads it as a planned decay.

The restarts themselves are found with the logged rate's steps (:mod:`lrscope.analysis.events`,
``ScheduleShape.restarted_warmups``); this producer only words them: the fall's size and place, how far in x
the climb back took and the rate it reached.
"""

from __future__ import annotations

from .explanation import Finding
from .wording import Context, fmt, fmt_x


def restart_findings(ctx: Context) -> list[Finding]:
    out = []
    for r in ctx.shape.restarted_warmups:
        size = f" {r.factor:.3g}x" if r.factor else ""
        climb = ""
        if r.end_row is not None and r.end_row > r.row:
            span = float(ctx.x[r.end_row] - ctx.x[r.row])
            unit = ctx.unit if ctx.unit != "row" else "row"
            lr_end = ctx.log.role("lr")
            reached = f" to {fmt(float(lr_end[r.end_row]))}" if lr_end is not None else ""
            climb = f" over {fmt_x(span)} {unit}s{reached} (by {ctx.where(r.end_row)})"
        out.append(
            Finding(
                "schedule",
                r.row,
                f"The rate fell{size} at {ctx.where(r.row)} ({fmt(r.lr_before)} -> {fmt(r.lr_after)}) and then "
                f"climbed back{climb}: a restarted warm-up (a new or resumed run appended to the log), not a "
                "decay, so no drop is blamed on it.",
            )
        )
    return out
