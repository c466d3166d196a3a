"""Readable ticks on log axes: always at least two labelled values, written as plain numbers.

Matplotlib's default log ticks label decades only, so a loss axis from 0.3 to 2.3 shows a single "10^0" and a
narrow one "1.45x10^0".  :func:`readable_log_ticks` replaces them on every log axis of a figure with
:class:`ReadableLogLocator` (labelled ticks at 1, 2, 5 or 1..9 times a power of ten, the coarsest set that puts
at least three inside the view; on a range too short for any, evenly spaced round numbers) and
:class:`PlainFormatter` ("0.3", "2", "0.001", "1e-6"; never mathtext).  Both work from the axis's view at draw
time, so they stay right whatever limits are set later.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import Formatter, Locator, LogLocator, MaxNLocator, NullFormatter

SUBS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0), (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0))
MIN_TICKS = 3  # labelled ticks wanted inside the view
MAX_TICKS = 9  # beyond this a decade set is thinned to every k-th decade


def log_tick_values(lo: float, hi: float) -> np.ndarray:
    """Tick values for a log axis viewing ``lo`` .. ``hi`` (positive): the coarsest of :data:`SUBS` that gives
    at least :data:`MIN_TICKS` inside, decades thinned to at most :data:`MAX_TICKS`; round linear values when
    even 1..9 per decade gives fewer than that and they give more (a range well under a decade)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= 0:
        return np.zeros(0)
    lo, hi = min(lo, hi), max(lo, hi)
    lo = max(lo, hi * 1e-300)
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    powers = 10.0 ** np.arange(first, last + 1)
    for subs in SUBS:
        values = np.sort(np.outer(powers, subs).ravel())
        inside = values[(values >= lo * (1 - 1e-9)) & (values <= hi * (1 + 1e-9))]
        if len(subs) == 1 and inside.size > MAX_TICKS:
            step = math.ceil(inside.size / MAX_TICKS)
            return inside[::step]
        if inside.size >= MIN_TICKS:
            return inside
    linear = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    linear = linear[(linear >= lo * (1 - 1e-9)) & (linear <= hi * (1 + 1e-9)) & (linear > 0)]
    return linear if linear.size > inside.size else inside


class ReadableLogLocator(Locator):
    """Major ticks of a log axis from :func:`log_tick_values` of its current view."""

    def __call__(self):
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin, vmax):
        return log_tick_values(float(vmin), float(vmax))


def plain_number(value: float) -> str:
    """A tick value as a person writes it: "0.3", "2", "1.45", "0.0001", "1e-6", "2e+5" (4 significant
    digits at most, exponent form only below 1e-4 or from 1e5)."""
    if value == 0 or not np.isfinite(value):
        return "0" if value == 0 else str(value)
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent):+d}" if int(exponent) > 0 else f"{mantissa}e{int(exponent)}"
    return text


class PlainFormatter(Formatter):
    """Tick labels as :func:`plain_number` writes them."""

    def __call__(self, x, pos=None):
        return plain_number(float(x))


def readable_axis(axis) -> None:
    """Put the readable locator and formatter on one log ``axis`` (an ``ax.xaxis``/``ax.yaxis``); minor ticks
    stay, unlabelled."""
    axis.set_major_locator(ReadableLogLocator())
    axis.set_major_formatter(PlainFormatter())
    axis.set_minor_locator(LogLocator(base=10, subs="auto", numticks=12))
    axis.set_minor_formatter(NullFormatter())


def readable_log_ticks(fig) -> None:
    """Every log axis of every axes of ``fig`` (twins and colour bars included) gets readable ticks.  Safe to
    call more than once; linear axes are left alone."""
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                readable_axis(axis)
