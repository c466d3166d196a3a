"""One palette and one legend rule for every figure lrscope draws (plot, explain --plot, the report, the probes).

Colours name a series' role, never its position in a list: the training curve is always :data:`TRAIN`, the
validation curve :data:`VALIDATION`, the learning rate :data:`LR`, whichever figure shows them.  When several runs
share a figure, each run has one colour (:func:`run_color`) and the line style says the role: train solid,
validation dashed, the rate dotted and thinner on its own axis (:data:`RUN_STYLES`), so a run's rate never looks
like its validation curve.

The legend rule (:func:`place_legend`): one legend per figure, outside the plot area at its upper right, so no
entry ever covers the curves, the decays or a suggestion; the rate has its own entry.
"""

from __future__ import annotations

TRAIN = "#1f77b4"  # blue
VALIDATION = "#ff7f0e"  # orange
LR = "#3b3b3b"  # near-black, on its own (twin) axis
DECAY = "#d62728"  # a cut of the rate: red dotted vertical line
INCREASE = "#2ca02c"  # a rise of the rate (warm-up, a restart)
DROP = "#ffbf00"  # the shaded fall of the loss after a decay
UNEXPLAINED = "#c77dff"  # a fall with no rate change behind it
SUGGESTION = "#d62728"  # the range test's chosen rate
THRESHOLD = "#d62728"  # 2/LR and other stability limits
RAW_ALPHA = 0.3  # raw, noisy values under their smoothed line

ROLE_COLORS = {
    "train_loss": TRAIN,
    "train_acc": TRAIN,
    "loss": TRAIN,
    "val_loss": VALIDATION,
    "val_acc": VALIDATION,
    "lr": LR,
}

RUNS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
RUN_STYLES = {
    "train": {"ls": "-", "lw": 1.4},
    "val": {"ls": "--", "lw": 1.4},
    "lr": {"ls": ":", "lw": 1.1, "alpha": 0.9},
}


def role_color(role: str) -> str:
    """The colour of a series by its role (``train_loss``, ``val_acc``, ``lr``, ...); train's for an unknown
    role that starts with ``train``, validation's for ``val``/``test``, else the first run colour."""
    if role in ROLE_COLORS:
        return ROLE_COLORS[role]
    if role.startswith(("val", "test", "eval")):
        return VALIDATION
    return TRAIN


def run_color(index: int) -> str:
    """The colour of the ``index``-th run in a figure of several runs (the list repeats past eight)."""
    return RUNS[index % len(RUNS)]


def legend_entries(fig) -> tuple[list, list]:
    """Every labelled artist of every axes of ``fig`` (twins included), first label wins, in drawing order."""
    handles, labels, seen = [], [], set()
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in seen:
                seen.add(label)
                handles.append(handle)
                labels.append(label)
    return handles, labels


def place_legend(fig, handles=None, labels=None, *, fontsize: float = 7.5):
    """The figure's one legend, outside the plot area at the upper right (nothing it could hide).

    ``handles``/``labels``: the entries (default: every labelled artist of every axes, duplicates once).  A
    figure with constrained layout makes room for it; any other (an axes the caller made) gets it anchored just
    right of the last axes, which ``bbox_inches="tight"`` keeps in the file.  Returns the legend (None when
    there is nothing to list)."""
    if handles is None:
        handles, labels = legend_entries(fig)
    if not handles:
        return None
    engine = fig.get_layout_engine()
    if engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine":
        return fig.legend(handles, labels, loc="outside right upper", fontsize=fontsize, frameon=False)
    host = fig.axes[0]
    return host.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.16, 1.0), borderaxespad=0.0,
                       fontsize=fontsize, frameon=False)
