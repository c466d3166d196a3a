"""The report's figures: small Matplotlib figures (Agg, no pyplot) from arrays and dicts already read from a
run's result files; the page embeds them with :func:`lrscope.viz.svg.to_svg`.

    rate_figure(x, lr)                 the learning rate against time
    curves_figure(runs, shade, marks)  loss and accuracy of one or more runs, their rates dashed on twin axes
    series_figure(x, series, ...)      named series against one x (noise, sharpness against 2/lr)
    plane_figure(x, y, loss)           a 2-D loss slice as filled contours

The range test's picture is :func:`lrscope.viz.finder.plot_finder` and the schedule's
:func:`lrscope.viz.schedule.schedule_figure`, the same pictures the commands save.
"""

from __future__ import annotations

import numpy as np

from .curves import safe_text
from .svg import new_figure

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
LR_COLOR = "#7f7f7f"


def _text(text) -> str:
    """A label Matplotlib draws as it is (printable, ``$`` escaped from mathtext)."""
    return safe_text(text, 80)


def _finite(a) -> np.ndarray:
    return np.asarray([np.nan if v is None else float(v) for v in a], dtype=float)


def _log_ok(*arrays) -> bool:
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.zeros(0)
    values = values[np.isfinite(values)]
    return values.size > 0 and bool(np.all(values > 0)) and values.max() / values.min() > 8


def _lr_twin(ax, x, lr, label: str = "learning rate"):
    lr = _finite(lr)
    if not np.isfinite(lr).any():
        return None
    twin = ax.twinx()
    twin.step(x, lr, where="post", color=LR_COLOR, lw=1.0, ls="--", alpha=0.8)
    if _log_ok(lr):
        twin.set_yscale("log")
    twin.set_ylabel(label + " (dashed)", color=LR_COLOR, fontsize=8)
    twin.tick_params(labelsize=7, colors=LR_COLOR)
    return twin


def _style(ax, xlabel: str, ylabel: str):
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e5e5e5", lw=0.6)
    for side in ("top",):
        ax.spines[side].set_visible(False)


def rate_figure(x, lr, *, xlabel: str = "epoch", title: str | None = None):
    """The learning rate against time, as logged (or sampled from a schedule)."""
    fig = new_figure(7.2, 2.6)
    ax = fig.add_subplot(111)
    ax.step(x, _finite(lr), where="post", color=COLORS[0], lw=1.6)
    if _log_ok(lr):
        ax.set_yscale("log")
    _style(ax, xlabel, "learning rate")
    if title:
        ax.set_title(_text(title), fontsize=9)
    return fig


