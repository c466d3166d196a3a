"""The report's figures for any log (a RunLog from :func:`lrscope.logs.read.read_runs`), drawn from the log and
explain's JSON document; they compute nothing of their own.

    loss_rate_figure(log, doc)        the losses above, the learning rate below, sharing x; decays marked
    accuracy_figure(log, doc)         accuracies (or error rates) with the same marks; None without any
    runs_figure(logs, labels)         several runs side by side: losses above, each run's rate below, one colour
                                      a run

Rules every figure here keeps: the rate is drawn as steps (``steps-post``: a new rate shows from the x where it
takes effect), a decay is a dotted line at that x and a sharp drop is shaded from the decay line to where the
drop was measured, never before the line; one legend a figure, outside the plot area, the rate with its own
entry (:func:`lrscope.viz.palette.place_legend`), colours by role (:mod:`lrscope.viz.palette`); an axis is
logarithmic only when its values span two powers of ten (with :mod:`lrscope.viz.ticks` labelling it).
"""

from __future__ import annotations

import numpy as np

from ..analysis.wording import unit_word
from .curves import safe_text
from .palette import DECAY, DROP, LR, RUN_STYLES, TRAIN, VALIDATION, legend_entries, place_legend, run_color
from .svg import new_figure

LOSSES = (("train_loss", TRAIN, "-"), ("val_loss", VALIDATION, "-"))
ACCURACIES = (("train_acc", TRAIN, "-"), ("val_acc", VALIDATION, "-"))


