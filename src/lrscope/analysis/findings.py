"""The findings of an explanation in plain words, from small producers ``f(ctx) -> list[Finding]`` run in
order (:data:`PRODUCERS`); other analyses add theirs with :func:`register_producer`."""

from __future__ import annotations

import numpy as np

from .explanation import Finding
from .smooth import Series
from .wording import Context, fmt, fmt_x, metric_word, pair_words, value_word


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
        span = f"{ctx.where(st.first_row)}-{fmt_x(ctx.x[st.last_row]) if ctx.unit != 'row' else st.last_row}"
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
    """The noise floor (:mod:`lrscope.analysis.noise_floor`): at each decay the drop that
    (lr1 - lr2) tr(Sigma) / (4 B (1 - momentum)) predicts next to the observed one, and for the last stage
    what a tenfold decay now would gain.  Needs the ``noise_trace`` column (``--noise-every``) and the run's
    batch size (config.json); without them there is nothing to say.  The numbers are in the sentences.
    """
    if "noise_trace" not in ctx.log.columns:
        return []
    from .noise_floor import noise_findings as floor_findings  # NumPy only, like this module

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