def curves_figure(runs: list[dict], *, shade: list[tuple[float, float]] = (), marks: list[float] = ()):
    """Loss (left) and accuracy (right, when any) against epoch for one or more runs; rates dashed, twin axes.

    ``runs``: dicts with ``label`` and columns ``epoch``, ``lr``, ``train_loss``, ``val_loss``, ``val_acc``,
    ``train_acc`` (any missing).  ``shade``: x intervals to shade (drops); ``marks``: x of LR events.
    """
    has_acc = any(np.isfinite(_finite(r.get(k, []))).any() for r in runs for k in ("val_acc", "train_acc"))
    fig = new_figure(7.6 if has_acc else 6.2, 3.2)
    axes = [fig.add_subplot(1, 2 if has_acc else 1, i + 1) for i in range(2 if has_acc else 1)]
    panels = [(axes[0], "loss", ("train_loss", "val_loss"))]
    if has_acc:
        panels.append((axes[1], "accuracy", ("train_acc", "val_acc")))
    many = len(runs) > 1
    for ax, name, keys in panels:
        values = []
        for i, run in enumerate(runs):
            x = _finite(run.get("epoch", np.arange(1, len(run.get("lr", [])) + 1)))
            for key, style in zip(keys, ("-", "--"), strict=False):
                y = _finite(run.get(key, []))
                if y.size and np.isfinite(y).any():
                    label = f"{_text(run['label'])}: {key.split('_')[0]}" if many else key.replace("_", " ")
                    color = COLORS[i % len(COLORS)] if many else COLORS[0 if key.startswith("train") else 1]
                    ax.plot(x[: y.size], y, style, color=color, lw=1.4, label=label)
                    values.append(y)
        if name == "loss" and values and _log_ok(*values):
            ax.set_yscale("log")
        for lo, hi in shade:
            ax.axvspan(lo, hi, color="#ffbf00", alpha=0.25, lw=0)
        for m in marks:
            ax.axvline(m, color="#d62728", ls=":", lw=1)
        _style(ax, "epoch", name)
        if values:
            ax.legend(fontsize=7, loc="upper right" if name == "loss" else "lower right", framealpha=0.85)
        if not many and runs and "lr" in runs[0]:
            x = _finite(runs[0].get("epoch", np.arange(1, len(runs[0]["lr"]) + 1)))
            _lr_twin(ax, x, runs[0]["lr"])
    if many and runs:
        twin = None
        for i, run in enumerate(runs):
            if "lr" in run:
                x = _finite(run.get("epoch", np.arange(1, len(run["lr"]) + 1)))
                if twin is None:
                    twin = _lr_twin(axes[0], x, run["lr"])
                else:
                    twin.step(
                        x,
                        _finite(run["lr"]),
                        where="post",
                        color=COLORS[i % len(COLORS)],
                        lw=0.9,
                        ls="--",
                        alpha=0.6,
                    )
        if twin is not None and runs[0].get("lr") is not None:
            twin.lines[0].set_color(COLORS[0])
            twin.lines[0].set_alpha(0.6)
    fig.tight_layout()
    return fig


def series_figure(
    x,
    series: dict[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    log_y: bool | None = None,
    lr=None,
    hlines: dict[str, np.ndarray] | None = None,
):
    """Several named series against one x; optional rate on a twin axis and reference lines (e.g. 2/lr)."""
    fig = new_figure(7.2, 3.0)
    ax = fig.add_subplot(111)
    x = _finite(x)
    arrays = []
    for i, (name, y) in enumerate(series.items()):
        y = _finite(y)
        ax.plot(
            x[: y.size],
            y,
            ".-" if y.size < 60 else "-",
            color=COLORS[i % len(COLORS)],
            lw=1.2,
            ms=3,
            label=_text(name),
        )
        arrays.append(y)
    for i, (name, y) in enumerate((hlines or {}).items()):
        ax.plot(x[: len(y)], _finite(y), color=COLORS[(i + 3) % len(COLORS)], lw=1.0, ls=":", label=_text(name))
    if (log_y is None and _log_ok(*arrays)) or log_y:
        ax.set_yscale("log")
    _style(ax, xlabel, ylabel)
    ax.legend(fontsize=7, framealpha=0.85)
    if lr is not None:
        _lr_twin(ax, x, lr)
    fig.tight_layout()
    return fig


def plane_figure(x, y, loss, *, title: str | None = None, path=None):
    """A 2-D loss slice as filled contours (log levels when the values span decades)."""
    fig = new_figure(5.2, 4.2)
    ax = fig.add_subplot(111)
    z = np.asarray(loss, dtype=float)
    data = np.log10(np.maximum(z, 1e-12)) if _log_ok(z) else z
    cs = ax.contourf(np.asarray(x, float), np.asarray(y, float), data, levels=20, cmap="viridis")
    ax.contour(
        np.asarray(x, float), np.asarray(y, float), data, levels=20, colors="white", linewidths=0.3, alpha=0.5
    )
    bar = fig.colorbar(cs, ax=ax)
    bar.set_label("log₁₀ loss" if data is not z else "loss", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if path is not None:
        p = np.asarray(path, dtype=float)
        if p.ndim == 2 and p.shape[1] >= 2:
            ax.plot(p[:, 0], p[:, 1], "o-", color="#ff7f0e", ms=3, lw=1.2)
    _style(ax, "direction 1", "direction 2")
    ax.grid(False)
    if title:
        ax.set_title(_text(title), fontsize=9)
    fig.tight_layout()
    return fig
