"""The noisy quadratic model's teaching picture: expected loss under several schedules, each rate's floor
drawn.

Piecewise-constant rates give the staircase (each cut drops the loss to the next floor within a few steps),
1cycle anneals smoothly below every floor, a constant rate sits on its floor.  Computes nothing itself: the
curves come from :mod:`lrscope.analysis.nqm` (through :mod:`lrscope.jobs.nqm`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import palette
from .palette import place_legend
from .save import save_figure
from .schedule import decimate


def plot_nqm(out: str | Path, curves: list[dict], floors: dict[float, float], steps: int) -> Path:
    """Draw each curve (``spec``, ``lrs`` per step, ``loss`` per step 0..steps) and each floor into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(steps + 1)
    fig, (ax_lr, ax) = plt.subplots(
        2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [1, 3]}, layout="constrained"
    )
    for i, curve in enumerate(curves):
        lrs, loss, color = curve["lrs"], curve["loss"], palette.run_color(i)
        keep = decimate(lrs)  # at most a few thousand points a line, every spike kept
        ax_lr.plot(t[:-1][keep], lrs[keep], color=color, lw=1.2, drawstyle="steps-post")
        keep = decimate(loss)
        ax.plot(t[keep], loss[keep], color=color, lw=1.6, label=curve["spec"])
    for lr, value in sorted(floors.items()):
        ax.axhline(value, color="0.5", ls="--", lw=0.8)
        ax.annotate(f"floor at lr {lr:g}", (steps, value), xytext=(-4, 2), textcoords="offset points",
                    ha="right", va="bottom", fontsize=8, color="0.35")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("expected loss E[L]")
    place_legend(fig)
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_title("Noisy quadratic model: each rate has a floor, each cut drops to the next one", fontsize=10)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    return out
