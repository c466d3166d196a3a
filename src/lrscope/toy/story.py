"""What a toy run shows: smoothed losses, the drop at a step schedule's decay, and a caption that says it.

A surface may carry a :class:`~.surfaces.Story`, its default run: a constant low rate, a constant high rate and a
step schedule from the high rate to the low one at half the steps, all with the same gradient noise.  On the rugged
bowl the low rate is trapped by the first ripple it meets, the high rate crosses the ripples and bounces at its
noise floor around the centre, and the schedule sits on that floor until its decay, then falls into the dimple
under it.

Smoothing is a trailing mean (the value at step t averages steps t-w+1 .. t): causal, so nothing from after a
decay leaks into the steps before it.  ``losses[t]`` is the loss after t steps, so the first loss a decay at
schedule step d can change is ``losses[d + 1]``; "the k steps after the decay" are ``losses[d+1 .. d+k]`` and
"the k steps before" are ``losses[d-k+1 .. d]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .optimizers import Trajectories
from .surfaces import Story

SPAN = 20  # steps either side of a decay that "before" and "after" average


def smoothing_window(steps: int) -> int:
    """Steps averaged by :func:`smooth`: about a thirtieth of the run, 1 to 50 (10 for a 300-step run)."""
    return int(max(1, min(50, steps // 30)))


def smooth(losses: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` steps along the last axis (fewer at the start); NaN stays NaN onward."""
    losses = np.asarray(losses, dtype=float)
    window = max(1, int(window))
    finite = np.isfinite(losses)
    filled = np.where(finite, losses, 0.0)
    zero = np.zeros(losses.shape[:-1] + (1,))
    total = np.cumsum(np.concatenate([zero, filled], axis=-1), axis=-1)
    bad = np.cumsum(np.concatenate([zero, ~finite], axis=-1), axis=-1)
    n = losses.shape[-1]
    end = np.arange(1, n + 1)
    start = np.maximum(0, end - window)
    out = (total[..., end] - total[..., start]) / (end - start)
    out[(bad[..., end] - bad[..., start]) > 0] = np.nan
    return out


@dataclass(frozen=True)
class DecayDrop:
    """The scheduled run ``run``'s smoothed loss over the ``span`` steps before and after its decay at ``step``."""

    run: int
    step: int
    before: float
    after: float
    span: int

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else float("nan")


def first_decay(rates: np.ndarray) -> int | None:
    """The schedule step d at which the rate first falls (``rates[d] < rates[d - 1]``), or None."""
    falls = np.flatnonzero(np.diff(np.asarray(rates, dtype=float)) < 0)
    return int(falls[0]) + 1 if falls.size else None


def decay_drop(traj: Trajectories, *, span: int = SPAN, window: int | None = None) -> DecayDrop | None:
    """The drop at the first decay of the first scheduled run, on smoothed losses; None without one (or without
    ``span`` steps on either side of it)."""
    window = smoothing_window(traj.steps) if window is None else window
    for r, row in enumerate(traj.lr_table):
        d = first_decay(row)
        if d is None:
            continue
        if d - span + 1 < 0 or d + span >= traj.losses.shape[1]:
            return None
        smoothed = smooth(traj.losses[r], window)
        before = float(np.mean(smoothed[d - span + 1 : d + 1]))
        after = float(np.mean(smoothed[d + 1 : d + span + 1]))
        return DecayDrop(r, d, before, after, span)
    return None


def final_smoothed(traj: Trajectories, window: int | None = None) -> np.ndarray:
    """Each run's smoothed loss at the last step (NaN for a run that diverged)."""
    window = smoothing_window(traj.steps) if window is None else window
    return smooth(traj.losses, window)[:, -1]


def story_caption(traj: Trajectories, story: Story) -> str:
    """One line that says what the story's run shows, each claim worded by the numbers it measured.

    The runs are found by their rates: the constant runs at ``story.low`` and ``story.high`` and the first run
    whose rate falls.
    """
    const = {float(row[0]): r for r, row in enumerate(traj.lr_table) if np.all(row == row[0])}
    low, high = const.get(float(story.low)), const.get(float(story.high))
    finals = final_smoothed(traj)
    drop = decay_drop(traj)
    parts = []
    if low is not None and high is not None:
        lf, hf = finals[low], finals[high]
        if np.isfinite(hf) and hf < lf:
            parts.append(
                f"lr {story.high:g} crosses {story.trap} that trap lr {story.low:g} (loss {hf:.2g} vs {lf:.2g})"
            )
        else:
            parts.append(f"lr {story.high:g} does not end below lr {story.low:g} here (loss {hf:.2g} vs {lf:.2g})")
    if drop is not None:
        if drop.ratio <= 0.5:
            end = finals[drop.run]
            parts.append(
                f"the schedule plateaus at lr {story.high:g}'s noise floor ({drop.before:.2g}), then falls right "
                f"after its decay at step {drop.step}, to {end:.2g}"
            )
        elif drop.ratio < 0.9:
            parts.append(
                f"the schedule falls only to {drop.ratio:.0%} of its plateau in the {drop.span} steps after its "
                f"decay at step {drop.step}"
            )
        else:
            parts.append(
                f"the schedule does not fall after its decay at step {drop.step} "
                f"({drop.before:.2g} before, {drop.after:.2g} after)"
            )
    return "; ".join(parts)
