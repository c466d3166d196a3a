"""The forecast's picture: the fitted run(s) and each target's predicted loss with its band, the rates beneath.

Drawn from the ``lrscope.forecast/1`` document alone (its ``fit.runs`` hold the fitted rows and the law's curve
through them; each target holds its steps, loss, band, rate and, for a target log, the loss it logged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .palette import place_legend, run_color
from .save import save_figure


def _array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in (values or [])], dtype=np.float64)


def _short(name) -> str:
    """A path's file name (a legend has no room for directories); a spec as it is."""
    text = str(name or "")
    return Path(text).name if "/" in text and "(" not in text else text


def _loss_limits(doc: dict) -> tuple[float, float] | None:
    """The loss axis: from the lowest value drawn to the highest fitted row (a forecast's first rows, far above,
    would flatten the part that matters)."""
    fitted = [v for run in doc.get("fit", {}).get("runs", []) for v in run.get("loss") or [] if v is not None]
    drawn = fitted + [v for t in doc.get("targets", []) for key in ("loss", "low", "logged_loss")
                      for v in t.get(key) or [] if v is not None]
    if not fitted or not drawn:
        return None
    low, high = min(drawn), max(fitted)
    pad = 0.04 * (high - low) if high > low else 0.05 * abs(high) or 1.0
    return low - pad, high + pad


def forecast_figure(doc: dict):
    """A two-panel Agg figure: loss against step above (fitted rows as dots, the law through them, each target's
    forecast and band, a target log's own loss dashed), the rates against step below (as steps)."""
    from .svg import new_figure

    fig = new_figure(9.2, 5.6, dpi=110)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    grey = "#555555"
    for run in doc.get("fit", {}).get("runs", []):
        step = _array(run.get("step"))
        top.plot(step, _array(run.get("loss")), ".", ms=2.5, color=grey, alpha=0.5,
                 label=f"{_short(run.get('name'))} (fitted)")
        top.plot(step, _array(run.get("fitted")), "-", lw=1.0, color=grey)
        if run.get("lr"):
            bottom.step(step, _array(run.get("lr")), where="post", color=grey, lw=1.0)
    for k, target in enumerate(doc.get("targets", [])):
        color = run_color(k + 1)
        step = _array(target.get("step"))
        top.fill_between(step, _array(target.get("low")), _array(target.get("high")), color=color, alpha=0.18, lw=0)
        top.plot(step, _array(target.get("loss")), "-", lw=1.6, color=color, label=_short(target.get("name")))
        if target.get("logged_loss"):
            top.plot(step, _array(target.get("logged_loss")), "--", lw=1.0, color=color, alpha=0.8,
                     label=f"{_short(target.get('name'))} (its log)")
        if target.get("lr"):
            bottom.step(step, _array(target.get("lr")), where="post", color=color, lw=1.3)
    limits = _loss_limits(doc)
    if limits is not None:
        top.set_ylim(*limits)
    top.set_ylabel(doc.get("loss_name") or "loss")
    top.set_title(f"forecast ({doc.get('law')} law): band = where the laws disagree", fontsize=10)
    top.grid(alpha=0.3)
    place_legend(fig)
    bottom.set_ylabel("LR")
    bottom.set_xlabel("step")
    bottom.grid(alpha=0.3)
    bottom.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return fig


def plot_forecast(doc: dict, out: str | Path) -> Path:
    """Write :func:`forecast_figure` to ``out`` (PNG, SVG or PDF by suffix), atomically."""
    return save_figure(forecast_figure(doc), out)
