"""The learning rate as every figure draws it, and the marks of its changes.

A logged rate is the rate used to reach that row, so it is drawn with ``drawstyle="steps-post"`` from the
previous row: the step sits at the first row that used the new rate, the same x where the decay line is drawn
(:func:`change_positions`) and where the shaded drop starts (:func:`drop_spans`).
"""

from __future__ import annotations

import numpy as np

from ..analysis.events import rate_changes
from . import palette


def positive_span(values) -> bool:
    """True when ``values`` has finite entries, all of them above 0 (a log axis can show them)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return v.size > 0 and bool(np.all(v > 0))


def draw_rate(ax, x, lr, *, color: str = palette.LR, label: str | None = "learning rate", twin: bool = True,
              **style):
    """The rate against ``x`` as steps (steps-post) on a twin axis of ``ax`` (or on ``ax`` itself when ``twin``
    is False), log-scaled when every value is positive; returns the axes drawn on (None when nothing is finite)."""
    x = np.asarray(x, dtype=float)
    lr = np.asarray(lr, dtype=float)[: x.size]
    ok = np.isfinite(lr) & np.isfinite(x[: lr.size])
    if not ok.any():
        return None
    target = ax.twinx() if twin else ax
    kwargs = {"lw": 1.1, "alpha": 0.9} | style
    target.plot(x[: lr.size][ok], lr[ok], drawstyle="steps-post", color=color, label=label, **kwargs)
    if positive_span(lr[ok]):
        target.set_yscale("log")
    if twin:
        target.set_ylabel("learning rate", color=color, fontsize=8)
        target.tick_params(axis="y", labelsize=7, colors=color)
    return target


def change_positions(x, lr, rtol: float = 1e-9) -> list[tuple[float, bool]]:
    """``(x, is_decay)`` of every change of the logged rate, at the first row that used the new rate."""
    x = np.asarray(x, dtype=float)
    lr = np.asarray(lr, dtype=float)
    return [(float(x[i]), bool(lr[i] < lr[i - 1])) for i in rate_changes(lr, rtol=rtol)]


def mark_changes(ax, changes, *, label: bool = True) -> None:
    """Dotted vertical lines at ``changes`` (``(x, is_decay)``): decays red, rises green; labelled once each."""
    seen = set()
    for at, decay in changes:
        kind = "rate decay" if decay else "rate increase"
        ax.axvline(at, color=palette.DECAY if decay else palette.INCREASE, ls=":", lw=1.1,
                   label=kind if label and kind not in seen else None)
        seen.add(kind)


def _get(obj, key):
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def drop_spans(drops, events, step: float) -> list[tuple[float, float, bool]]:
    """``(start, end, explained)`` to shade for each drop (dataclasses or explain.json dicts): a drop that
    came with a rate change starts at that change's line and is at least ``step`` (one row) wide; a fall
    with no change behind it (shown only from a 5 % fall) spans the row before it to its row."""
    spans = []
    for drop in drops or []:
        at, event, relative = _get(drop, "x"), _get(drop, "event"), _get(drop, "relative") or 0.0
        if at is None:
            continue
        if event is None:
            if relative >= 0.05:
                spans.append((float(at) - step, float(at), False))
            continue
        start = _get(events[event], "x") if 0 <= event < len(events or []) else None
        start = float(at) if start is None else float(start)
        spans.append((start, max(float(at), start + step), True))
    return spans
