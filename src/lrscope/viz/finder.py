"""The LR range test picture: raw and fitted loss against lr (log axis), d loss / d log10 lr on a twin axis,
every suggestion and the range marked; with several repeats, every sweep drawn.

Never computes or trains: everything drawn comes from the
:class:`lrscope.analysis.finder_result.FinderResult` (or its JSON document).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .save import save_figure

_MARKS = {
    "combined": ("tab:red", "-"),
    "steepest": ("tab:purple", "--"),
    "midpoint": ("tab:brown", "--"),
    "valley": ("tab:olive", ":"),
    "minimum_over_10": ("tab:gray", ":"),
}


def _doc(result: Any) -> dict:
    return result if isinstance(result, dict) else result.to_json()


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def plot_finder(result: Any, ax=None):
    """Draw ``result`` on ``ax`` (a new Agg figure when None); returns the axes."""
    doc = _doc(result)
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.5, 4.2), dpi=120)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
    sweeps = doc["sweeps"]
    ymax = -np.inf
    ymin = np.inf
    for k, sweep in enumerate(sweeps):
        lrs, raw, fit = _arr(sweep["lrs"]), _arr(sweep["losses"]), _arr(sweep["fit"])
        first = k == 0
        ax.plot(lrs, raw, color="tab:blue", lw=0.7, alpha=0.35 if first else 0.2,
                label="raw loss" if first else None)
        ax.plot(lrs, fit, color="tab:blue", lw=1.8, alpha=1.0 if first else 0.5,
                label="local fit" if first else None)
        if first:
            ax.plot(lrs, _arr(sweep["smoothed"]), color="tab:cyan", lw=1.0, ls="--", label="EMA (debiased)")
        finite = fit[np.isfinite(fit)]
        if finite.size:
            ymin, ymax = min(ymin, finite.min()), max(ymax, finite.max())
    if np.isfinite(ymin) and np.isfinite(ymax) and ymax > ymin:
        pad = 0.15 * (ymax - ymin)
        ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    low, high = doc["range"]
    ax.axvspan(low, high, color="tab:green", alpha=0.08, label=f"range {low:.2g} .. {high:.2g}")
    for name, value in doc["suggestions"].items():
        color, style = _MARKS.get(name, ("black", ":"))
        lw = 2.0 if name == "combined" else 1.0
        label = f"{'suggestion' if name == 'combined' else name} {value:.2g}"
        ax.axvline(value, color=color, ls=style, lw=lw, label=label)
    ax2 = ax.twinx()
    slope = _arr(sweeps[0]["slope"])
    ax2.plot(_arr(sweeps[0]["lrs"]), slope, color="tab:orange", lw=0.9, alpha=0.7,
             label="d loss / d log10 lr")
    ax2.axhline(0.0, color="tab:orange", lw=0.5, alpha=0.4)
    ax2.set_ylabel("slope", color="tab:orange")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="best", fontsize=7, framealpha=0.8)
    title = f"LR range test: suggestion {doc['suggestion']:.3g}"
    if doc.get("spread_decades") is not None:
        title += f", spread {doc['spread_decades']:.2f} decades over {doc['repeats']} repeats"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return ax


def save_finder_plot(result: Any, out: str | Path) -> Path:
    """Write the picture to ``out`` (png/svg/pdf by suffix) atomically."""
    ax = plot_finder(result)
    fig = ax.figure
    fig.tight_layout()
    out = Path(out)
    return save_figure(fig, out, dpi=fig.dpi)
