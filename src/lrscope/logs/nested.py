"""A step counter that counts within the epoch: made one counter over the whole run.

MMDetection, MMSegmentation and the other OpenMMLab tools built on MMCV 1.x write ``*.log.json`` lines such as
``{"mode": "train", "epoch": 9, "iter": 50, "lr": 0.002, "loss": 0.61}``: ``iter`` starts again at every
epoch.  Read as a global step, every epoch would look like a new run appended to the file, and no decay
between epochs could be seen.  Where the step counter goes back only as the epoch goes up, the two are one
position, and the step becomes

    step' = (epoch - e_0) * P + step,   P = max(step) - min(step) + d

(e_0: the first epoch in the log; d: the median increment of the step within an epoch, so that an epoch
logged as 50, 100, ..., 500 or as 0, 50, ..., 450 both get P = 500).  A counter that goes back while the
epoch stays or goes back too is a restart or a resume, not nesting, and is left to :mod:`segments`; the
composed counter still goes back there, so such runs are still told apart.  A line of another kind that counts
less within its epoch (MMCV's validation line, whose ``iter`` is the validation loop's length) is placed at the
training step before it, the end of the epoch it evaluates.
"""

from __future__ import annotations

import numpy as np

from .names import EPOCH_NAMES, epoch_column, joined_words

MIN_NESTED_RESETS = 2  # one reset at an epoch boundary could be a restart that happens to coincide


def unnest_step(columns: dict[str, np.ndarray], x_name: str, notes: list[str]) -> dict[str, np.ndarray]:
    """``columns`` with ``x_name`` made one counter over the run where it counts within each epoch (module
    docstring); unchanged otherwise."""
    epoch_name = epoch_column(columns, skip=x_name)
    if epoch_name is None or x_name not in columns or joined_words(x_name) in EPOCH_NAMES:
        return columns
    step, epoch = columns[x_name], columns[epoch_name]
    both = np.flatnonzero(np.isfinite(step) & np.isfinite(epoch))
    if len(both) < 3 or not (step[both][1:] < step[both][:-1]).any():  # the common case: it never goes back
        return columns
    others = [v for k, v in columns.items() if k not in (x_name, epoch_name)]
    logged = np.column_stack([np.isfinite(v[both]) for v in others]) if others else np.ones((len(both), 1), bool)
    s, e = at_epoch_end(step[both], epoch[both], logged), epoch[both]
    back = s[1:] < s[:-1]
    if not back.any():
        return columns
    epoch_up = e[1:] > e[:-1]
    nested = back & epoch_up
    # within an epoch the counter must only go forward (or repeat, as separate train/val lines do)
    if nested.sum() < MIN_NESTED_RESETS or (back & ~epoch_up & (e[1:] == e[:-1])).any():
        return columns
    same_epoch = (e[1:] == e[:-1]) & (s[1:] > s[:-1])
    increments = (s[1:] - s[:-1])[same_epoch]
    d = float(np.median(increments)) if len(increments) else 1.0
    period = float(s.max() - s.min()) + d
    first = float(e.min())
    out = dict(columns)
    composed = np.full(len(step), np.nan)
    composed[both] = (e - first) * period + s
    out[x_name] = composed
    notes.append(
        f"the {x_name} counter starts again at each {epoch_name} ({int(nested.sum())} times): it counts within "
        f"the {epoch_name}, so took ({epoch_name} - {first:g}) x {period:g} + {x_name} as the {x_name} over the run"
    )
    return out


def at_epoch_end(step: np.ndarray, epoch: np.ndarray, logged: np.ndarray) -> np.ndarray:
    """``step`` with each record that logs other fields than the record before it, in the same epoch, and counts
    less (MMCV's validation line: ``{"mode": "val", "epoch": 9, "iter": 132, "bbox_mAP": ...}``, ``iter`` the
    validation loop's length) moved to the step before it: it belongs to the end of the training it follows."""
    out = step.astype(np.float64, copy=True)
    for i in range(1, len(out)):
        if epoch[i] == epoch[i - 1] and out[i] < out[i - 1] and not np.array_equal(logged[i], logged[i - 1]):
            out[i] = out[i - 1]
    return out
