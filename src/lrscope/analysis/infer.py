"""Decays inferred from the curves, for logs with no learning-rate column and no schedule spec.

A tenfold decay shows as a simultaneous sharp fall in several metrics (training loss, validation loss, error
rates): falls found per metric (:mod:`lrscope.analysis.drops`) within a couple of rows of each other are one
event, with a confidence from how many metrics agree and how strongly.
"""

from __future__ import annotations

import math

import numpy as np

from .drops import Fall
from .events import RateChange


def infer_events(falls: dict[str, list[Fall]], x: np.ndarray, available: list[str], tol: int) -> list[RateChange]:
    """Simultaneous sharp falls across metrics -> inferred decay events.

    Falls of different metrics within ``tol`` rows form a group.  Kept when at least two metrics agree, or when
    only one metric exists and its fall is strong (z >= 8).  Confidence = agreement * strength, where agreement
    is the share of available metrics that fell and strength = 1 - exp(-mean z / 8).
    """
    allf = sorted((f for fs in falls.values() for f in fs), key=lambda f: f.row)
    groups: list[list[Fall]] = []
    for f in allf:
        if groups and f.row - groups[-1][0].row <= tol and f.role not in {g.role for g in groups[-1]}:
            groups[-1].append(f)
        else:
            groups.append([f])
    events = []
    m_avail = max(1, len(available))
    for grp in groups:
        roles = [f.role for f in grp]
        mean_z = float(np.mean([min(f.z, 40.0) for f in grp]))
        if len(grp) < 2 and not (m_avail == 1 and mean_z >= 8.0):
            continue
        # a decay lowers the training curves; validation curves alone fall together when validation is noisy
        if any(r.startswith("train") for r in available) and not any(r.startswith("train") for r in roles):
            continue
        agreement = len(grp) / m_avail
        strength = 1.0 - math.exp(-mean_z / 8.0)
        conf = round(min(1.0, 0.35 + 0.65 * agreement) * strength, 3)
        preferred = next((f for f in grp if f.role == "train_loss"), None)
        if preferred is None:
            rows = sorted(f.row for f in grp)
            row = rows[len(rows) // 2]
        else:
            row = preferred.row
        events.append(RateChange(int(row), float(x[row]), None, None, "inferred", conf, roles))
    return events
