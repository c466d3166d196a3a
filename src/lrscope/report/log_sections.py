"""The report's sections for a log that is not an lrscope run directory (CSV/TSV, TensorBoard, HF
trainer_state.json, Caffe, ...): what such a log supports.

- "Loss and learning rate": the losses above and the rate below, decays and sharp drops marked, with what was
  read (format, rows, x axis, the columns taken for each role) and the reader's notes;
- "Accuracy": accuracies or error rates, when the log has any;
- "Explanation" and "Forecast" (:mod:`lrscope.report.explanation_section`), as for a run directory;
- with several runs, "The runs compared" above them (:func:`runs_compared_section`).
"""

from __future__ import annotations

import numpy as np

from ..analysis.wording import unit_word
from ..viz.log_figures import accuracy_figure, loss_rate_figure, runs_figure
from ..viz.svg import to_svg
from .explanation_section import explanation_section, forecast_section
from .log_read import LogResults
from .section import Section, guarded
from .text import fmt

NO_PROBES = (
    "gradient noise, range test, landscape and configuration: a plain log has none of these (an lrscope run "
    "directory, written by `lrscope train` or the Recorder, has them)"
)


def log_sections(run: LogResults, missing: list[str]) -> list[Section]:
    """Every section a plain log supports, in reading order."""
    parts = [
        curves_section(run, missing),
        accuracy_section(run, missing),
        explanation_section(run, missing),
        forecast_section(run, missing),
    ]
    return [p for p in parts if p is not None]


def _read_what(run: LogResults) -> str:
    log = run.log
    roles = ", ".join(f"{role.replace('_', ' ')} = <code>{_escape(name)}</code>" for role, name in log.roles.items()
                      if role not in ("epoch", "step"))
    return (
        f"Read as {_escape(log.format)}: {log.rows} rows, x = {_escape(unit_word(log))}"
        + (f" (<code>{_escape(log.x_name)}</code>)" if log.x_name not in ("row", unit_word(log)) else "")
        + (f"; {roles}" if roles else "")
        + "."
    )


def _escape(text) -> str:
    import html

    return html.escape(str(text))


def _has_decays(run) -> bool:
    events = (run.explanation or {}).get("events") or []
    return any(isinstance(e, dict) and e.get("source") != "restart" for e in events)


@guarded("curves", "Loss and learning rate")
def curves_section(run: LogResults, missing: list[str]) -> Section | None:
    log = run.log
    if not any(log.role(r) is not None for r in ("train_loss", "val_loss", "lr")):
        return Section("curves", "Loss and learning rate", lead=_read_what(run), notes=list(log.notes)
                       + ["the log has no loss and no learning-rate column"])
    has_rate = log.role("lr") is not None and np.isfinite(log.role("lr")).any()
    lead = (
        ("The losses above and the learning rate below, against the same x; " if has_rate else
         "The losses (the log has no learning-rate column); ")
        + ("red dotted lines mark the learning-rate decays and amber bands the sharp drops explain tied to them. "
           if _has_decays(run) else "explain found no step change of the rate to mark. ")
        + _read_what(run)
    )
    if not has_rate:
        missing.append(f"{run.name}: learning rate: no rate column in the log (name it with `--lr` in "
                       "`lrscope explain`, or give `--schedule`)")
    figure = to_svg(loss_rate_figure(log, run.explanation))
    return Section("curves", "Loss and learning rate", lead=lead, figures=[figure], tables=[_final_table([run])],
                   notes=list(log.notes))


@guarded("accuracy", "Accuracy")
def accuracy_section(run: LogResults, missing: list[str]) -> Section | None:
    fig = accuracy_figure(run.log, run.explanation)
    if fig is None:
        return None
    return Section("accuracy", "Accuracy", lead="Accuracy (or error rate) with the same decays marked.",
                   figures=[to_svg(fig)])


def _last(log, role):
    v = log.role(role)
    return float(v[np.isfinite(v)][-1]) if v is not None and np.isfinite(v).any() else None


def _best(log, role):
    v = log.role(role)
    if v is None or not np.isfinite(v).any():
        return None
    lower = log.lower_is_better.get(log.roles[role], role.endswith("loss"))
    return float(np.nanmin(v) if lower else np.nanmax(v))


def _final_table(runs: list[LogResults]) -> dict:
    rows = []
    for run in runs:
        log = run.log
        x = log.x[np.isfinite(log.x)]
        rows.append([
            run.name,
            f"{unit_word(log)} {fmt(float(x[-1]))}" if x.size else "–",
            fmt(_last(log, "lr")),
            fmt(_last(log, "train_loss")),
            fmt(_last(log, "val_loss")),
            fmt(_best(log, "val_loss")),
            fmt(_last(log, "val_acc")),
            fmt(_best(log, "val_acc")),
        ])
    return {
        "caption": "final and best values",
        "head": ["run", "last", "final rate", "train loss", "val loss", "best val loss", "val acc (or error)",
                 "best val acc (or error)"],
        "rows": rows,
    }


@guarded("comparison", "The runs compared")
def runs_compared_section(runs: list, missing: list[str]) -> Section | None:
    """Several runs (logs or run directories: anything with ``name`` and ``log``) on shared axes, and their
    final and best values."""
    shown = [r for r in runs if getattr(r, "log", None) is not None]
    if len(shown) < 2:
        return None
    units = {unit_word(r.log) for r in shown}
    notes = [] if len(units) == 1 else [f"the runs count x in different units ({', '.join(sorted(units))}): "
                                        "each is drawn against its own"]
    svg = to_svg(runs_figure([r.log for r in shown], [r.name for r in shown]))
    lead = ("The runs side by side: each run's losses above (training solid, validation dashed) and its learning "
            "rate below, one colour a run.")
    return Section("comparison", "The runs compared", lead=lead, figures=[svg], tables=[_final_table(shown)],
                   notes=notes)
