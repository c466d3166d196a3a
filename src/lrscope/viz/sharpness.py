"""Sharpness (top Hessian eigenvalue) against the edge-of-stability thresholds 2/LR and (2 + 2 beta)/LR.

Cohen et al. 2021 (arXiv:2103.00065): under full-batch GD sharpness rises until it meets 2/LR and hovers
there; a
10x LR cut lifts the threshold 10x.  Takes a dict of arrays (``epoch``, ``sharpness``, ``lr``, optional
``momentum_threshold``, ``stage``) or per-step records; never computes, never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import palette
from .palette import place_legend
from .ticks import plain_number, readable_log_ticks


def plot_sharpness(
    series: dict, out: str | Path, *, steps: dict | None = None, title: str | None = None
) -> Path:
    """Write :func:`sharpness_figure` to ``out`` (PNG, or SVG/PDF by suffix), atomically."""
    from .save import save_figure

    save_figure(sharpness_figure(series, steps=steps, title=title), out, dpi=110)
    return Path(out)


def sharpness_figure(series: dict, *, steps: dict | None = None, title: str | None = None):
    """Sharpness per checkpoint (and per step, when tracked) against the thresholds, log scale.

    The thresholds are drawn as lines across the plot and labelled on it, not only in the legend.  A single
    checkpoint (the command's default) is a large marker with its value and its fraction of 2/LR written beside
    it, the thresholds spanning the whole width, so the picture says where that one value stands."""
    from .svg import new_figure

    x = np.asarray(series["epoch"], dtype=float)
    sharp = np.asarray(series["sharpness"], dtype=float)
    lr = np.asarray(series["lr"], dtype=float)
    with np.errstate(divide="ignore"):
        limit = 2.0 / lr
    thresholds = [("2 / LR", limit, palette.THRESHOLD, "--")]
    if "momentum_threshold" in series:
        thr = np.asarray(series["momentum_threshold"], dtype=float)
        if np.any(np.isfinite(thr) & (thr != limit)):
            thresholds.append(("(2 + 2 beta) / LR", thr, "#9467bd", ":"))
    fig = new_figure(8.4, 4.5, dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    tracked = bool(steps and len(steps.get("epoch", [])))
    if tracked:
        ax.plot(steps["epoch"], steps["sharpness"], color=palette.TRAIN, alpha=palette.RAW_ALPHA, lw=1,
                label="sharpness (tracked during training)")
    single = x.size == 1 and not tracked
    ax.plot(x, sharp, "o-", color=palette.TRAIN, ms=9 if single else 4, label="sharpness (top eigenvalue)")
    for name, values, color, style in thresholds:
        ok = np.isfinite(values) & (values > 0)
        if not ok.any():
            continue
        if single or ok.sum() == 1:
            ax.axhline(values[ok][0], color=color, ls=style, lw=1.4, label=name)
        else:
            ax.plot(x[ok], values[ok], drawstyle="steps-post", color=color, ls=style, lw=1.4, label=name)
        last = values[ok][-1]
        ax.annotate(f"{name} = {plain_number(float(f'{last:.3g}'))}", (1.0, last),
                    xycoords=("axes fraction", "data"), xytext=(-4, 3), textcoords="offset points",
                    ha="right", va="bottom", fontsize=8, color=color)
    if single and np.isfinite(sharp[0]):
        share = sharp[0] / limit[0] if np.isfinite(limit[0]) and limit[0] > 0 else np.nan
        text = f"{plain_number(float(f'{sharp[0]:.3g}'))}" + (f" ({share:.0%} of 2 / LR)" if np.isfinite(share)
                                                            else "")
        ax.annotate(text, (x[0], sharp[0]), xytext=(10, 0), textcoords="offset points", va="center",
                    fontsize=9, color=palette.TRAIN)
        ax.set_xlim(x[0] - 1, x[0] + 1)
        ax.set_xticks([x[0]])
    drawn = np.concatenate([sharp] + [v for _, v, _, _ in thresholds])
    drawn = drawn[np.isfinite(drawn) & (drawn > 0)]
    if drawn.size:
        ax.set_yscale("log")
        ax.set_ylim(drawn.min() / 2, drawn.max() * 2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("eigenvalue")
    ax.grid(alpha=0.3)
    ax.set_title(title or "sharpness against the edge of stability", fontsize=10)
    place_legend(fig)
    readable_log_ticks(fig)
    return fig
