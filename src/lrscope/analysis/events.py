"""Learning-rate change events: read from the logged rate, taken from a schedule spec, or inferred from the
curves.  The one place that says where a rate changes: explain, the plots and the probes all ask here.

Any change.  :func:`rate_changes` lists the rows where the rate differs from the row before by more than a
relative tolerance (of the larger of the two): every change, steps and smooth decay alike.

Logged rate.  Between consecutive logged rates the signed log change c_k = log(lr_k / lr_{k-1}) is computed.  A
change is a *step* when it is large (|c_k| >= log 1.3) and stands alone: every other change within two rows is
in the opposite direction (a warm restart) or at most STEP_DOMINANCE times as large.  Smooth schedules (cosine,
1cycle, warm-up, exponential) change a little on every row, so none of their changes stands alone, even where
the ratio between rows is large (the tail of a cosine that ends at zero).

Inferred.  With no rate known, a decay shows as a simultaneous sharp fall in several metrics (training loss,
validation loss, error rates): falls found per metric (:mod:`lrscope.analysis.drops`) within a couple of rows
of each other are one event, with a confidence from how many metrics agree and how strongly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .drops import Fall

STEP_MIN_LOG = math.log(1.3)
STEP_DOMINANCE = 0.3
CHANGE_REL = 1e-6


@dataclass
class RateChange:
    """One change of the learning rate found in a log: its row and x, the rates around it (None where unknown),
    where it came from ("logged", "schedule" or "inferred") and how sure that is."""

    row: int
    x: float
    lr_before: float | None
    lr_after: float | None
    source: str  # "logged" | "schedule" | "inferred"
    confidence: float = 1.0
    metrics: list[str] = field(default_factory=list)  # inferred: the metrics that fell together

    @property
    def decay(self) -> bool:
        """A decrease of the rate (or, for inferred events, a fall of the curves)."""
        if self.lr_before is None or self.lr_after is None:
            return True
        return self.lr_after < self.lr_before

    @property
    def factor(self) -> float | None:
        if self.lr_before is None or self.lr_after is None or self.lr_after <= 0:
            return None
        return self.lr_before / self.lr_after


@dataclass
class ScheduleShape:
    """What the logged rate does: kind 'constant' | 'step' | 'smooth' | 'mixed' | 'unknown'."""

    kind: str
    lr_first: float | None = None
    lr_last: float | None = None
    lr_max: float | None = None
    lr_min: float | None = None
    changes: int = 0
    warmup_rows: int = 0  # rows from the start up to the peak, when the rate rises first
    restarts: int = 0


def filled_lr(lr: np.ndarray) -> np.ndarray:
    """The rate on every row: NaN gaps (sparse logs) take the last logged value (the first one before it)."""
    lr = np.asarray(lr, dtype=np.float64)
    ok = np.isfinite(lr)
    if ok.all() or not ok.any():
        return lr
    idx = np.where(ok, np.arange(len(lr)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = lr[idx]
    first = int(np.argmax(ok))
    out[:first] = lr[first]
    return out


def rate_changes(lr: np.ndarray, rtol: float = CHANGE_REL) -> np.ndarray:
    """Rows i where lr[i] differs from lr[i-1] (both finite) by more than ``rtol`` relative to the larger of
    the two (two zeros: no change)."""
    lr = np.asarray(lr, dtype=np.float64)
    if lr.size < 2:
        return np.zeros(0, dtype=int)
    prev, cur = lr[:-1], lr[1:]
    changed = np.abs(cur - prev) > rtol * np.maximum(np.abs(prev), np.abs(cur))
    return np.flatnonzero(changed & np.isfinite(prev) & np.isfinite(cur)) + 1


def logged_events(lr: np.ndarray, x: np.ndarray) -> tuple[list[RateChange], ScheduleShape]:
    """Step changes of a logged rate, and the shape of the whole schedule."""
    rows = np.flatnonzero(np.isfinite(lr) & (np.asarray(lr) >= 0))
    if len(rows) == 0:
        return [], ScheduleShape("unknown")
    v = lr[rows]
    shape = ScheduleShape("constant", float(v[0]), float(v[-1]), float(v.max()), float(v.min()))
    if len(v) < 2:
        return [], shape
    prev, cur = v[:-1], v[1:]
    ks = rate_changes(v) - 1  # k: the change from v[k] to v[k + 1]
    changed = np.zeros(len(prev), dtype=bool)
    changed[ks] = True
    shape.changes = len(ks)
    if len(ks) == 0:
        return [], shape
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.log(cur / prev)
    c[~changed] = 0.0
    c[changed & ~np.isfinite(c)] = np.sign(cur - prev)[changed & ~np.isfinite(c)] * 10.0
    events: list[RateChange] = []
    step_ks = []
    # a rate that changes on most rows (adaptive, or a per-batch list summarised per row) wobbles by large
    # ratios now and then: only a clear cut (3x or more) counts as a step there
    min_log = STEP_MIN_LOG if len(ks) < 0.5 * len(c) else math.log(3.0)
    for k in ks:
        a = abs(c[k])
        if a < min_log:
            continue
        if min_log > STEP_MIN_LOG and k == len(c) - 1:
            continue  # the last row of a schedule that changes on every row: its annealing end, not a step
        lone = True
        for j in (k - 2, k - 1, k + 1, k + 2):
            if (
                0 <= j < len(c)
                and c[j] != 0.0
                and np.sign(c[j]) == np.sign(c[k])
                and abs(c[j]) > STEP_DOMINANCE * a
            ):
                lone = False
                break
        if lone and (prev[k] == 0 or cur[k] == 0):
            # a change to or from zero is a step only when the rate is otherwise constant around it
            lone = all(not (0 <= j < len(c)) or c[j] == 0.0 for j in (k - 2, k - 1, k + 1, k + 2))
        if lone:
            step_ks.append(k)
            r = int(rows[k + 1])
            events.append(RateChange(r, float(x[r]), float(prev[k]), float(cur[k]), "logged", 1.0))
    others = len(ks) - len(step_ks)
    peak = int(np.argmax(v))
    if v[peak] > v[0] * (1 + 1e-6) and peak > 0:
        # the rate rises first: warm-up up to the peak (if the rise is not itself one step)
        rise_changes = int(np.sum(changed[:peak]))
        if rise_changes > 1 or not step_ks or step_ks[0] >= peak:
            shape.warmup_rows = int(rows[peak])
    shape.restarts = sum(1 for e in events if not e.decay)
    warmup_only = others > 0 and np.all(ks[~np.isin(ks, step_ks)] < max(peak, 1)) and shape.warmup_rows > 0
    if not step_ks:
        shape.kind = "smooth"
    elif others == 0 or warmup_only:
        shape.kind = "step"
    else:
        shape.kind = "mixed"
    return events, shape


def schedule_events(spec: str, x: np.ndarray, lr: np.ndarray | None = None) -> tuple[list[RateChange], object]:
    """Events of a schedule spec (``lrscope.schedules.parse_schedule(spec).events(t0, t1)``) mapped to rows.

    t counts completed scheduler steps; a rate that changes at t is first used in epoch t+1 (1-based epochs, as
    lrscope and most loggers count) or epoch t (0-based).  For 'row' and 'step' axes the row/step number is t.
    """
    from ..schedules import parse_schedule

    schedule = parse_schedule(spec)
    xf = x[np.isfinite(x)]
    if len(xf) == 0:
        return [], schedule
    one_based = float(xf.min()) >= 1.0 and np.allclose(xf, np.round(xf))
    offset = 1.0 if one_based else 0.0
    t0, t1 = 0.0, float(xf.max())
    events = []
    for ev in schedule.events(t0, t1):
        t = float(getattr(ev, "t", ev[0] if isinstance(ev, tuple) else 0.0))
        before = getattr(ev, "lr_before", None)
        after = getattr(ev, "lr_after", None)
        target = t + offset
        r = int(np.searchsorted(x, target - 1e-9))
        if r <= 0 or r >= len(x):
            continue
        events.append(RateChange(r, float(x[r]), _f(before), _f(after), "schedule", 1.0))
    return events, schedule


def _f(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


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
