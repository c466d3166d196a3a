"""Loss and accuracy curves with the learning rate on a log twin axis, its changes marked.  Never trains.

    plot_curves(curves, "run.png")    # curves: a dict of equal-length arrays (a RunLog's columns will do)

``curves`` keys used: ``epoch`` (x; else ``step``, else the row number), ``lr``, ``train_loss``, ``val_loss``,
``train_acc``, ``val_acc`` (any may be missing).  Learning-rate changes (a relative change over 1e-9 between
consecutive points) are drawn as dotted vertical lines, decays in one colour, increases in another.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..analysis.events import rate_changes
from ..errors import UserError


def safe_text(text, width: int | None = None) -> str:
    """Text Matplotlib draws as it is: a path or column name made printable (no lone surrogates, no control
    characters), cut to ``width`` characters, and its ``$`` escaped (mathtext would parse ``$x^$`` and fail)."""
    from ..logs.runlog import path_label

    text = path_label(text) if isinstance(text, (str, bytes, os.PathLike)) else str(text)
    if width is not None and len(text) > width:
        text = text[: width - 3] + "..."
    return text.replace("$", r"\$")


def plot_curves(curves: dict, out: str | os.PathLike, *, title: str | None = None) -> Path:
    """Two panels (loss, accuracy) sharing x, the rate on a log twin axis of each; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .save import save_figure

    cols = {k: np.asarray(v, dtype=float) for k, v in curves.items() if v is not None}
    n = max((len(v) for v in cols.values()), default=0)
    if n == 0:
        raise UserError("nothing to plot: no columns")
    xname = next((k for k in ("epoch", "step") if k in cols), None)
    x = cols[xname] if xname else np.arange(n, dtype=float)
    has_acc = any(k in cols for k in ("train_acc", "val_acc"))
    fig, axes = plt.subplots(
        2 if has_acc else 1, 1, figsize=(8, 6.5 if has_acc else 4), sharex=True, squeeze=False
    )
    panels = [(axes[0][0], "loss", ("train_loss", "val_loss"), True)]
    if has_acc:
        panels.append((axes[1][0], "accuracy", ("train_acc", "val_acc"), False))
    changes = rate_changes(cols["lr"], rtol=1e-9) if "lr" in cols else np.zeros(0, dtype=int)
    for ax, label, keys, log in panels:
        for key, style in zip(keys, ("-", "--"), strict=True):
            if key in cols and np.isfinite(cols[key]).any():
                ax.plot(x, cols[key], style, label=key.replace("_", " "))
        if log and all(np.nanmin(cols[k]) > 0 for k in keys if k in cols and np.isfinite(cols[k]).any()):
            ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        for i in changes:
            decay = cols["lr"][i] < cols["lr"][i - 1]
            ax.axvline((x[i - 1] + x[i]) / 2, color="tab:red" if decay else "tab:green", ls=":", lw=1)
        if "lr" in cols and np.isfinite(cols["lr"]).any() and np.nanmin(cols["lr"]) > 0:
            twin = ax.twinx()
            twin.step(x, cols["lr"], where="mid", color="0.5", lw=1, label="learning rate")
            twin.set_yscale("log")
            twin.set_ylabel("learning rate", color="0.4")
        ax.legend(loc="upper right" if label == "loss" else "lower right", fontsize=8)
    axes[-1][0].set_xlabel(safe_text(xname or "row", 60))
    if title:
        axes[0][0].set_title(safe_text(title, 80))
    fig.tight_layout()
    out = Path(out)
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    return out
