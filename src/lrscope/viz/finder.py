"""The LR range test picture: raw and fitted loss against lr (log axis), d loss / d log10 lr on a twin axis,
the suggestion and the range marked, the other rules as thin grey lines under one legend entry; with several
repeats, every sweep drawn; with ``lrscope find --confirm``, each confirm run's final validation loss at its rate
(the chosen one filled).  The legend sits outside the axes (:func:`lrscope.viz.palette.place_legend`), never
over the suggestion.

Never computes or trains: everything drawn comes from the
:class:`lrscope.analysis.finder_result.FinderResult` (or its JSON document).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .palette import INCREASE, RAW_ALPHA, SUGGESTION, TRAIN, VALIDATION, place_legend
from .save import save_figure
from .ticks import plain_number, readable_log_ticks

OTHER_RULES = "#8c8c8c"  # every rule but the suggestion's: thin grey, one legend entry for all
SLOPE = "#9467bd"


def _doc(result: Any) -> dict:
    return result if isinstance(result, dict) else result.to_json()


def _two(value: float) -> str:
    """A rate to two significant digits, as a plain number."""
    return plain_number(float(f"{value:.2g}"))


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def plot_finder(result: Any, ax=None):
    """Draw ``result`` on ``ax`` (a new Agg figure when None); returns the axes."""
    doc = _doc(result)
    if ax is None:
        from .svg import new_figure

        ax = new_figure(8.4, 4.2, dpi=120).add_subplot(1, 1, 1)
    sweeps = doc["sweeps"]
    ymax = -np.inf
    ymin = np.inf
    for k, sweep in enumerate(sweeps):
        lrs, raw, fit = _arr(sweep["lrs"]), _arr(sweep["losses"]), _arr(sweep["fit"])
        first = k == 0
        ax.plot(lrs, raw, color=TRAIN, lw=0.7, alpha=RAW_ALPHA if first else 0.2,
                label="raw loss" if first else None)
        ax.plot(lrs, fit, color=TRAIN, lw=1.8, alpha=1.0 if first else 0.5,
                label="loss, local fit" if first else None)
        finite = fit[np.isfinite(fit)]
        if finite.size:
            ymin, ymax = min(ymin, finite.min()), max(ymax, finite.max())
    confirm = doc.get("confirm")
    if confirm:  # the full runs' validation losses share the loss axis: both are the training objective
        rates = _arr([c["rate"] for c in confirm["candidates"]])
        losses = _arr([c["val_loss"] for c in confirm["candidates"]])
        ax.plot(rates, losses, color=VALIDATION, ls="--", lw=0.9, marker="D", ms=5, mfc="white",
                label="confirm runs: final val loss")
        chosen = int(np.argmin(np.abs(np.log(rates / confirm["chosen"]))))
        ax.plot([rates[chosen]], [losses[chosen]], ls="none", marker="D", ms=8, color=VALIDATION,
                label=f"confirmed {_two(confirm['chosen'])}")
        if refined := _refined(confirm):
            ax.axvline(refined, color=VALIDATION, ls=":", lw=1.2, label=f"train at {_two(refined)} (refined)")
        finite = losses[np.isfinite(losses)]
        if finite.size:
            ymin, ymax = min(ymin, finite.min()), max(ymax, finite.max())
    if np.isfinite(ymin) and np.isfinite(ymax) and ymax > ymin:
        pad = 0.15 * (ymax - ymin)
        ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    low, high = doc["range"]
    ax.axvspan(low, high, color=INCREASE, alpha=0.08, label=f"range {_two(low)} .. {_two(high)}")
    others = []
    primary = doc.get("rule", "combined")  # finder.json before the regret bench named no rule: it was combined
    for name, value in doc["suggestions"].items():
        if name == primary:
            continue
        ax.axvline(value, color=OTHER_RULES, ls=":", lw=0.9)
        others.append(f"{name.replace('_', ' ')} {_two(value)}")
    if others:  # one entry for every other rule, its values in the label
        ax.plot([], [], color=OTHER_RULES, ls=":", lw=0.9, label="other rules:\n" + "\n".join(others))
    suggestion = doc.get("suggestion", doc["suggestions"].get(primary))
    if suggestion is not None:
        ax.axvline(suggestion, color=SUGGESTION, lw=2.0, label=f"suggestion {_two(suggestion)}")
    band = doc.get("band") or [None, None]
    if None not in band:  # drawn as a bar along the bottom, so it never hides the curve or the range
        ax.axvspan(band[0], band[1], ymin=0.0, ymax=0.04, color=SUGGESTION, alpha=0.5, lw=0,
                   label=f"within 1% of the best val loss\nexpected at {_two(band[0])} .. {_two(band[1])}")
    ax2 = ax.twinx()
    ax2.plot(_arr(sweeps[0]["lrs"]), _arr(sweeps[0]["slope"]), color=SLOPE, lw=0.9, alpha=0.7,
             label="slope d loss / d log10 lr")
    ax2.axhline(0.0, color=SLOPE, lw=0.5, alpha=0.4)
    ax2.set_ylabel("slope", color=SLOPE)
    place_legend(ax.figure)
    title = f"LR range test: suggestion {doc['suggestion']:.3g}"
    if doc.get("spread_decades") is not None:
        title += f", spread {doc['spread_decades']:.2f} decades over {doc['repeats']} repeats"
    if doc.get("reliable") is False:
        title += " (unreliable: the loss hardly fell; see the notes)"
    if confirm:  # a line of its own: with the spread it outgrows the figure's width
        title += f"\nconfirmed by training {confirm['chosen']:.3g}"
        if refined := _refined(confirm):
            title += f" (train at {refined:.3g})"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    readable_log_ticks(ax.figure)
    return ax


def save_finder_plot(result: Any, out: str | Path) -> Path:
    """Write the picture to ``out`` (png/svg/pdf by suffix) atomically."""
    ax = plot_finder(result)
    fig = ax.figure
    out = Path(out)
    return save_figure(fig, out, dpi=fig.dpi)


def _refined(confirm: dict) -> float | None:
    """The confirm block's refined rate where it differs from the best run's (documents before it have none)."""
    refined = confirm.get("refined")
    if refined is None or np.isclose(refined, confirm["chosen"], rtol=1e-9):
        return None
    return float(refined)
