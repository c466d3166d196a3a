"""Loss and accuracy curves with the learning rate on a log twin axis, its changes marked.  Never trains.

    plot_curves(curves, "run.png")    # curves: a dict of equal-length arrays (a RunLog's columns will do)

``curves`` keys used: ``epoch`` (x; else ``step``, else the row number), ``lr``, ``train_loss``, ``val_loss``,
``train_acc``, ``val_acc`` (any may be missing; no accuracy panel without a finite accuracy value).  The rate is
drawn as steps (:mod:`lrscope.viz.rate`); its changes (a relative change over 1e-9 between consecutive points) as
dotted vertical lines at the first row at the new rate, decays in one colour, increases in another.  Colours and
the legend follow :mod:`lrscope.viz.palette`, log axes :mod:`lrscope.viz.ticks`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from .palette import RUN_STYLES, place_legend, role_color
from .rate import change_positions, draw_rate, mark_changes, positive_span
from .ticks import readable_log_ticks


def safe_text(text, width: int | None = None) -> str:
    """Text Matplotlib draws as it is: a path or column name made printable (no lone surrogates, no control
    characters), cut to ``width`` characters, and its ``$`` escaped (mathtext would parse ``$x^$`` and fail)."""
    from ..logs.runlog import path_label

    text = path_label(text) if isinstance(text, (str, bytes, os.PathLike)) else str(text)
    if width is not None and len(text) > width:
        text = text[: width - 3] + "..."
    return text.replace("$", r"\$")


def plot_curves(curves: dict, out: str | os.PathLike, *, title: str | None = None) -> Path:
    """Loss (and accuracy, only when a finite accuracy value exists) against x, the rate as steps on a log twin
    axis of each panel, its changes marked; one legend outside the panels; written atomically."""
    from .save import save_figure

    fig = curves_plot(curves, title=title)
    out = Path(out)
    save_figure(fig, out, dpi=110)
    return out


def curves_plot(curves: dict, *, title: str | None = None):
    """The figure :func:`plot_curves` writes (Agg, no pyplot)."""
    from .svg import new_figure

    cols = {k: np.asarray(v, dtype=float) for k, v in curves.items() if v is not None}
    n = max((len(v) for v in cols.values()), default=0)
    if n == 0:
        raise UserError("nothing to plot: no columns")
    xname = next((k for k in ("epoch", "step") if k in cols), None)
    x = cols[xname] if xname else np.arange(n, dtype=float)
    has = {k for k, v in cols.items() if np.isfinite(v).any()}
    has_acc = bool(has & {"train_acc", "val_acc"})
    fig = new_figure(8.6, 6.5 if has_acc else 4.0, layout="constrained")
    axes = fig.subplots(2 if has_acc else 1, 1, sharex=True, squeeze=False)[:, 0]
    panels = [(axes[0], "loss", ("train_loss", "val_loss"))]
    if has_acc:
        panels.append((axes[1], "accuracy", ("train_acc", "val_acc")))
    lr = cols.get("lr") if "lr" in has else None
    changes = change_positions(x, lr) if lr is not None else []
    for ax, label, keys in panels:
        drawn = [k for k in keys if k in has]
        for key in drawn:
            ax.plot(x[: cols[key].size], cols[key], ls=RUN_STYLES["train" if key.startswith("train") else "val"]["ls"],
                    color=role_color(key), lw=1.3, label=key.replace("_", " "))
        if label == "loss" and drawn and all(positive_span(cols[k]) for k in drawn):
            ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        mark_changes(ax, changes)
        if lr is not None:
            draw_rate(ax, x, lr)
    axes[-1].set_xlabel(safe_text(xname or "row", 60))
    if title:
        axes[0].set_title(safe_text(title, 80))
    place_legend(fig)
    readable_log_ticks(fig)
    return fig
