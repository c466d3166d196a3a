"""The annotated explain plot: metrics against x, drops shaded, LR events marked, the LR on a log twin axis,
and each
stage's verdict written over it.  Draws from an :class:`~lrscope.analysis.explain.Explanation` and its log;
computes
nothing of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_explanation(result, out: str | Path, log=None, *, max_bytes: int | None = 2 * 1024**3):
    """Write the plot to ``out`` (PNG, atomically); returns the path.

    The log is ``log``, else the one :func:`~lrscope.analysis.explain.explain_path` kept on the result (so
    standard input is not read twice), else it is read again from the result's source path (``max_bytes`` as
    for :func:`~lrscope.logs.read.read_log`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..logs.read import read_log
    from .curves import safe_text
    from .save import save_figure

    if log is None:
        log = getattr(result, "log", None)
    if log is None:
        log = read_log(
            result.source["path"],
            format=result.source["format"]
            if result.source["format"] in ("delimited", "jsonlines", "tensorboard", "run")
            else None,
            max_bytes=max_bytes,
        )
    x = log.x
    fig, (ax_loss, ax_acc) = plt.subplots(
        2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    colours = {
        "train_loss": "tab:blue",
        "val_loss": "tab:orange",
        "train_acc": "tab:green",
        "val_acc": "tab:red",
    }
    for role in ("train_loss", "val_loss"):
        y = log.role(role)
        if y is not None:
            ok = np.isfinite(y) & (y > 0)
            ax_loss.plot(x[ok], y[ok], label=safe_text(log.roles[role], 60), color=colours[role], lw=1)
    if any(log.role(r) is not None for r in ("train_loss", "val_loss")):
        ax_loss.set_yscale("log")
    for role in ("train_acc", "val_acc"):
        y = log.role(role)
        if y is not None:
            ok = np.isfinite(y)
            ax_acc.plot(x[ok], y[ok], label=safe_text(log.roles[role], 60), color=colours[role], lw=1)
    for d in result.drops:
        if d.event is None and d.relative < 0.05:
            continue
        lo = x[max(0, d.row - 1)]
        ax = ax_loss if d.metric.endswith("loss") else ax_acc
        ax.axvspan(lo, d.x, color="gold" if d.event is not None else "violet", alpha=0.35, lw=0)
    for e in result.events:
        for ax in (ax_loss, ax_acc):
            ax.axvline(e.x, color="grey", ls="--" if e.source != "inferred" else ":", lw=1)
    lr = log.role("lr")
    if lr is not None:
        twin = ax_loss.twinx()
        ok = np.isfinite(lr) & (lr > 0)
        twin.plot(x[ok], lr[ok], color="black", lw=1, alpha=0.6, label="learning rate")
        twin.set_yscale("log")
        twin.set_ylabel("learning rate (log)")
    for st in result.stages:
        if not st.judged:
            continue
        mid = 0.5 * (x[st.first_row] + x[st.last_row])
        verdict = "plateaued" if st.plateaued else "still falling"
        ax_loss.annotate(
            verdict,
            (mid, 0.98),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="top",
            fontsize=8,
            color="darkgreen" if st.plateaued else "darkred",
        )
    ax_loss.set_ylabel("loss (log)")
    ax_acc.set_ylabel("accuracy / error")
    ax_acc.set_xlabel(safe_text(log.x_name, 60))
    for ax in (ax_loss, ax_acc):
        if any(not line.get_label().startswith("_") for line in ax.lines):
            ax.legend(loc="lower left", fontsize=8)
    name = safe_text(Path(result.source["path"]).name, 80)
    ax_loss.set_title(f"{name}: LR events (dashed), drops (shaded)")
    fig.tight_layout()
    out = Path(out)
    save_figure(fig, out, dpi=100)
    plt.close(fig)
    return out
