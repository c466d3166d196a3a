"""``lrscope compare``'s overlay: validation accuracy, validation loss and the rate against epoch, one line per
run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .save import save_figure


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def save_comparison_plot(rows: list[dict], out: str | Path, target_acc: float | None = None) -> Path:
    """``lrscope compare``'s overlay: validation accuracy, validation loss and the rate against epoch, one
    line per run (rows from :func:`lrscope.analysis.comparison.summarise_runs`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 3.8), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    for row in rows:
        curves = row["curves"]
        epochs = _arr(curves["epoch"])
        label = row.get("spec") or row.get("schedule") or row["name"]
        line = axes[0].plot(epochs, _arr(curves["val_acc"]), lw=1.4, label=label)[0]
        axes[1].plot(epochs, _arr(curves["val_loss"]), lw=1.4, color=line.get_color())
        axes[1].plot(epochs, _arr(curves["train_loss"]), lw=0.8, ls="--", color=line.get_color(), alpha=0.6)
        lr = _arr(curves["lr"])
        axes[2].plot(epochs, np.where(lr > 0, lr, np.nan), lw=1.2, color=line.get_color(),
                     drawstyle="steps-mid")
    if target_acc is not None:
        axes[0].axhline(target_acc, color="black", lw=0.8, ls=":", label=f"target {target_acc:.1%}")
    axes[0].set_ylabel("validation accuracy")
    axes[1].set_ylabel("loss (solid: validation, dashed: train)")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("learning rate")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, out, dpi=fig.dpi)
