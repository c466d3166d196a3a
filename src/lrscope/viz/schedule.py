"""The schedule picture: the rate over t = 0 .. steps - 1, momentum on a twin axis where the schedule has one,
and its jumps marked.  Matplotlib's object API with the Agg canvas (no pyplot, no display).

A picture is about 800 pixels wide, so a long schedule is drawn from at most ``MAX_BINS`` bins of t, each by
its first, lowest, highest and last value in order (so every spike and every drop stays visible at that
width), and at most ``MAX_MARKERS`` jumps are marked (evenly chosen); the plot says so in a note when it
does either.  sgdr(0.1, period=1) over 10**7 steps is then 4,000 points and 200 lines, not 10**7 of each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from ..outputs import FIGURE, check_output
from ..schedules.core import Schedule
from . import palette
from .palette import place_legend
from .save import save_figure
from .ticks import readable_log_ticks

MAX_BINS = 1000  # bins of t along the x axis (a few per pixel column at the figure's width)
MAX_MARKERS = 200  # jump lines drawn at most
MOMENTUM = "#9467bd"


def decimate(values: np.ndarray, bins: int = MAX_BINS) -> np.ndarray:
    """Indices into ``values`` that draw the same picture at ``bins`` columns: for each of ``bins`` runs of
    equal length, its first, last, lowest and highest entries, in order (all indices when that is no fewer).
    NaNs are ignored within a run; a run of NaNs keeps its first and last index."""
    n = values.size
    if n <= 4 * bins:
        return np.arange(n)
    width = -(-n // bins)  # ceil
    bins = -(-n // width)
    padded = np.full(bins * width, np.nan)
    padded[:n] = values
    table = padded.reshape(bins, width)
    starts = np.arange(bins) * width
    finite = np.isfinite(table)
    some = finite.any(axis=1)
    low = np.where(finite, table, np.inf).argmin(axis=1)
    high = np.where(finite, table, -np.inf).argmax(axis=1)
    ends = np.minimum(starts + width, n) - 1
    picks = [starts, ends, np.where(some, starts + low, starts), np.where(some, starts + high, starts)]
    return np.unique(np.concatenate(picks))


def schedule_figure(schedule: Schedule, steps: int, *, log_y: bool = False):
    """A Matplotlib Figure of ``schedule`` over ``steps`` values of t."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = np.arange(steps, dtype=np.float64)
    lr = schedule(t)
    momentum = schedule.momentum(t)
    keep = decimate(lr)
    if momentum is not None:
        keep = np.union1d(keep, decimate(momentum))
    notes = []
    if keep.size < steps:
        notes.append(f"curve drawn from the lowest and highest rate of each {-(-steps // MAX_BINS):,} steps")
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    fig = Figure(figsize=(7.6, 3.6), dpi=120)
    fig.set_layout_engine(ConstrainedLayoutEngine(rect=(0, 0.04 if notes else 0, 1, 1 - (0.04 if notes else 0))))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    drawstyle = "steps-post" if steps <= 400 else "default"
    ax.plot(t[keep], lr[keep], color=palette.LR, lw=1.6, drawstyle=drawstyle, label="learning rate")
    ax.set_xlabel("t (completed scheduler steps)")
    ax.set_ylabel("learning rate", color=palette.LR)
    if log_y:
        if not np.any(lr > 0):
            raise UserError(f"--log-y needs positive rates, but {schedule.spec} is never above 0")
        ax.set_yscale("log", nonpositive="mask")  # a warm-up from 0 shows from its first positive rate
    jumps = schedule.events(0, steps).t
    if jumps.size:
        marked = jumps
        if jumps.size > MAX_MARKERS:
            marked = jumps[np.unique(np.linspace(0, jumps.size - 1, MAX_MARKERS).round().astype(np.int64))]
            notes.append(f"{marked.size} of {jumps.size:,} jumps marked")
        ax.vlines(marked, 0, 1, transform=ax.get_xaxis_transform(), colors=palette.DECAY, lw=0.8, linestyles=":",
                  label="jump")
    if momentum is not None:
        ax2 = ax.twinx()
        ax2.plot(t[keep], momentum[keep], color=MOMENTUM, lw=1.2, ls="--", drawstyle=drawstyle,
                 label="momentum")
        ax2.set_ylabel("momentum", color=MOMENTUM)
    if momentum is not None or jumps.size:
        place_legend(fig)
    ax.set_xlim(0, max(steps - 1, 1))
    ax.grid(alpha=0.3, which="both")
    title = schedule.spec if len(schedule.spec) <= 90 else schedule.spec[:87] + "..."
    ax.set_title(title, fontsize=9)
    if notes:
        fig.text(0.995, 0.005, "; ".join(notes), ha="right", va="bottom", fontsize=6.5, color="0.4")
    readable_log_ticks(fig)
    return fig


def plot_schedule(schedule: Schedule, steps: int, out: str | Path, *, log_y: bool = False) -> Path:
    """Write the schedule picture to ``out`` (PNG, or SVG/PDF by suffix) atomically; returns the path."""
    out = check_output(out, suffixes=FIGURE, option="--plot")
    fig = schedule_figure(schedule, steps, log_y=log_y)
    return save_figure(fig, out, dpi=fig.dpi)
