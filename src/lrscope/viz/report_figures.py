"""The report's figures: small Matplotlib figures (Agg, no pyplot) from arrays and dicts already read from a
run's result files; the page embeds them with :func:`lrscope.viz.svg.to_svg`.

    rate_figure(x, lr)                 the learning rate against time
    curves_figure(runs, explanation=doc)  loss and accuracy of one or more runs, their rates as steps on twin axes
    series_figure(x, series, ...)      named series against one x (noise smoothed, sharpness against 2/lr)
    plane_figure(x, y, loss)           a 2-D loss slice as filled contours

The range test's picture is :func:`lrscope.viz.finder.plot_finder` and the schedule's
:func:`lrscope.viz.schedule.schedule_figure`, the same pictures the commands save.
"""

from __future__ import annotations

import numpy as np

from . import palette
from .curves import safe_text
from .palette import place_legend, role_color
from .rate import draw_rate, drop_spans, mark_changes
from .svg import new_figure
from .ticks import readable_log_ticks


def _text(text) -> str:
    """A label Matplotlib draws as it is (printable, ``$`` escaped from mathtext)."""
    return safe_text(text, 80)


def _finite(a) -> np.ndarray:
    return np.asarray([np.nan if v is None else float(v) for v in a], dtype=float)


def _log_ok(*arrays) -> bool:
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.zeros(0)
    values = values[np.isfinite(values)]
    return values.size > 0 and bool(np.all(values > 0)) and values.max() / values.min() > 8


def _style(ax, xlabel: str, ylabel: str):
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.spines["top"].set_visible(False)


def _finish(fig):
    place_legend(fig)
    readable_log_ticks(fig)
    return fig


def rate_figure(x, lr, *, xlabel: str = "epoch", title: str | None = None):
    """The learning rate against time, as logged (or sampled from a schedule), as steps."""
    fig = new_figure(7.2, 2.6)
    ax = fig.add_subplot(111)
    draw_rate(ax, _finite(x), _finite(lr), twin=False, color=palette.LR, label=None, lw=1.6)
    _style(ax, xlabel, "learning rate")
    if title:
        ax.set_title(_text(title), fontsize=9)
    readable_log_ticks(fig)
    return fig


def _x(run: dict) -> np.ndarray:
    return _finite(run.get("epoch", np.arange(1, len(run.get("lr", [])) + 1)))


def curves_figure(runs: list[dict], *, shade: list[tuple[float, float]] = (), marks: list[float] = (),
                  explanation: dict | None = None):
    """Loss (left) and accuracy (right, only when a finite accuracy exists) against epoch for one or more runs.

    ``runs``: dicts with ``label`` and columns ``epoch``, ``lr``, ``train_loss``, ``val_loss``, ``val_acc``,
    ``train_acc`` (any missing).  One run: train and validation in their palette colours, the rate as steps
    on a twin axis.  Several: one colour a run, train solid, validation dashed, the run's rate dotted in its
    colour.  ``explanation``: an explain.json document whose decays are marked and drops shaded
    (:func:`lrscope.viz.rate.drop_spans`); else ``shade`` (x intervals) and ``marks`` (x of rate changes).
    """
    has_acc = any(np.isfinite(_finite(r.get(k, []))).any() for r in runs for k in ("val_acc", "train_acc"))
    fig = new_figure(8.4 if has_acc else 6.8, 3.2)
    axes = [fig.add_subplot(1, 2 if has_acc else 1, i + 1) for i in range(2 if has_acc else 1)]
    panels = [(axes[0], "loss", ("train_loss", "val_loss"))]
    if has_acc:
        panels.append((axes[1], "accuracy", ("train_acc", "val_acc")))
    many = len(runs) > 1
    changes = [(float(m), True) for m in marks]
    spans = [(lo, hi, True) for lo, hi in shade]
    if explanation is not None and runs:
        x0 = _x(runs[0])
        step = float(np.nanmedian(np.diff(x0))) if x0.size > 1 else 1.0
        events = explanation.get("events") or []
        changes = [(float(e["x"]), (e.get("lr_after") or 0) < (e.get("lr_before") or 1))
                   for e in events if isinstance(e, dict) and e.get("x") is not None]
        spans = drop_spans(explanation.get("drops"), events, step)
    for ax, name, keys in panels:
        values = []
        for i, run in enumerate(runs):
            x = _x(run)
            for key in keys:
                y = _finite(run.get(key, []))
                if not (y.size and np.isfinite(y).any()):
                    continue
                role = "train" if key.startswith("train") else "val"
                if many:
                    label = f"{_text(run['label'])}: {'train' if role == 'train' else 'validation'}"
                    color = palette.run_color(i)
                else:
                    label, color = ("train" if role == "train" else "validation") + f" {name}", role_color(key)
                ax.plot(x[: y.size], y, color=color, label=label, **palette.RUN_STYLES[role])
                values.append(y)
        if name == "loss" and values and _log_ok(*values):
            ax.set_yscale("log")
        for lo, hi, explained in spans:
            ax.axvspan(lo, hi, color=palette.DROP if explained else palette.UNEXPLAINED, alpha=0.3, lw=0,
                       label="drop after a decay" if explained else "fall without a rate change")
        mark_changes(ax, changes)
        _style(ax, "epoch", name)
    twin = None
    for i, run in enumerate(runs):
        if run.get("lr") is None:
            continue
        label = f"{_text(run['label'])}: learning rate" if many else "learning rate"
        color = palette.run_color(i) if many else palette.LR
        style = palette.RUN_STYLES["lr"] if many else {}
        if twin is None:
            twin = draw_rate(axes[0], _x(run), _finite(run["lr"]), color=color, label=label, **style)
        else:
            draw_rate(twin, _x(run), _finite(run["lr"]), color=color, label=label, twin=False, **style)
    if many and twin is not None:
        twin.set_ylabel("learning rate (dotted)", color=palette.LR, fontsize=8)
        twin.tick_params(axis="y", colors=palette.LR)
    return _finish(fig)


