"""Decays inferred from the curves, for logs with no learning-rate column and no schedule spec.

A decay shows as a sharp fall (:func:`lrscope.analysis.drops.find_falls`) in the curves it lowers.  Falls of
different metrics within ``tol`` rows of each other form a group, placed at the lower median of their rows.
The training curves (loss, accuracy or error) and the validation curves are two *sides*: the metrics of one
side share their data (a training loss and a training accuracy come from the same batches), so their
agreement is weaker evidence than agreement across sides.  A group is kept when

- both sides fell, the strongest fall with z >= Z_BOTH and one at least RATIO_BOTH times the trend (weak
  falls on both sides together are what a smooth schedule's annealing does to every curve); or
- the log has one side only, and either two of its metrics fell together or one fell strongly (z >= Z_STRONG
  and ratio >= RATIO_STRONG, or z >= Z_FLAT and ratio >= RATIO_FLAT: a step on an otherwise flat curve); or
- the other side is logged but did not fall, and this side fell strongly: two metrics with z summing to
  Z_PAIR or more, or one with z >= Z_STRONG, ratio >= RATIO_STRONG and a fall of at least ONE_SIDE_FALL (a
  decay seen in one side only, such as a third tenfold cut that moves the training loss but not the
  validation accuracy, or one that moves only the test metrics).

Every kept fall must be *settled*: the run goes on for a full window after it, so its new level is seen (a
fall in the last rows of a cosine or 1cycle run is the schedule's annealing tail as often as a decay).
``ratio`` is the fall against the steeper of the neighbouring windows' falls: a decay falls far faster than
the curve did before and after it.  Confidence = (0.35 + 0.65 * share of the logged metrics that fell) *
(1 - exp(-mean z / 8)).
"""

from __future__ import annotations

import math

import numpy as np

from .drops import Fall
from .events import RateChange

Z_BOTH = 6.0
RATIO_BOTH = 3.0
Z_STRONG = 8.0
RATIO_STRONG = 3.0
Z_FLAT = 4.0
RATIO_FLAT = 8.0
STEP_Z_FLAT = 3.0
PAIR_FALL = 0.1  # log units: about a 10 % fall
RATIO_PAIR = 2.0
ONE_SIDE_FALL = 0.05  # log units: about a 5 % fall


def side(role: str) -> str:
    return "train" if role.startswith("train") else "val"


def infer_events(falls: dict[str, list[Fall]], x: np.ndarray, available: list[str], tol: int) -> list[RateChange]:
    """Inferred decay events from the falls of each metric (see the module docstring)."""
    allf = sorted((f for fs in falls.values() for f in fs), key=lambda f: f.row)
    groups: list[list[Fall]] = []
    for f in allf:
        if groups and f.row - groups[-1][0].row <= tol and f.role not in {g.role for g in groups[-1]}:
            groups[-1].append(f)
        else:
            groups.append([f])
    logged_sides = {side(r) for r in available}
    events = []
    for grp in groups:
        if not _kept(grp, logged_sides):
            continue
        mean_z = float(np.mean([min(f.z, 40.0) for f in grp]))
        agreement = len(grp) / max(1, len(available))
        strength = 1.0 - math.exp(-mean_z / 8.0)
        conf = round(min(1.0, 0.35 + 0.65 * agreement) * strength, 3)
        rows = sorted(f.row for f in grp)
        row = rows[(len(rows) - 1) // 2]
        events.append(RateChange(int(row), float(x[row]), None, None, "inferred", conf, [f.role for f in grp]))
    return events


def _kept(grp: list[Fall], logged_sides: set[str]) -> bool:
    grp = [f for f in grp if f.settled]
    if not grp:
        return False
    fell = {side(f.role) for f in grp}
    if len(fell) == 2:
        return max(f.z for f in grp) >= Z_BOTH and max(f.ratio for f in grp) >= RATIO_BOTH
    best = max(grp, key=lambda f: f.z)
    strong = best.z >= Z_STRONG and best.ratio >= RATIO_STRONG
    if len(logged_sides) == 1:
        flat = best.z >= Z_FLAT and best.ratio >= RATIO_FLAT and best.step_z >= STEP_Z_FLAT
        return len(grp) >= 2 or strong or flat
    if len(grp) >= 2 and fell == {"train"}:
        return max(f.jump for f in grp) >= PAIR_FALL and max(f.ratio for f in grp) >= RATIO_PAIR
    return strong and best.jump >= ONE_SIDE_FALL