def spans_decades(*arrays) -> bool:
    """True when the positive values hold at least two powers of ten between their least and greatest: a log
    axis over them has two labelled decade ticks (a loss from 2.3 to 0.3 does not: it is drawn linear)."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.zeros(0)
    values = values[np.isfinite(values)]
    if values.size == 0 or np.any(values <= 0):
        return False
    return int(np.floor(np.log10(values.max()))) - int(np.ceil(np.log10(values.min()))) >= 1


def _finite_xy(x: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if y is None:
        return np.zeros(0), np.zeros(0)
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def _decays(doc: dict | None) -> list[float]:
    """x of each decay explain found (restarted warm-ups and raises are not decays)."""
    out = []
    for e in (doc or {}).get("events") or []:
        if not isinstance(e, dict) or e.get("source") == "restart":
            continue
        x, a, b = e.get("x"), e.get("lr_before"), e.get("lr_after")
        if isinstance(x, (int, float)) and (a is None or b is None or b < a):
            out.append(float(x))
    return out


def _drop_spans(doc: dict | None, spacing: float) -> list[tuple[float, float]]:
    """Each sharp drop tied to a decay, shaded from the decay's x to the drop's (at least one row's width)."""
    events = (doc or {}).get("events") or []
    spans = []
    for d in (doc or {}).get("drops") or []:
        if not isinstance(d, dict) or d.get("sharp") is False:
            continue
        i, dx = d.get("event"), d.get("x")
        if not (isinstance(i, int) and 0 <= i < len(events) and isinstance(dx, (int, float))):
            continue
        ex = events[i].get("x") if isinstance(events[i], dict) else None
        if isinstance(ex, (int, float)):
            spans.append((float(ex), max(float(dx), float(ex) + spacing)))
    return sorted(set(spans))


def _spacing(x: np.ndarray) -> float:
    steps = np.diff(x[np.isfinite(x)])
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 1.0


def _style(ax, ylabel: str, xlabel: str | None = None) -> None:
    ax.set_ylabel(ylabel, fontsize=8)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def _marks(ax, decays: list[float], spans: list[tuple[float, float]]) -> None:
    for lo, hi in spans:
        ax.axvspan(lo, hi, color=DROP, alpha=0.3, lw=0)
    for x in decays:
        ax.axvline(x, color=DECAY, ls=":", lw=1.1)


def _legend(fig, extra: list = ()) -> None:
    """The figure's one legend (outside the plot area), with the decay and drop marks as entries."""
    handles, labels = legend_entries(fig)
    place_legend(fig, handles + [h for h, _ in extra], labels + [t for _, t in extra])


def _rate_panel(ax, x: np.ndarray, lr: np.ndarray | None, color: str = LR, label: str | None = None,
                style: dict | None = None) -> bool:
    xs, ys = _finite_xy(x, lr)
    if xs.size == 0:
        return False
    ax.plot(xs, ys, drawstyle="steps-post", color=color, label=label, **(style or {"lw": 1.4}))
    return True


def _mark_handles(decays, spans) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out = []
    if decays:
        out.append((Line2D([], [], color=DECAY, ls=":", lw=1.1), "learning-rate decay"))
    if spans:
        out.append((Patch(color=DROP, alpha=0.3, lw=0), "sharp drop"))
    return out


def loss_rate_figure(log, doc: dict | None = None):
    """The training and validation loss (top) and the learning rate (bottom) against the log's x, decays and
    sharp drops marked in both; without a rate column, the losses alone."""
    x = log.x.astype(float)
    unit = unit_word(log)
    lr = log.role("lr")
    has_rate = lr is not None and np.isfinite(lr).any()
    fig = new_figure(8.4, 4.6 if has_rate else 3.2)
    if has_rate:
        grid = fig.add_gridspec(2, 1, height_ratios=(2.6, 1.2))
        ax, ax_lr = fig.add_subplot(grid[0]), None
        ax_lr = fig.add_subplot(grid[1], sharex=ax)
    else:
        ax, ax_lr = fig.add_subplot(111), None
    decays, spans = _decays(doc), _drop_spans(doc, _spacing(x))
    drawn = []
    for role, color, style in LOSSES:
        xs, ys = _finite_xy(x, log.role(role))
        if xs.size:
            ax.plot(xs, ys, style, color=color, lw=1.3, label=safe_text(log.roles[role], 40))
            drawn.append(ys)
    if drawn and spans_decades(*drawn):
        ax.set_yscale("log")
    _marks(ax, decays, spans)
    _style(ax, "loss", None if has_rate else unit)
    if ax_lr is not None:
        _rate_panel(ax_lr, x, lr, label="learning rate")
        if spans_decades(lr):
            ax_lr.set_yscale("log")
        _marks(ax_lr, decays, [])
        _style(ax_lr, "learning rate", unit)
        ax.tick_params(labelbottom=False)
    _legend(fig, _mark_handles(decays, spans))
    fig.align_ylabels()
    return fig


def accuracy_figure(log, doc: dict | None = None):
    """Accuracies or error rates against the log's x with the decays marked; None when the log has none."""
    x = log.x.astype(float)
    series = [(role, color, style) for role, color, style in ACCURACIES if log.role(role) is not None
              and np.isfinite(log.role(role)).any()]
    if not series:
        return None
    fig = new_figure(8.4, 2.8)
    ax = fig.add_subplot(111)
    decays, spans = _decays(doc), _drop_spans(doc, _spacing(x))
    errors = all(log.lower_is_better.get(log.roles[r], False) for r, _, _ in series)
    percent = all(log.percent.get(log.roles[r], False) for r, _, _ in series)
    for role, color, style in series:
        xs, ys = _finite_xy(x, log.role(role))
        ax.plot(xs, ys, style, color=color, lw=1.3, label=safe_text(log.roles[role], 40))
    _marks(ax, decays, spans)
    _style(ax, ("error rate" if errors else "accuracy") + (" (%)" if percent else ""), unit_word(log))
    _legend(fig, _mark_handles(decays, spans))
    return fig


def runs_figure(logs: list, labels: list[str]):
    """Several runs on shared axes: each run's losses (training solid, validation dashed) above and its rate
    below, in the run's colour; x is each log's own x (the axis names the first log's unit)."""
    rated = [log for log in logs if log.role("lr") is not None and np.isfinite(log.role("lr")).any()]
    fig = new_figure(9.0, 4.8 if rated else 3.2)
    if rated:
        grid = fig.add_gridspec(2, 1, height_ratios=(2.6, 1.2))
        ax = fig.add_subplot(grid[0])
        ax_lr = fig.add_subplot(grid[1], sharex=ax)
    else:
        ax, ax_lr = fig.add_subplot(111), None
    drawn, rates = [], []
    for k, (log, label) in enumerate(zip(logs, labels, strict=True)):
        color = run_color(k)
        x = log.x.astype(float)
        name = safe_text(label, 36)
        for role, style, what in (("train_loss", "train", "training loss"), ("val_loss", "val", "validation loss")):
            xs, ys = _finite_xy(x, log.role(role))
            if xs.size:
                ax.plot(xs, ys, color=color, label=f"{name}: {what}", **RUN_STYLES[style])
                drawn.append(ys)
        if ax_lr is not None and _rate_panel(ax_lr, x, log.role("lr"), color=color, label=f"{name}: learning rate",
                                             style=RUN_STYLES["lr"]):
            rates.append(log.role("lr"))
    if drawn and spans_decades(*drawn):
        ax.set_yscale("log")
    unit = unit_word(logs[0]) if logs else "row"
    _style(ax, "loss", None if ax_lr is not None else unit)
    if ax_lr is not None:
        if spans_decades(*rates):
            ax_lr.set_yscale("log")
        _style(ax_lr, "learning rate", unit)
        ax.tick_params(labelbottom=False)
    _legend(fig)
    fig.align_ylabels()
    return fig