def series_figure(
    x,
    series: dict[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    log_y: bool | None = None,
    lr=None,
    hlines: dict[str, np.ndarray] | None = None,
    smooth: bool | None = None,
):
    """Several named series against one x; optional rate (steps, twin axis) and reference lines (e.g. 2/lr,
    drawn as steps).  ``smooth`` (default: for series of 20 values or more) draws each series faint and its
    centred rolling median over it (:func:`smoothed`), so a noisy measurement such as the gradient noise
    reads as a trend."""
    fig = new_figure(7.2, 3.0)
    ax = fig.add_subplot(111)
    x = _finite(x)
    arrays = []
    for i, (name, y) in enumerate(series.items()):
        y = _finite(y)
        color = palette.run_color(i)
        xs = x[: y.size]
        if smooth if smooth is not None else y.size >= 20:
            ax.plot(xs, y, "-", color=color, lw=0.8, alpha=palette.RAW_ALPHA, label=f"{_text(name)} (raw)")
            ax.plot(xs, smoothed(y), "-", color=color, lw=1.6, label=f"{_text(name)} (smoothed)")
        else:
            ax.plot(xs, y, ".-" if y.size < 60 else "-", color=color, lw=1.2, ms=4, label=_text(name))
        arrays.append(y)
    for i, (name, y) in enumerate((hlines or {}).items()):
        ax.plot(x[: len(y)], _finite(y), drawstyle="steps-post", color=palette.THRESHOLD if i == 0 else "#9467bd",
                lw=1.2, ls="--", label=_text(name))
    if (log_y is None and _log_ok(*arrays)) or log_y:
        ax.set_yscale("log")
    _style(ax, xlabel, ylabel)
    if lr is not None:
        draw_rate(ax, x, _finite(lr))
    return _finish(fig)


def smoothed(y, window: int | None = None) -> np.ndarray:
    """A centred rolling median of ``y`` over ``window`` values (default: a fifteenth of the series, odd, at
    least 5), NaNs ignored; robust to the rare huge measurement a mean would smear."""
    y = np.asarray(y, dtype=float)
    if window is None:
        window = max(5, (y.size // 15) | 1)
    half = window // 2
    out = np.full(y.size, np.nan)
    for i in range(y.size):
        part = y[max(0, i - half) : i + half + 1]
        part = part[np.isfinite(part)]
        if part.size:
            out[i] = np.median(part)
    return out


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
            ax.plot(p[:, 0], p[:, 1], "o-", color=palette.VALIDATION, ms=3, lw=1.2)
    _style(ax, "direction 1", "direction 2")
    ax.grid(False)
    if title:
        ax.set_title(_text(title), fontsize=9)
    return _finish(fig)
