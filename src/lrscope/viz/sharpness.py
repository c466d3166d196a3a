"""Sharpness (top Hessian eigenvalue) against the edge-of-stability thresholds 2/LR and (2 + 2 beta)/LR.

Cohen et al. 2021 (arXiv:2103.00065): under full-batch GD sharpness rises until it meets 2/LR and hovers
there; a
10x LR cut lifts the threshold 10x.  Takes a dict of arrays (``epoch``, ``sharpness``, ``lr``, optional
``momentum_threshold``, ``stage``) or per-step records; never computes, never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_sharpness(
    series: dict, out: str | Path, *, steps: dict | None = None, title: str | None = None
) -> Path:
    """Log-scale plot of sharpness per checkpoint (and per step, when tracked) with the thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .save import save_figure

    x = np.asarray(series["epoch"], dtype=float)
    sharp = np.asarray(series["sharpness"], dtype=float)
    lr = np.asarray(series["lr"], dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    if steps and len(steps.get("epoch", [])):
        ax.plot(
            steps["epoch"],
            steps["sharpness"],
            color="C0",
            alpha=0.35,
            linewidth=1,
            label="sharpness (tracked during training)",
        )
    ax.plot(x, sharp, "o-", color="C0", label="sharpness (top eigenvalue) at checkpoints")
    with np.errstate(divide="ignore"):
        ax.step(x, 2.0 / lr, where="mid", color="C3", linestyle="--", label="2 / LR")
        if "momentum_threshold" in series:
            thr = np.asarray(series["momentum_threshold"], dtype=float)
            if np.any(np.isfinite(thr) & (thr != 2.0 / lr)):
                ax.step(x, thr, where="mid", color="C1", linestyle=":", label="(2 + 2 beta) / LR")
    positive = sharp[np.isfinite(sharp) & (sharp > 0)]
    if positive.size:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("eigenvalue")
    ax.legend(fontsize=8)
    ax.set_title(title or "sharpness against the edge of stability")
    fig.tight_layout()
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    return Path(out)
