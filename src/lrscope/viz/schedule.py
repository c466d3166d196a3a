"""The schedule picture: the rate over t = 0 .. steps - 1, momentum on a twin axis where the schedule has one,
and its jumps marked.  Matplotlib's object API with the Agg canvas (no pyplot, no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import UserError
from ..schedules.core import Schedule

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def schedule_figure(schedule: Schedule, steps: int, *, log_y: bool = False):
    """A Matplotlib Figure of ``schedule`` over ``steps`` values of t."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = np.arange(steps, dtype=np.float64)
    lr = schedule(t)
    fig = Figure(figsize=(7.0, 3.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    drawstyle = "steps-post" if steps <= 400 else "default"
    ax.plot(t, lr, color="tab:blue", lw=1.6, drawstyle=drawstyle, label="learning rate")
    ax.set_xlabel("t (completed scheduler steps)")
    ax.set_ylabel("learning rate", color="tab:blue")
    if log_y:
        if not np.any(lr > 0):
            raise UserError(f"--log-y needs positive rates, but {schedule.spec} is never above 0")
        ax.set_yscale("log", nonpositive="mask")  # a warm-up from 0 shows from its first positive rate
    for i, event in enumerate(schedule.events(0, steps)):
        ax.axvline(event.t, color="tab:red", lw=0.8, ls=":", label="jump" if i == 0 else None)
    momentum = schedule.momentum(t)
    if momentum is not None:
        ax2 = ax.twinx()
        ax2.plot(t, momentum, color="tab:orange", lw=1.2, ls="--", drawstyle=drawstyle, label="momentum")
        ax2.set_ylabel("momentum", color="tab:orange")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="best", fontsize=8)
    elif schedule.events(0, steps):
        ax.legend(loc="best", fontsize=8)
    ax.set_xlim(0, max(steps - 1, 1))
    ax.grid(alpha=0.3, which="both")
    title = schedule.spec if len(schedule.spec) <= 90 else schedule.spec[:87] + "..."
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_schedule(schedule: Schedule, steps: int, out: str | Path, *, log_y: bool = False) -> Path:
    """Write the schedule picture to ``out`` (PNG, or SVG/PDF by suffix) atomically; returns the path."""
    out = Path(out)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UserError(f"plot file must end in .png, .svg or .pdf, got {out.name!r}")
    fig = schedule_figure(schedule, steps, log_y=log_y)
    with atomic_path(out, suffix=out.suffix) as tmp:
        fig.savefig(tmp, format=fmt)
    return out
