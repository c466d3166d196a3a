"""``lrscope compare``'s overlay: validation accuracy, validation loss and the rate against epoch, one line per
run: one colour a run (:mod:`lrscope.viz.palette`), validation dashed, train solid, the rate as steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import palette
from .palette import place_legend
from .save import save_figure


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def save_comparison_plot(rows: list[dict], out: str | Path, target_acc: float | None = None) -> Path:
    """``lrscope compare``'s overlay: validation accuracy, validation loss and the rate against epoch, one
    line per run (rows from :func:`lrscope.analysis.comparison.summarise_runs`)."""
    from matplotlib.lines import Line2D

    from .svg import new_figure

    fig = new_figure(13.0, 3.8, dpi=110)
    axes = fig.subplots(1, 3)
    for i, row in enumerate(rows):
        curves = row["curves"]
        epochs = _arr(curves["epoch"])
        label = row.get("spec") or row.get("schedule") or row["name"]
        color = palette.run_color(i)
        axes[0].plot(epochs, _arr(curves["val_acc"]), color=color, label=label, **palette.RUN_STYLES["val"])
        axes[1].plot(epochs, _arr(curves["val_loss"]), color=color, **palette.RUN_STYLES["val"])
        axes[1].plot(epochs, _arr(curves["train_loss"]), color=color, **palette.RUN_STYLES["train"])
        lr = _arr(curves["lr"])
        axes[2].plot(epochs, np.where(lr > 0, lr, np.nan), color=color, drawstyle="steps-post", lw=1.3)
    if target_acc is not None:
        axes[0].axhline(target_acc, color="black", lw=0.8, ls=":", label=f"target {target_acc:.1%}")
    axes[0].set_ylabel("validation accuracy")
    axes[1].set_ylabel("loss")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("learning rate")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", **palette.RUN_STYLES["train"]),
                Line2D([], [], color="0.3", **palette.RUN_STYLES["val"])]
    labels += ["train loss (solid)", "validation (dashed)"]
    place_legend(fig, handles, labels)
    return save_figure(fig, out, dpi=fig.dpi)
