"""Learning-rate change events: read from the logged rate, taken from a schedule spec, or inferred from the
curves.  The one place that says where a rate changes: explain, the plots and the probes all ask here.

Any change.  :func:`rate_changes` lists the rows where the rate differs from the row before by more than a
relative tolerance (of the larger of the two): every change, steps and smooth decay alike.

Logged rate (:func:`logged_events`), judged on the logged values only (NaN rows of a sparse log skipped).
Two consecutive values *hold* when they differ by at most HOLD_REL relative (float32 rates such as
0.0010000000474974513 hold).  A change v[k] -> v[k+1] of at least STEP_MIN_RATIO (1.3x) is a *step* when

- both sides hold: v[k-1] = v[k] and v[k+1] = v[k+2] (the log's first or last value counts as held), as in
  a ReduceLROnPlateau cut, including a small one clamped by min_lr two rows after another cut; or
- one side holds and the other moves, and the change is DOMINANCE times larger (absolutely) than the two
  changes on the moving side: a cut at the end of a warm-up (detectron2's WarmupMultiStepLR), a step into
  a cosine; or
- neither side holds, but the change is a jump of LONE_MIN_RATIO (3x) or more, LONE_DOMINANCE times the log
  change of every change within two rows on both sides: a warm restart (SGDR), or a cut in a rate that
  wobbles on every row (an adaptive per-batch rate summarised per row).

A rate that changes on every row in one direction (warm-up, cosine, 1cycle, linear decay, triangular cycles)
has no steps even where the ratio between rows is large (the tail of a cosine or a 1cycle, the start of a
triangular cycle).  A fall followed by a climb (three or more regular rises, or one or two rises back to
the level before, where the rate holds) is a *restarted warm-up*: a new or resumed run appended to the log
restarts its warm-up.  It is kept on :attr:`ScheduleShape.restarted_warmups` (source "restart"), never as
a decay.

Smooth decays.  :attr:`ScheduleShape.cooldown_row` is the row where the final smooth decay starts: the last
row of the constant or peak stretch before a run of regular falls (at least COOLDOWN_MIN_CHANGES) that lasts
to the end of the log (a floor held at the end allowed) and falls by COOLDOWN_MIN_RATIO or more: the
cooldown of a warm-up-stable-decay schedule, the nanoGPT and llm.c warm-downs, a cosine from its peak.

Schedule spec (:func:`place_schedule`): the spec's jumps, put on the rows by the unit its t counts.

Inferred.  With no rate known, decays are read off the curves: :mod:`lrscope.analysis.infer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

STEP_MIN_RATIO = 1.3
STEP_MIN_LOG = math.log(STEP_MIN_RATIO)
HOLD_REL = 1e-6  # consecutive rates this close (relative) hold constant
CHANGE_REL = HOLD_REL
DOMINANCE = 4.0  # a step out of or into a smooth stretch: its size against the stretch's changes
LONE_MIN_RATIO = 3.0
LONE_DOMINANCE = 3.0
COOLDOWN_MIN_RATIO = 2.0
COOLDOWN_MIN_CHANGES = 5


@dataclass
class RateChange:
    """One change of the learning rate found in a log: its row and x, the rates around it (None where unknown),
    where it came from ("logged", "schedule", "inferred", or "restart" for a restarted warm-up) and how sure
    that is.  ``end_row``: for a restarted warm-up, the row where the climb back ends."""

    row: int
    x: float
    lr_before: float | None
    lr_after: float | None
    source: str  # "logged" | "schedule" | "inferred" | "restart"
    confidence: float = 1.0
    metrics: list[str] = field(default_factory=list)  # inferred: the metrics that fell together
    end_row: int | None = None

    @property
    def decay(self) -> bool:
        """A decrease of the rate (or, for inferred events, a fall of the curves); never a restarted warm-up."""
        if self.source == "restart":
            return False
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
    """What the rate does: kind 'constant' | 'step' | 'smooth' | 'mixed' | 'unknown'.

    ``warmup_rows``: the row where an initial rise ends (0: none); ``restarts``: rises among the steps (warm
    restarts); ``restarted_warmups``: falls the rate climbs back from (appended or resumed runs);
    ``cooldown_row``: the row where the final smooth decay starts (None: none); ``source``: "logged" (the
    log's rate column) or "schedule" (a spec)."""

    kind: str
    lr_first: float | None = None
    lr_last: float | None = None
    lr_max: float | None = None
    lr_min: float | None = None
    changes: int = 0
    warmup_rows: int = 0
    restarts: int = 0
    restarted_warmups: list[RateChange] = field(default_factory=list)
    cooldown_row: int | None = None
    source: str = "logged"


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


@dataclass
class _Changes:
    """The changes v[k] -> v[k+1] of a sequence of rates, classified (boolean arrays over k)."""

    held: np.ndarray  # v[k+1] == v[k] within HOLD_REL
    log_change: np.ndarray  # log(v[k+1] / v[k]); 0 where held; +-inf to or from zero
    step: np.ndarray
    restart: np.ndarray


def _at(a: np.ndarray, k: np.ndarray, fill) -> np.ndarray:
    """a[k] where 0 <= k < len(a), else ``fill``."""
    ok = (k >= 0) & (k < len(a))
    out = np.full(k.shape, fill, dtype=np.result_type(a.dtype, np.asarray(fill).dtype))
    out[ok] = a[k[ok]]
    return out


def classify_changes(v: np.ndarray) -> _Changes:
    """Steps and restarted warm-ups among the changes of the logged rates ``v`` (see the module docstring).

    Full-length work is a few array passes; the rules themselves are evaluated on the large changes only
    (a piecewise-constant rate logged on 10**6 rows has a handful)."""
    v = np.asarray(v, dtype=np.float64)
    d = np.diff(v)
    m = len(d)
    held = np.abs(d) <= HOLD_REL * np.maximum(np.abs(v[:-1]), np.abs(v[1:]))
    moved = np.flatnonzero(~held)
    c = np.zeros(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        c[moved] = np.log(v[moved + 1] / v[moved])
    bad = moved[~np.isfinite(c[moved])]
    c[bad] = np.sign(d[bad]) * np.inf  # to or from zero
    step = np.zeros(m, dtype=bool)
    restart = np.zeros(m, dtype=bool)
    k = moved[np.abs(c[moved]) >= STEP_MIN_LOG]  # the candidates
    if not len(k):
        return _Changes(held, c, step, restart)
    a = np.abs(d)
    held_before = _at(held, k - 1, False) | (k == 0)
    held_after = _at(held, k + 1, False) | (k == m - 1)
    not_rise = np.flatnonzero(held | (c <= 0))
    nxt = np.searchsorted(not_rise, k + 1)
    if len(not_rise):
        climb_end = np.where(nxt < len(not_rise), not_rise[np.minimum(nxt, len(not_rise) - 1)], m)
    else:  # the rate rises at every change after a fall: it climbs to the end
        climb_end = np.full(len(k), m)
    after = np.maximum(climb_end - (k + 1), 0)  # consecutive rises right after change k
    # a restarted warm-up climbs back regularly (its first rises within a factor 2 of each other), or in one or
    # two rises back to the level before the fall, where it holds
    inc = [_at(a, k + j, np.nan) for j in (1, 2, 3)]
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.fmax(np.fmax(inc[0], inc[1]), inc[2]) / np.fmin(np.fmin(inc[0], inc[1]), inc[2])
        regular = (after >= 3) & (spread <= 2.0)
        top = v[np.minimum(k + 1 + after, m)]  # the value the climb reaches
        level = (after >= 1) & (after <= 2) & (top * STEP_MIN_RATIO >= v[k])
        holds_then = _at(held, k + 1 + after, True)
    ck = c[k]
    rs = (ck < 0) & (regular | (level & holds_then))
    both = held_before & held_after & ~rs
    before_moves = np.maximum(_at(a, k - 1, 0.0), _at(a, k - 2, 0.0))
    after_moves = np.maximum(_at(a, k + 1, 0.0), _at(a, k + 2, 0.0))
    one = (
        ~both
        & ~rs
        & (
            (held_after & ~held_before & (a[k] >= DOMINANCE * before_moves))
            | (held_before & ~held_after & (a[k] >= DOMINANCE * after_moves))
        )
    )
    # a jump in a rate that moves on every row: large, far larger than every change within two rows on both
    # sides (so never at the ends, where a cosine or 1cycle sampled sparsely falls by a large ratio)
    near = np.zeros(len(k))
    for by in (-2, -1, 1, 2):
        near = np.maximum(near, np.abs(_at(c, k + by, np.inf)))
    with np.errstate(invalid="ignore"):
        lone = (
            ~held_before
            & ~held_after
            & ~rs
            & (np.abs(ck) >= math.log(LONE_MIN_RATIO))
            & (np.abs(ck) >= LONE_DOMINANCE * near)
        )
    step[k[both | one | lone]] = True
    restart[k[rs]] = True
    return _Changes(held, c, step, restart)


def logged_events(lr: np.ndarray, x: np.ndarray) -> tuple[list[RateChange], ScheduleShape]:
    """Step changes of a logged rate, and the shape of the whole schedule (see the module docstring)."""
    lr = np.asarray(lr, dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(lr) & (lr >= 0))
    return _events_of(lr[rows], rows, np.asarray(x, dtype=np.float64), "logged")


def _events_of(v: np.ndarray, rows: np.ndarray, x: np.ndarray, source: str) -> tuple[list, ScheduleShape]:
    if len(v) == 0:
        return [], ScheduleShape("unknown", source=source)
    shape = ScheduleShape("constant", float(v[0]), float(v[-1]), float(v.max()), float(v.min()), source=source)
    if len(v) < 2:
        return [], shape
    ch = classify_changes(v)
    changed = ~ch.held
    shape.changes = int(changed.sum())
    if shape.changes == 0:
        return [], shape
    step_ks = np.flatnonzero(ch.step)
    events = []
    for k in step_ks:
        r = int(rows[k + 1])
        events.append(RateChange(r, float(x[r]), float(v[k]), float(v[k + 1]), source, 1.0))
    for k in np.flatnonzero(ch.restart):
        r = int(rows[k + 1])
        end = _climb_end(v, int(k) + 1, float(v[k]))
        shape.restarted_warmups.append(
            RateChange(r, float(x[r]), float(v[k]), float(v[k + 1]), "restart", 1.0, end_row=int(rows[end]))
        )
    c = ch.log_change
    falls = np.flatnonzero(changed & (c < 0))
    lead_end = int(falls[0]) if len(falls) else len(c)  # changes before the first fall
    lead_rises = np.flatnonzero(changed[:lead_end] & (c[:lead_end] > 0))
    if len(lead_rises) >= 2 or (len(lead_rises) == 1 and not ch.step[lead_rises[0]]):
        shape.warmup_rows = int(rows[lead_rises[-1] + 1])
    shape.restarts = int(np.sum(ch.step & (c > 0)))
    others = changed & ~ch.step
    if shape.warmup_rows:
        others[: lead_rises[-1] + 1] = False
    if not len(step_ks):
        shape.kind = "smooth"
    elif not others.any():
        shape.kind = "step"
    else:
        shape.kind = "mixed"
    if shape.kind in ("smooth", "mixed"):
        start = cooldown_start(v, ch)
        if start is not None:
            shape.cooldown_row = int(rows[start])
    return events, shape


def _climb_end(v: np.ndarray, j: int, level: float) -> int:
    """Index where the climb after a restart at v[j] ends: the first value back at ``level`` (within 1 %) or the
    last value of the rising run."""
    up = np.flatnonzero(np.diff(v[j:]) <= 0)
    last = j + (int(up[0]) if len(up) else len(v) - 1 - j)
    back = np.flatnonzero(v[j : last + 1] >= 0.99 * level)
    return j + int(back[0]) if len(back) else last


def cooldown_start(v: np.ndarray, ch: _Changes | None = None) -> int | None:
    """Index of the value where the final smooth decay of ``v`` starts (see the module docstring), or None."""
    if ch is None:
        ch = classify_changes(v)
    c = ch.log_change
    moving = np.flatnonzero(~ch.held)
    if not len(moving):
        return None
    end = int(moving[-1]) + 1  # a floor held at the end is not part of the decay
    falling = ~ch.held[:end] & (c[:end] < 0) & ~ch.step[:end]
    stops = np.flatnonzero(~falling)
    k = int(stops[-1]) if len(stops) else -1
    start = k + 1
    if end - start < COOLDOWN_MIN_CHANGES or not (v[start] >= COOLDOWN_MIN_RATIO * v[end]):
        return None
    # a planned decay moves regularly (equal steps of a linear decay, a cosine's gradual ones); a rate that
    # wobbles on every row falls a few times in a row by chance
    a = np.abs(np.diff(v[start : end + 1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a[1:] / a[:-1]
    if np.mean((r >= 1 / 3) & (r <= 3)) < 0.8:
        return None
    return start


STEP_UNITS = ("epoch", "step")


@dataclass
class Placement:
    """A schedule spec placed on a log: its jumps as events, the shape of its rate on the log's rows, the unit
    its t counts ("epoch" or "step"), and notes for the user (the unit when inferred, changes that miss)."""

    events: list[RateChange]
    shape: ScheduleShape
    schedule: object
    unit: str
    notes: list[str]


def schedule_events(
    spec: str, x: np.ndarray, lr: np.ndarray | None = None, step_unit: str | None = None, log=None
) -> tuple[list[RateChange], object]:
    """Events of a schedule spec mapped to rows: (events, schedule).  See :func:`place_schedule`; without a
    ``log``, ``x`` is the axis t is read from and ``step_unit`` says what it counts (default: epochs)."""
    return place_schedule(spec, log, step_unit, x=x).events, parse_spec(spec)


def parse_spec(spec: str):
    from ..schedules import parse_schedule

    return parse_schedule(spec)


def place_schedule(spec: str, log=None, step_unit: str | None = None, x: np.ndarray | None = None) -> Placement:
    """Put a schedule spec on a log's rows.

    t counts completed scheduler steps, in the unit ``step_unit`` ("epoch" or "step"; default inferred: the
    log's x axis, and for a log with both an epoch and a step column, epochs unless the spec's changes lie
    past the last epoch).  Epochs counted from 1 (1, 2, ...: the row of epoch e trained at the rate of t = e -
    1) or from 0 (the row of epoch N trained at t = N); steps as logged.  A change at t is first seen on the
    first row whose t reaches it.  A spec none of whose changes land in the log is a UserError; changes
    outside the log's range, a schedule that is still changing far past the log's end, or one whose jumps all
    lie in the first 5 % of it (a spec in epochs read as steps), give notes.
    """
    from ..errors import UserError

    if step_unit is not None and step_unit not in STEP_UNITS:
        raise UserError(f"--step-unit must be 'epoch' or 'step', got {step_unit!r}")
    schedule = parse_spec(spec)
    axes = _unit_axes(log, x)
    notes: list[str] = []
    inferred = step_unit is None
    if inferred:
        step_unit = "epoch" if "epoch" in axes else "step"
        if step_unit == "epoch" and "step" in axes and _past(schedule, axes["epoch"]):
            step_unit = "step"
    if step_unit not in axes:
        have = " and ".join(f"{u}s" for u in axes) or "no x axis"
        raise UserError(f"--step-unit {step_unit}: the log counts {have}, not {step_unit}s")
    t_rows, x_rows = axes[step_unit]
    x_all = x_rows if x is None else np.asarray(x, dtype=np.float64)
    if inferred:
        source = "x axis" if len(axes) == 1 else "epoch and step columns"
        notes.append(
            f"--schedule counted in {step_unit}s (inferred from the log's {source}; pass --step-unit to change)"
        )
    ok = np.isfinite(t_rows)
    if not ok.any():
        return Placement([], ScheduleShape("unknown", source="schedule"), schedule, step_unit, notes)
    t_lo, t_hi = float(t_rows[ok].min()), float(t_rows[ok].max())
    tf = np.maximum.accumulate(np.where(ok, t_rows, -np.inf))
    horizon = _horizon(t_hi)
    jumps = schedule.events(0.0, horizon)  # the jumps past the log too, to say they miss it
    r = np.searchsorted(tf, jumps.t - 1e-9)
    inside = (r > 0) & (r < len(tf)) & (jumps.t <= t_hi)
    before, after = jumps.lr_before[inside].tolist(), jumps.lr_after[inside].tolist()
    events = [
        RateChange(int(k), float(x_all[k]), _f(b), _f(a), "schedule", 1.0)
        for k, b, a in zip(r[inside].tolist(), before, after, strict=True)
    ]
    # a schedule that keeps jumping to the horizon (StepLR) jumps past the end of any run: not worth a note
    periodic = len(jumps) > 0 and float(jumps.t[-1]) > 0.9 * horizon
    early = jumps.t[~inside & (jumps.t <= t_hi)].tolist()
    late = [] if periodic else jumps.t[jumps.t > t_hi].tolist()
    span = f"the log's {step_unit} range {_num(t_lo)}-{_num(t_hi)}"
    missed = early + late
    if missed or (len(jumps) and not events):
        missed = missed or jumps.t[:5].tolist()
        shown = ", ".join(_num(t) for t in missed[:5]) + (" ..." if len(missed) > 5 else "")
        if not events:
            raise UserError(
                f"the schedule's changes at t={shown} lie outside {span} (none is in the log); check the spec "
                "or --step-unit"
            )
        notes.append(f"the schedule's changes at t={shown} lie outside {span}: not shown")
    last = None if periodic or late else _last_change(schedule, t_hi)
    if last is not None and last > 2.0 * t_hi + 2.0:
        notes.append(f"the schedule is still changing at t={_num(last)}, far past {span}: is --step-unit right?")
    if events and len(jumps) and float(jumps.t[-1]) < 0.05 * t_hi:
        notes.append(f"all the schedule's jumps lie in the first 5 % of {span}: is --step-unit right?")
    rows = np.flatnonzero(ok)
    values = np.asarray(schedule(np.maximum(tf[rows], 0.0)), dtype=np.float64)
    _, shape = _events_of(values, rows, x_all, "schedule")
    if events and shape.kind in ("smooth", "constant"):
        shape.kind = "mixed" if shape.kind == "smooth" else "step"
    return Placement(events, shape, schedule, step_unit, notes)


def _unit_axes(log, x) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """unit -> (t of each row, x of each row) for the units the log can count in."""
    if log is None:
        xv = np.asarray(x, dtype=np.float64)
        return {"epoch": (_epoch_t(xv), xv), "step": (xv, xv)}
    xv = log.x
    out = {}
    ep = log.roles.get("epoch") or ("epoch" if log.x_name == "epoch" else None)
    st = log.roles.get("step")
    if log.x_name != "epoch" and log.roles.get("epoch") != log.x_name and st is None:
        st = log.x_name  # an x axis that counts neither epochs by name nor by role: steps or rows
    if ep is not None and ep in log.columns:
        out["epoch"] = (_epoch_t(filled_lr(log.columns[ep])), xv)
    if st is not None and st in log.columns:
        out["step"] = (filled_lr(log.columns[st]), xv)
    elif st == "row":
        out["step"] = (np.arange(log.rows, dtype=np.float64), xv)
    return out


def _epoch_t(e: np.ndarray) -> np.ndarray:
    """Completed epochs at the start of each row's epoch: e - 1 for whole epochs counted from 1, else e."""
    f = e[np.isfinite(e)]
    one_based = len(f) and float(f.min()) >= 1.0 and np.allclose(f, np.round(f))
    return e - 1.0 if one_based else e


def _past(schedule, axis) -> bool:
    """Whether the spec's jumps (or its last change) lie past the end of this axis."""
    t = axis[0][np.isfinite(axis[0])]
    if not len(t):
        return False
    hi = float(t.max())
    jumps = schedule.events(0.0, _horizon(hi))
    if len(jumps):
        return bool(np.all(jumps.t > hi + 1))
    last = _last_change(schedule, hi)
    return last is not None and last > 2.0 * hi + 2.0


def _horizon(t_hi: float) -> float:
    """How far past the log's end jumps are looked for (to name the ones that miss it)."""
    return max(10.0 * t_hi, t_hi + 10.0)


def _last_change(schedule, t_hi: float) -> float | None:
    """About where a schedule stops changing (on a grid out to 10**4 times the log's range); None when it is
    still changing at the far end (a repeating schedule)."""
    hi = max(t_hi, 1.0)
    grid = np.unique(np.concatenate([np.linspace(0.0, hi, 2001), np.geomspace(hi, hi * 1e4, 2001)]))
    v = np.asarray(schedule(grid), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        moved = np.flatnonzero(np.abs(np.diff(v)) > 1e-6 * np.maximum(np.abs(v[:-1]), np.abs(v[1:])))
    if not len(moved):
        return None
    k = int(moved[-1])
    if k >= len(grid) - 10:
        return None
    # refine inside the grid interval: the first t from which the rate keeps its final value
    fine = np.linspace(grid[k], grid[k + 1], 1001)
    fv = np.asarray(schedule(fine), dtype=np.float64)
    end = fv[-1]
    with np.errstate(invalid="ignore"):
        off = np.flatnonzero(np.abs(fv - end) > 1e-6 * np.maximum(np.abs(fv), abs(end)))
    return float(fine[min(int(off[-1]) + 1, len(fine) - 1)]) if len(off) else float(grid[k])


def _num(t: float) -> str:
    return f"{t:.0f}" if float(t) == round(float(t)) else f"{t:.4g}"


def _f(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
