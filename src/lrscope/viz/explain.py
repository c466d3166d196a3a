"""The annotated explain plot: metrics against x, drops shaded from their decay line, LR events marked, the LR
as steps on a log twin axis, and each stage's verdict written above it.  Draws from an
:class:`~lrscope.analysis.explain.Explanation` and its log; computes nothing of its own.  Colours and legend:
:mod:`lrscope.viz.palette`; no accuracy panel for a log without accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .palette import DROP, RUN_STYLES, UNEXPLAINED, place_legend, role_color
from .rate import draw_rate, drop_spans, mark_changes
from .ticks import readable_log_ticks


def plot_explanation(result, out: str | Path, log=None, *, max_bytes: int | None = 2 * 1024**3):
    """Write the plot to ``out`` (PNG, atomically); returns the path.

    The log is ``log``, else the one :func:`~lrscope.analysis.explain.explain_path` kept on the result (so
    standard input is not read twice), else it is read again from the result's source path (``max_bytes`` as
    for :func:`~lrscope.logs.read.read_log`)."""
    from ..logs.read import read_log
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
    fig = explanation_figure(result, log)
    out = Path(out)
    save_figure(fig, out, dpi=100)
    return out


def explanation_figure(result, log):
    """The figure :func:`plot_explanation` writes (Agg, no pyplot): loss (log) above, accuracy below only when
    the log has an accuracy value, the rate as steps, decays dotted, drops shaded from the decay line."""
    from .curves import safe_text
    from .svg import new_figure

    x = log.x
    accuracy = [r for r in ("train_acc", "val_acc") if _finite_any(log.role(r))]
    if accuracy:
        fig = new_figure(10.5, 7.0, dpi=100)
        ax_loss, ax_acc = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    else:
        fig = new_figure(10.5, 4.6, dpi=100)
        ax_loss, ax_acc = fig.add_subplot(1, 1, 1), None
    panels = [(ax_loss, ("train_loss", "val_loss"))] + ([(ax_acc, tuple(accuracy))] if ax_acc else [])
    for ax, roles in panels:
        for role in roles:
            y = log.role(role)
            if not _finite_any(y):
                continue
            ok = np.isfinite(y) & ((y > 0) if role.endswith("loss") else True)
            ax.plot(x[ok], y[ok], label=safe_text(log.roles[role], 60), color=role_color(role), lw=1.1,
                    ls=RUN_STYLES["train" if role.startswith("train") else "val"]["ls"])
    if ax_loss.lines:
        ax_loss.set_yscale("log")
    step = float(np.nanmedian(np.diff(x))) if x.size > 1 else 1.0
    for ax, roles in panels:  # each panel shades its own metrics' drops, each span once
        drops = [d for d in result.drops if d.metric in roles]
        for lo, hi, explained in sorted(set(drop_spans(drops, result.events, step))):
            ax.axvspan(lo, hi, color=DROP if explained else UNEXPLAINED, alpha=0.3, lw=0,
                       label="drop after a decay" if explained else "fall without a rate change")
    for ax, _ in panels:
        mark_changes(ax, [(e.x, e.decay) for e in result.events if e.source != "inferred"])
        inferred = [e.x for e in result.events if e.source == "inferred"]
        for k, at in enumerate(inferred):
            ax.axvline(at, color="grey", ls="--", lw=1, label="inferred change" if k == 0 else None)
    lr = log.role("lr")
    if _finite_any(lr):
        draw_rate(ax_loss, x, lr)
    for st in result.stages:
        if not st.judged:
            continue
        mid = 0.5 * (x[st.first_row] + x[st.last_row])
        ax_loss.annotate(
            "plateaued" if st.plateaued else "still falling",
            (mid, 1.01),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="bottom",
            fontsize=8,
            color="darkgreen" if st.plateaued else "darkred",
        )
    ax_loss.set_ylabel("loss")
    if ax_acc is not None:
        ax_acc.set_ylabel("accuracy / error")
    (ax_acc or ax_loss).set_xlabel(safe_text(log.x_name, 60))
    for ax, _ in panels:
        ax.grid(alpha=0.3)
    name = safe_text(Path(result.source["path"]).name, 80)
    ax_loss.set_title(f"{name}: rate changes (dotted), drops (shaded), stage verdicts above", pad=18)
    place_legend(fig)
    readable_log_ticks(fig)
    return fig


def _finite_any(values) -> bool:
    return values is not None and bool(np.isfinite(np.asarray(values, dtype=float)).any())
