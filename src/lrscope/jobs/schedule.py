"""``lrscope schedule SPEC --steps N``: the schedule's values, a few rows that show its shape, and its picture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..outputs import FIGURE, check_output
from ..schedules import Schedule, parse_schedule
from ..schedules.table import rows, values


@dataclass
class ScheduleView:
    schedule: Schedule
    lrs: list[float]  # s(t) for t = 0 .. steps - 1
    rows: list[dict]  # {t, lr, momentum, event} for the table
    jumps: int
    plot: Path | None


def schedule_job(spec: str, steps: int, *, plot: Path | None = None, log_y: bool = False,
                 table: bool = True) -> ScheduleView:
    """Parse ``spec``, evaluate it on t = 0 .. steps - 1, and draw it into ``plot`` when given."""
    schedule = parse_schedule(spec)
    if plot is not None:
        plot = check_output(plot, suffixes=FIGURE, option="--plot")
    lrs = values(schedule, steps)
    if plot is not None:
        from ..viz.schedule import plot_schedule

        plot = plot_schedule(schedule, steps, plot, log_y=log_y)
    sampled = rows(schedule, steps) if table else []
    return ScheduleView(schedule, lrs, sampled, len(schedule.events(0, steps)), plot)
