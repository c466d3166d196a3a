"""Explain a training run: which learning-rate changes happened, what dropped after each, whether each stage
was long
enough, and what to do about it.

``explain(runlog, schedule=None) -> Explanation``.  The pipeline: events (logged rate, else ``--schedule``
spec,
else inferred from the curves) -> drops per event and metric, plus sharp falls no event explains ->
constant-rate
stages and their plateau verdicts -> findings in plain words.  Findings come from a list of small producers
(:data:`PRODUCERS`), each ``f(ctx) -> list[Finding]``; other analyses (the noise-floor prediction of issue 5)
add
theirs with :func:`register_producer`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..logs.runlog import RunLog
from .drops import Fall, drop_at, find_falls, relative_gain
from .events import Event, ScheduleShape, filled_lr, infer_events, logged_events, schedule_events
from .smooth import Series, bin_medians, series
from .stages import Stage, judge_stage, split_stages

SCHEMA = "lrscope.explain/1"
NOISE_COLUMNS = ("noise_trace", "grad_sq", "b_simple", "b_noise")  # issue 5 fills these in


@dataclass
class Drop:
    metric: str
    row: int
    x: float
    before: float
    after: float
    relative: float
    event: int | None
    sharp: bool = True


@dataclass
class Finding:
    kind: str
    row: int | None
    text: str


@dataclass
class Explanation:
    source: dict
    events: list[Event]
    drops: list[Drop]
    stages: list[Stage]
    findings: list[Finding]
    shape: ScheduleShape = field(default_factory=lambda: ScheduleShape("unknown"))
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA,
            "source": self.source,
            "events": [
                {
                    "row": e.row,
                    "x": _num(e.x),
                    "lr_before": _num(e.lr_before),
                    "lr_after": _num(e.lr_after),
                    "source": e.source,
                    "confidence": round(float(e.confidence), 3),
                }
                for e in self.events
            ],
            "drops": [
                {
                    "metric": d.metric,
                    "row": d.row,
                    "x": _num(d.x),
                    "before": _num(d.before),
                    "after": _num(d.after),
                    "relative": _num(round(d.relative, 6)),
                    "event": d.event,
                    "sharp": d.sharp,
                }
                for d in self.drops
            ],
            "stages": [
                {
                    "first_row": s.first_row,
                    "last_row": s.last_row,
                    "lr": _num(s.lr),
                    "plateaued": bool(s.plateaued),
                    "tail_change": _num(round(s.tail_change, 6)),
                    "rows_to_flatten": _num(
                        None if s.rows_to_flatten is None else round(s.rows_to_flatten, 1)
                    ),
                    "judged": s.judged,
                }
                for s in self.stages
            ],
            "findings": [asdict(f) for f in self.findings],
            "schedule": {
                "kind": self.shape.kind,
                "lr_first": _num(self.shape.lr_first),
                "lr_last": _num(self.shape.lr_last),
                "warmup_rows": self.shape.warmup_rows,
            },
            "notes": list(self.notes),
        }

    def text(self) -> str:
        """The findings as plain text, one paragraph each (the CLI adds colour)."""
        lines = [f"{self.source['path']}: {self.source['rows']} rows ({self.source['format']})"]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f.text for f in self.findings]
        return "\n".join(lines)


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


# ------------------------------------------------------------------------------------------------ context


@dataclass
class Context:
    log: RunLog
    x: np.ndarray
    series: dict[str, Series]
    falls: dict[str, list[Fall]]
    events: list[Event]
    shape: ScheduleShape
    drops: list[Drop]
    stages: list[Stage]
    primary: str | None
    spec: str | None = None

    def where(self, row: int | None) -> str:
        return where(self.log, self.x, row)

    @property
    def unit(self) -> str:
        return {"epoch": "epoch", "step": "step"}.get(_axis(self.log), "row")


def _axis(log: RunLog) -> str:
    if log.x_name == "row":
        return "row"
    if log.roles.get("epoch") == log.x_name:
        return "epoch"
    if log.roles.get("step") == log.x_name:
        return "step"
    return log.x_name


def where(log: RunLog, x: np.ndarray, row: int | None) -> str:
    if row is None:
        return "?"
    axis = _axis(log)
    label = {"epoch": "epoch", "step": "step", "row": "row"}.get(axis, axis)
    value = row if axis == "row" else x[row]
    text = f"{label} {_fmt_x(value)}"
    ep = log.roles.get("epoch")
    if axis != "epoch" and ep and ep in log.columns and np.isfinite(log.columns[ep][row]):
        text += f" (epoch {_fmt_x(log.columns[ep][row])})"
    return text


def _fmt_x(v) -> str:
    v = float(v)
    return f"{v:.0f}" if v == round(v) else f"{v:.3g}"


def fmt(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "?"
    return f"{v:.3g}"


METRIC_WORDS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
}


def metric_word(ctx: Context, role: str) -> str:
    s = ctx.series.get(role)
    if s is not None and role.endswith("acc") and s.lower_is_better:
        return "training error" if role == "train_acc" else "validation error"
    return METRIC_WORDS[role]


def value_word(s: Series, v: float, digits: int = 1) -> str:
    if s.role.endswith("acc"):
        return f"{v:.{digits}f}%" if s.percent else (f"{100 * v:.{digits}f}%" if abs(v) <= 1 else fmt(v))
    return fmt(v) if digits == 1 else f"{v:.{digits + 2}g}"


def pair_words(s: Series, a: float, b: float) -> str:
    """'a -> b', with more digits when the short forms would read the same."""
    for digits in (1, 2, 3):
        left, right = value_word(s, a, digits), value_word(s, b, digits)
        if left != right:
            break
    return f"{left} -> {right}"


# ------------------------------------------------------------------------------------------------ pipeline


def explain(runlog: RunLog, schedule: str | None = None) -> Explanation:
    """Explain a run (see module docstring)."""
    if schedule is not None:
        # a bad spec is an error even where the log's own lr column means it would not be used
        from ..schedules import parse_schedule

        parse_schedule(schedule)
    # hostile logs (1e308, inf, columns with one finite value) make NumPy warn about overflow or empty slices;
    # the results are checked for finiteness where they are used, so the user sees findings, not NumPy noise
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _explain(runlog, schedule)


def _explain(runlog: RunLog, schedule: str | None) -> Explanation:
    log = runlog
    x = log.x
    all_series = {r: s for r in log.metrics() if (s := series(log, r)) is not None}
    if not all_series:
        from ..errors import UserError

        raise UserError(f"{log.path}: no finite values in the loss or accuracy columns")
    falls = {r: find_falls(s) for r, s in all_series.items()}
    primary = next((r for r in ("train_loss", "val_loss", "train_acc", "val_acc") if r in all_series), None)
    spacing = _row_spacing(all_series.get(primary))
    tol = max(2, 2 * spacing)
    events: list[Event]
    shape = ScheduleShape("unknown")
    lr = log.role("lr")
    if lr is not None:
        lr_f = filled_lr(lr)
        events, shape = logged_events(lr_f, x)
    elif schedule:
        events, _ = schedule_events(schedule, x)
        shape = ScheduleShape("step" if events else "unknown")
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
    return Explanation(source, events, drops, stages, findings, shape, list(log.notes))


def _row_spacing(s: Series | None) -> int:
    if s is None or len(s) < 2:
        return 1
    _, _, b = bin_medians(s.rows, s.g)
    gap = int(np.median(np.diff(s.rows))) if len(s) > 1 else 1
    return max(1, b * gap)


def _drops(log, x, all_series, falls, events, tol) -> list[Drop]:
    drops: list[Drop] = []
    used: set[tuple[str, int]] = set()
    rows = [e.row for e in events]
    for i, e in enumerate(events):
        if not e.decay:
            continue
        prev_row = rows[i - 1] if i > 0 else None
        next_row = rows[i + 1] if i + 1 < len(rows) else None
        for role, s in all_series.items():
            spacing = int(np.median(np.diff(s.rows))) if len(s) > 1 else 1
            t = max(tol, 2 * spacing)
            match = [f for f in falls[role] if abs(f.row - e.row) <= t and (role, f.row) not in used]
            row = e.row
            if match:
                f = min(match, key=lambda f: abs(f.row - e.row))
                used.add((role, f.row))
                row = f.row
            measured = drop_at(s, row, limit_before=prev_row, limit_after=next_row)
            if measured is None:
                continue
            before, after, first = measured
            rel = relative_gain(before, after, s.lower_is_better)
            drops.append(Drop(role, first, float(x[first]), before, after, rel, i, bool(match)))
    for role, fs in falls.items():
        s = all_series[role]
        for f in fs:
            if (role, f.row) in used:
                continue
            measured = drop_at(s, f.row)
            if measured is None:
                continue
            before, after, first = measured
            drops.append(
                Drop(
                    role,
                    first,
                    float(x[first]),
                    before,
                    after,
                    relative_gain(before, after, s.lower_is_better),
                    None,
                    True,
                )
            )
    drops.sort(key=lambda d: (d.row, d.metric))
    return drops


def _stages(log, s, events, shape, lr) -> list[Stage]:
    bounds = [e.row for e in events]
    out = []
    lr_f = filled_lr(lr) if lr is not None else None
    for k, (first, last) in enumerate(split_stages(log.rows, bounds)):
        plateaued, tail, needed, judged, (start, end) = judge_stage(s, first, last)
        rate = None
        if lr_f is not None and shape.kind in ("step", "constant"):
            seg = lr_f[first : last + 1]
            seg = seg[np.isfinite(seg)]
            rate = float(np.median(seg)) if len(seg) else None
        elif events and k > 0 and events[k - 1].lr_after is not None:
            rate = events[k - 1].lr_after
        elif events and k == 0 and events[0].lr_before is not None:
            rate = events[0].lr_before
        out.append(
            Stage(first, last, rate, plateaued, tail, s.role if s else None, needed, judged, start, end)
        )
    return out


# ------------------------------------------------------------------------------------------------ findings


def schedule_finding(ctx: Context) -> list[Finding]:
    sh, evs = ctx.shape, ctx.events
    if ctx.log.has("lr"):
        if sh.kind == "constant":
            return [
                Finding(
                    "schedule",
                    None,
                    f"The learning rate stayed at {fmt(sh.lr_first)} for all {ctx.log.rows} rows.",
                )
            ]
        if sh.kind == "smooth":
            if sh.warmup_rows:
                shape = (
                    f"warm-up over {sh.warmup_rows} {ctx.unit}s from {fmt(sh.lr_first)} to {fmt(sh.lr_max)}, "
                    f"then down to {fmt(sh.lr_last)}"
                )
            else:
                shape = f"from {fmt(sh.lr_first)} to {fmt(sh.lr_last)}"
            return [
                Finding(
                    "smooth_schedule",
                    None,
                    f"The learning rate follows a smooth schedule ({shape}, changing a little on "
                    f"{sh.changes} rows): there is no step change, so no drop is blamed on one.",
                )
            ]
        parts = []
        for e in evs:
            verb = "cut" if e.decay else "raised"
            f = e.factor
            size = ""
            if f:
                size = f" {f:.3g}x" if e.decay else f" {1 / f:.3g}x"
            parts.append(f"{verb}{size} at {ctx.where(e.row)} ({fmt(e.lr_before)} -> {fmt(e.lr_after)})")
        lead = f"The learning rate started at {fmt(sh.lr_first)} and was " + "; ".join(parts) + "."
        if sh.warmup_rows:
            lead += f" It warmed up over the first {sh.warmup_rows} {ctx.unit}s."
        if sh.kind == "mixed":
            lead += " Between these steps it also changes smoothly."
        return [Finding("schedule", None, lead)]
    if ctx.spec:
        return [
            Finding(
                "schedule",
                None,
                f"The log has no learning-rate column; the schedule {ctx.spec!r} puts "
                f"{len(evs)} change(s) in this run.",
            )
        ]
    if not evs:
        return []
    where_ = ", ".join(f"{ctx.where(e.row)} (confidence {e.confidence:.2f})" for e in evs)
    return [
        Finding(
            "schedule",
            None,
            f"The log has no learning-rate column. From sharp falls that several curves make together, the "
            f"rate was most likely cut at {where_}.",
        )
    ]


def drop_findings(ctx: Context) -> list[Finding]:
    out = []
    for i, e in enumerate(ctx.events):
        if not e.decay:
            continue
        ds = {d.metric: d for d in ctx.drops if d.event == i}
        if not ds:
            continue
        unit = "epoch" if ctx.unit == "epoch" else "rows"
        if e.source == "inferred":
            cause = f"at {ctx.where(e.row)}, where the rate was most likely cut"
        elif e.lr_before is not None:
            cause = (
                f"in the {unit} after the LR went from {fmt(e.lr_before)} to {fmt(e.lr_after)} at "
                f"{ctx.where(e.row)}"
            )
        else:
            cause = f"in the {unit} after the rate change at {ctx.where(e.row)}"
        main = ds.get(ctx.primary) or next(iter(ds.values()))
        s = ctx.series[main.metric]
        if main.relative > 0.02:
            verb = "fell" if s.lower_is_better else "rose"
            head = (
                f"The {metric_word(ctx, main.metric)} {verb} {abs(main.relative):.0%} "
                f"({pair_words(s, main.before, main.after)}) {cause}"
            )
        else:
            head = (
                f"The {metric_word(ctx, main.metric)} barely moved "
                f"({pair_words(s, main.before, main.after)}) "
                f"{cause.replace('in the ' + unit + ' after', 'after')}"
            )
        others = []
        for role, d in ds.items():
            if d is main:
                continue
            so = ctx.series[role]
            pair = pair_words(so, d.before, d.after)
            if len(set(pair.split(" -> "))) == 1:  # unchanged at the digits shown: "held at", not "fell"
                others.append(f"the {metric_word(ctx, role)} held at {value_word(so, d.after)}")
                continue
            better = d.relative > 0
            word = (
                ("fell" if so.lower_is_better else "rose")
                if better
                else ("rose" if so.lower_is_better else "fell")
            )
            others.append(f"the {metric_word(ctx, role)} {word} {pair}")
        text = head + ("; " + ", ".join(others) if others else "") + "."
        if main.relative > 0.1:
            text += (
                " A lower rate shrinks the noise of each update, so the loss can settle below the floor "
                "the higher rate held it at."
            )
        out.append(Finding("drop", main.row, text))
    return out


def unexplained_findings(ctx: Context) -> list[Finding]:
    out = []
    for d in ctx.drops:
        if d.event is not None or d.metric not in ctx.series:
            continue
        s = ctx.series[d.metric]
        if abs(d.relative) < 0.05:
            continue
        verb = "fell" if s.lower_is_better else "rose"
        why = (
            "The schedule is smooth, so this is the curve itself (not a step change)"
            if ctx.shape.kind == "smooth"
            else "No learning-rate change is near it"
        )
        out.append(
            Finding(
                "unexplained_drop",
                d.row,
                f"The {metric_word(ctx, d.metric)} {verb} sharply at {ctx.where(d.row)} "
                f"({value_word(s, d.before)} -> {value_word(s, d.after)}). {why}.",
            )
        )
    return out


def stage_findings(ctx: Context) -> list[Finding]:
    out = []
    n = len(ctx.stages)
    if ctx.shape.kind == "smooth" or ctx.primary is None:
        return out
    word = metric_word(ctx, ctx.primary)
    for k, st in enumerate(ctx.stages):
        span = f"{ctx.where(st.first_row)}-{_fmt_x(ctx.x[st.last_row]) if ctx.unit != 'row' else st.last_row}"
        rate = f", LR {fmt(st.lr)}" if st.lr is not None else ""
        label = f"Stage {k + 1} ({span}{rate})"
        if not st.judged:
            out.append(Finding("stage", st.first_row, f"{label} is too short to judge."))
            continue
        per = f"{abs(st.tail_change):.2%} per {ctx.unit}"
        signed = f"{st.tail_change:+.2%} per {ctx.unit}"
        last = k == n - 1
        if st.plateaued:
            if last:
                text = (
                    f"{label} has plateaued: the {word} changes {signed} at the end, within its noise. More "
                    f"{ctx.unit}s at this rate would gain little; a further decay (or stopping) "
                    "is the next move."
                )
            else:
                text = (
                    f"{label} had plateaued before the next change ({word} changing {signed} over its tail): "
                    f"it was long enough."
                )
        else:
            more = ""
            if st.rows_to_flatten is not None:
                more = f" It would have needed about {st.rows_to_flatten:.0f} more {ctx.unit}s to flatten."
            else:
                more = " It showed no sign of slowing down."
            if last:
                text = (
                    f"{label} is still improving: the {word} falls {per} at the end. Training longer at this "
                    f"rate would help.{more.replace('would have needed', 'needs')}"
                )
            else:
                text = (
                    f"{label} was still falling when the rate changed ({word} falling {per}): the decay came "
                    f"early, so a smaller gain than a plateaued stage would give is to be expected.{more}"
                )
        out.append(Finding("stage", st.first_row, text))
    return out


def no_decay_finding(ctx: Context) -> list[Finding]:
    if any(e.decay for e in ctx.events):
        return []
    st = ctx.stages[-1] if ctx.stages else None
    trend = ""
    if st is not None and st.judged and ctx.primary:
        word = metric_word(ctx, ctx.primary)
        trend = (
            f" The {word} is still falling ({abs(st.tail_change):.2%} per {ctx.unit}), so this stage is not "
            f"finished; when it flattens, a tenfold decay typically gives a sharp drop."
            if not st.plateaued
            else f" The {word} has flattened: a decay now (say tenfold) would typically give a sharp drop."
        )
    if ctx.shape.kind == "smooth":
        return []
    if ctx.log.has("lr"):
        text = (
            f"No learning-rate decay has happened yet: the rate stayed at {fmt(ctx.shape.lr_first)} for all "
            f"{ctx.log.rows} rows, so there is no drop to explain.{trend}"
        )
    else:
        text = (
            "No learning-rate decay was found: the log has no learning-rate column and the curves show no "
            f"sharp fall that several metrics make together.{trend}"
        )
    return [Finding("no_decay", None, text)]


def smooth_findings(ctx: Context) -> list[Finding]:
    if ctx.shape.kind != "smooth" or ctx.primary is None:
        return []
    s = ctx.series[ctx.primary]
    n = len(s)
    if n < 8:
        return []
    q = n // 4
    total = s.g[:3].mean() - s.g[-3:].mean()
    late = s.g[-q - 2 : -q + 1].mean() - s.g[-3:].mean() if q >= 2 else 0.0
    word = metric_word(ctx, ctx.primary)
    text = (
        f"The {word} went from {value_word(s, float(np.median(s.y[:3])))} to "
        f"{value_word(s, float(np.median(s.y[-3:])))} without a step."
    )
    if total > 0 and late / total > 0.35:
        text += (
            f" A large share of the gain ({late / total:.0%} on a log scale) came in the last quarter, "
            "as the "
            f"rate annealed: the usual payoff of a decaying schedule."
        )
    st = ctx.stages[-1] if ctx.stages else None
    if st is not None and st.judged:
        text += (
            " It has flattened at the end."
            if st.plateaued
            else f" It is still falling at the end ({abs(st.tail_change):.2%} per {ctx.unit})."
        )
    return [Finding("smooth_curve", None, text)]


def overfit_findings(ctx: Context) -> list[Finding]:
    """Validation getting worse while training keeps improving, in each stage after a decay (or in the whole
    run
    when there was none)."""
    v = ctx.series.get("val_loss") or ctx.series.get("val_acc")
    t = ctx.series.get("train_loss") or ctx.series.get("train_acc")
    if v is None or t is None or len(v) < 8:
        return []
    decays = [e.row for e in ctx.events if e.decay]
    starts = decays or [0]
    out = []
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else ctx.log.rows
        f = _overfit_segment(ctx, v, t, start, stop, bool(decays))
        if f is not None:
            out.append(f)
    return out


def _overfit_segment(ctx: Context, v: Series, t: Series, start: int, stop: int, after_decay: bool):
    k0, k1 = int(np.searchsorted(v.rows, start)), int(np.searchsorted(v.rows, stop))
    if k1 - k0 < 6:
        return None
    gv = v.g[k0:k1]
    best = int(np.argmin(gv))
    best_row = int(v.rows[k0 + best])
    end_g = float(np.median(gv[-3:]))
    worse = end_g - float(gv[best])
    if best >= len(gv) - 3 or worse < np.log(1.05):
        return None
    kt_best = int(np.searchsorted(t.rows, best_row))
    kt_end = int(np.searchsorted(t.rows, stop)) - 1
    if kt_best >= kt_end - 1:
        return None
    t_best = float(np.median(t.g[max(0, kt_best - 1) : kt_best + 2]))
    t_end = float(np.median(t.g[max(kt_best, kt_end - 2) : kt_end + 1]))
    if t_end >= t_best - 0.02:
        return None
    vw, tw = metric_word(ctx, v.role), metric_word(ctx, t.role)
    lead = f"After the decay at {ctx.where(start)}, the" if after_decay else "The"
    end_row = int(v.rows[k1 - 1])
    text = (
        f"{lead} {vw} was best at {ctx.where(best_row)} ({value_word(v, float(v.y[k0 + best]))}) and then "
        f"got worse ({value_word(v, float(np.median(v.y[k1 - 3 : k1])))} by {ctx.where(end_row)}) "
        f"while the {tw} "
        f"kept improving ({pair_words(t, float(t.y[kt_best]), float(t.y[kt_end]))}): "
        "the model is overfitting "
        f"at this rate. Keep the checkpoint from {ctx.where(best_row)}, decay or stop sooner, or add "
        f"regularisation."
    )
    return Finding("overfitting", best_row, text)


def noise_findings(ctx: Context) -> list[Finding]:
    """The noise floor (issue 5, :func:`lrscope.analysis.floor.noise_findings`): at each decay the drop that
    (lr1 - lr2) tr(Sigma) / (4 B (1 - momentum)) predicts next to the observed one, and for the last stage
    what a tenfold decay now would gain.  Needs the ``noise_trace`` column (``--noise-every``) and the run's
    batch size (config.json); without them there is nothing to say.  The numbers are in the sentences.
    """
    if "noise_trace" not in ctx.log.columns:
        return []
    from .floor import noise_findings as floor_findings  # NumPy only, like this module

    decays = [e for e in ctx.events if e.decay and e.lr_before is not None]
    try:
        found = floor_findings(ctx.log, decays or None)
    except (TypeError, ValueError):  # a hand-written config.json with a non-numeric batch size or momentum
        return []
    return [Finding(f["kind"], f.get("row"), f["text"]) for f in found]


PRODUCERS = [
    schedule_finding,
    drop_findings,
    unexplained_findings,
    stage_findings,
    smooth_findings,
    no_decay_finding,
    overfit_findings,
    noise_findings,
]


def register_producer(producer) -> None:
    """Add a findings producer ``f(ctx: Context) -> list[Finding]`` (run after the built-in ones)."""
    if producer not in PRODUCERS:
        PRODUCERS.append(producer)


# ------------------------------------------------------------------------------------------------ run dirs


def explain_path(
    path,
    schedule: str | None = None,
    format: str | None = None,
    lr: str | None = None,
    loss: str | None = None,
    x: str | None = None,
    max_bytes: int | None = 2 * 1024**3,  # lrscope.logs.read.DEFAULT_MAX_BYTES
) -> Explanation:
    """Read a log (file, directory, run, or ``-`` for standard input) and explain it; for a run directory also
    write explain.json.

    ``format`` must match what ``path`` holds; ``max_bytes`` caps a text log's size (2 GiB; None: no cap).
    The log read stays on the result as ``result.log`` (for the plot; not in its JSON).
    """
    from ..logs import rundir
    from ..logs.read import STDIN, read_log

    log = read_log(path, format=format, lr=lr, loss=loss, x=x, max_bytes=max_bytes)
    result = explain(log, schedule=schedule)
    result.log = log
    if str(path) != STDIN and Path(path).is_dir() and rundir.is_run_dir(path):
        from ..atomic import write_json

        write_json(Path(path) / rundir.EXPLAIN, result.to_json())
    return result


def explain_run(run_dir) -> Explanation:
    """Explain an lrscope run directory and write RUN/explain.json (atomically); used by ``lrscope demo``."""
    from ..logs import rundir

    run_dir = rundir.require_run_dir(run_dir)
    config = rundir.read_config(run_dir)
    log_result = explain_path(run_dir)
    del config
    return log_result
