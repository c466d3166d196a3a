"""The report's figures: small Matplotlib figures (Agg, no pyplot) turned into inline SVG for the HTML page.

Every function takes plain arrays or dicts already read from result files and returns an SVG string that is
responsive (no fixed width or height, only a viewBox), has no XML prolog, no DOCTYPE and no metadata block:
nothing in it points outside the page.
"""

from __future__ import annotations

import io
import re

import numpy as np

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
LR_COLOR = "#7f7f7f"


def new_figure(width: float = 7.2, height: float = 3.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def to_svg(fig) -> str:
    """The figure as an inline, responsive SVG element."""
    from matplotlib.ticker import LogLocator, NullFormatter

    for ax in fig.axes:  # decade labels only on log axes: no '6 × 10⁻¹' clutter
        for axis, scale in ((ax.yaxis, ax.get_yscale()), (ax.xaxis, ax.get_xscale())):
            if scale == "log":
                axis.set_major_locator(LogLocator(base=10, numticks=8))
                axis.set_minor_formatter(NullFormatter())
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.05, metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    head_end = svg.index(">")
    # no fixed size (CSS scales it), and no namespace URLs: the HTML parser knows SVG and xlink without them
    head = re.sub(r'\s(width|height|xmlns|xmlns:xlink)="[^"]*"', "", svg[:head_end])
    return head + ' class="fig" role="img"' + svg[head_end:]


def _text(text) -> str:
    """A label Matplotlib draws as it is (printable, ``$`` escaped from mathtext)."""
    from ..viz.curves import safe_text

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


def schedule_figure(x, lr, *, xlabel: str = "epoch", title: str | None = None) -> str:
    """The learning rate against time."""
    fig = new_figure(7.2, 2.6)
    ax = fig.add_subplot(111)
    ax.step(x, _finite(lr), where="post", color=COLORS[0], lw=1.6)
    if _log_ok(lr):
        ax.set_yscale("log")
    _style(ax, xlabel, "learning rate")
    if title:
        ax.set_title(_text(title), fontsize=9)
    return to_svg(fig)


def curves_figure(runs: list[dict], *, shade: list[tuple[float, float]] = (), marks: list[float] = ()) -> str:
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
    return to_svg(fig)


def series_figure(
    x,
    series: dict[str, np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    log_y: bool | None = None,
    lr=None,
    hlines: dict[str, np.ndarray] | None = None,
) -> str:
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
    return to_svg(fig)


def finder_figure(lrs, losses, smoothed=None, *, suggestion=None, bounds=None) -> str:
    """The LR range test: loss against the rate (log x), the suggestion and the range marked."""
    fig = new_figure(6.4, 3.0)
    ax = fig.add_subplot(111)
    lrs, losses = _finite(lrs), _finite(losses)
    ax.plot(lrs[: losses.size], losses, color="#9ecae1", lw=1.0, label="loss")
    if smoothed is not None:
        sm = _finite(smoothed)
        ax.plot(lrs[: sm.size], sm, color=COLORS[0], lw=1.6, label="smoothed")
    if bounds and all(b is not None for b in bounds):
        ax.axvspan(float(bounds[0]), float(bounds[1]), color="#2ca02c", alpha=0.12, lw=0, label="range")
    if suggestion is not None:
        ax.axvline(
            float(suggestion), color="#d62728", lw=1.2, ls="--", label=f"suggestion {float(suggestion):.3g}"
        )
    ax.set_xscale("log")
    finite = losses[np.isfinite(losses)]
    if finite.size:
        lo, hi = np.percentile(finite, [0, 90])
        ax.set_ylim(lo - 0.05 * (hi - lo + 1e-12), hi + 0.4 * (hi - lo + 1e-12))
    _style(ax, "learning rate", "loss")
    ax.legend(fontsize=7, framealpha=0.85)
    fig.tight_layout()
    return to_svg(fig)


def plane_figure(x, y, loss, *, title: str | None = None, path=None) -> str:
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
    return to_svg(fig)
