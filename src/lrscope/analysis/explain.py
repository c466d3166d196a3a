"""Explain a training run: which learning-rate changes happened, what dropped after each, whether each stage
was long enough, and what to do about it.

``explain(runlog, schedule=None) -> Explanation``.  The pipeline: events (logged rate, else the ``schedule``
spec, else inferred from the curves) -> drops per event and metric, plus sharp falls no event explains ->
constant-rate stages and their plateau verdicts -> findings in plain words (analysis/findings.py: small
producers, each ``f(ctx) -> list[Finding]``; other analyses add theirs with :func:`register_producer`).
Reading a log from a path and writing explain.json is the job's (lrscope.jobs.explain).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..logs.runlog import RunLog
from .drops import find_falls, relative_gain
from .events import STEP_UNITS, RateChange, ScheduleShape, filled_lr, logged_events, place_schedule
from .explanation import SCHEMA, Drop, Explanation, Finding
from .findings import PRODUCERS, register_producer
from .infer import infer_events
from .levels import LAG_POINTS, measure
from .restarts import restart_findings
from .smooth import Series, bin_medians, series
from .stages import Stage, fit_stage, split_stages
from .wording import Context

register_producer(restart_findings)

__all__ = ["SCHEMA", "Drop", "Explanation", "Finding", "PRODUCERS", "explain", "register_producer"]

# ------------------------------------------------------------------------------------------------ pipeline


def explain(runlog: RunLog, schedule: str | None = None, step_unit: str | None = None) -> Explanation:
    """Explain a run (see module docstring).  ``schedule``: a spec for a log with no rate column, its t
    counted in ``step_unit`` ("epoch" or "step"; None: inferred from the log, said in a note)."""
    if step_unit is not None and step_unit not in STEP_UNITS:
        from ..errors import UserError

        raise UserError(f"--step-unit must be 'epoch' or 'step', got {step_unit!r}")
    if schedule is not None:
        # a bad spec is an error even where the log's own lr column means it would not be used
        from ..schedules import parse_schedule

        parse_schedule(schedule)
    # hostile logs (1e308, inf, columns with one finite value) make NumPy warn about overflow or empty slices;
    # the results are checked for finiteness where they are used, so the user sees findings, not NumPy noise
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _explain(runlog, schedule, step_unit)


def _explain(runlog: RunLog, schedule: str | None, step_unit: str | None) -> Explanation:
    log = runlog
    notes = list(log.notes)
    x = log.x
    all_series = {r: s for r in log.metrics() if (s := series(log, r)) is not None}
    if not all_series:
        from ..errors import UserError

        raise UserError(f"{log.path}: no finite values in the loss or accuracy columns")
    falls = {r: find_falls(s) for r, s in all_series.items()}
    primary = next((r for r in ("train_loss", "val_loss", "train_acc", "val_acc") if r in all_series), None)
    spacing = _row_spacing(all_series.get(primary))
    tol = max(2, 2 * spacing)
    events: list[RateChange]
    shape = ScheduleShape("unknown")
    lr = log.role("lr")
    if lr is not None:
        events, shape = logged_events(lr, x)  # the logged values only: NaN rows of a sparse log are no holds
    elif schedule:
        placed = place_schedule(schedule, log, step_unit)
        events, shape = placed.events, placed.shape
        notes.extend(placed.notes)
    else:
        events = infer_events(falls, x, list(all_series), tol)
    events.sort(key=lambda e: e.row)
    drops = _drops(log, x, all_series, falls, events, tol)
    stages = _stages(log, all_series.get(primary), events, shape, lr)
    ctx = Context(log, x, all_series, falls, events, shape, drops, stages, primary, schedule)
    findings: list[Finding] = []
    for producer in PRODUCERS:
        findings.extend(producer(ctx))
    source = {
        "path": log.path,
        "format": log.format,
        "rows": log.rows,
        "x_name": log.x_name,
        "columns": {role: name for role, name in log.roles.items()},
    }
    return Explanation(source, events, drops, stages, findings, shape, notes)


def _row_spacing(s: Series | None) -> int:
    if s is None or len(s) < 2:
        return 1
    _, _, b = bin_medians(s.rows, s.g)
    gap = int(np.median(np.diff(s.rows))) if len(s) > 1 else 1
    return max(1, b * gap)


def _drops(log, x, all_series, falls, events, tol) -> list[Drop]:
    """Each metric's levels at each decay (tied to it: a fall that starts up to a lag after the cut is the
    cut's, :mod:`lrscope.analysis.levels`), then the sharp falls no decay explains."""
    drops: list[Drop] = []
    bounds = [e.row for e in events]  # every change bounds the level windows, a raise too
    decays = [(i, e) for i, e in enumerate(events) if e.decay]
    claimed: set[tuple[str, int]] = set()
    for i, e in decays:
        lo = bounds[i - 1] if i > 0 else 0
        hi = bounds[i + 1] if i + 1 < len(bounds) else log.rows
        for role, s in all_series.items():
            lag = _lag_rows(s, tol)
            near = [f for f in falls[role] if e.row - tol <= f.row <= e.row + lag and lo <= f.row < hi]
            claimed.update((role, f.row) for f in near)
            f = min(near, key=lambda f: abs(f.row - e.row)) if near else None
            lev = measure(s, e.row, lo, hi, None if f is None else f.row)
            if lev is None:
                continue
            rel = relative_gain(lev.before, lev.after, s.lower_is_better)
            drops.append(Drop(role, lev.row, float(x[lev.row]), lev.before, lev.after, rel, i, lev.sharp))
    decay_rows = [e.row for _, e in decays]
    for role, fs in falls.items():
        s = all_series[role]
        lag = _lag_rows(s, tol)
        for f in fs:
            if (role, f.row) in claimed or any(r - tol <= f.row <= r + lag for r in decay_rows):
                continue
            if f.ratio < STEP_RATIO:  # a bend in the curve (faster, then slower), not a step
                continue
            lo = max((b for b in bounds if b <= f.row), default=0)
            hi = min((b for b in bounds if b > f.row), default=log.rows)
            lev = measure(s, f.row, lo, hi, f.row)
            if lev is None:
                continue
            rel = relative_gain(lev.before, lev.after, s.lower_is_better)
            if rel <= 0:  # the levels say it did not fall
                continue
            drops.append(Drop(role, lev.row, float(x[lev.row]), lev.before, lev.after, rel, None, True))
    drops.sort(key=lambda d: (d.row, d.metric))
    return drops


STEP_RATIO = 2.0  # a fall no decay explains is reported when it is at least twice the trend around it


def _lag_rows(s: Series, tol: int) -> int:
    """Rows after a cut within which a metric's fall is the cut's: LAG_POINTS + 1 of its evaluations."""
    spacing = int(np.median(np.diff(s.rows))) if len(s) > 1 else 1
    return max(tol, (LAG_POINTS + 1) * spacing)


def _stages(log, s, events, shape, lr) -> list[Stage]:
    bounds = [e.row for e in events]
    out = []
    lr_f = filled_lr(lr) if lr is not None else None
    for k, (first, last) in enumerate(split_stages(log.rows, bounds)):
        rate = None
        if lr_f is not None and shape.kind in ("step", "constant"):
            seg = lr_f[first : last + 1]
            seg = seg[np.isfinite(seg)]
            rate = float(np.median(seg)) if len(seg) else None
        elif events and k > 0 and events[k - 1].lr_after is not None:
            rate = events[k - 1].lr_after
        elif events and k == 0 and events[0].lr_before is not None:
            rate = events[0].lr_before
        out.append(fit_stage(s, log.x, first, last, rate))
    return out
