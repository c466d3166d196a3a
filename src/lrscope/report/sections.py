"""The report's sections in reading order, and those drawn from what the run recorded: its configuration, its
schedule, its loss and accuracy curves, and several runs compared.

Each section builder takes results already read (:mod:`lrscope.report.read`) and the list of what is missing;
it returns a :class:`Section`, or None (and says in ``missing`` which command would produce it).
"""

from __future__ import annotations

import html

import numpy as np

from ..logs.rundir import CONFIG
from ..schedules import parse_schedule
from ..viz.log_figures import accuracy_figure, loss_rate_figure
from ..viz.report_figures import curves_figure, rate_figure
from ..viz.schedule import schedule_figure
from ..viz.svg import to_svg
from .explanation_section import explanation_section, forecast_section
from .probe_sections import compare_section, finder_section, landscape_section, noise_section
from .read import DirectoryResults, RunResults
from .section import Section, guarded
from .text import fmt

MAX_SCHEDULE_T = 20_000  # values of t the schedule figure evaluates at most (a config may plan 10**7 epochs)


def run_sections(run: RunResults, missing: list[str]) -> list[Section]:
    """Every section this run has, in reading order (its range test and comparison when read with it)."""
    parts = [
        schedule_section(run, missing),
        curves_section(run, missing),
        explanation_section(run, missing),
        forecast_section(run, missing),
        noise_section(run, missing),
        finder_section(run.finder, missing) if run.finder is not None else None,
        compare_section(run.compare, missing) if run.compare is not None else None,
        landscape_section(run, missing),
    ]
    return [p for p in parts if p is not None]


def top_sections(directory: DirectoryResults, missing: list[str]) -> list[Section]:
    """The sections above a directory's runs: the runs compared (when more than one), its range test and its
    comparison of schedules."""
    top = [comparison_section(directory.runs)] if len(directory.runs) > 1 else []
    finder = finder_section(directory.finder, missing)
    compare = compare_section(directory.compare, missing)
    return top + [s for s in (finder, compare) if s is not None]


def _config_rows(doc: dict) -> dict[str, str]:
    rows = {k: fmt(v) for k, v in doc.items() if not isinstance(v, dict) and k != "schema"}
    for k, v in doc.items():
        if isinstance(v, dict):
            rows.update({f"{k}.{kk}": fmt(vv) for kk, vv in v.items()})
    return rows


@guarded("config", "Configuration")
def config_section(runs: list[RunResults], missing: list[str]) -> Section | None:
    """Every run's config.json in one folded table at the end of the page: a column a run, one row a setting
    (reference for rerunning, not reading, so it is shown closed)."""
    named = len(runs) > 1
    notes, columns = [], []
    for run in runs:
        config = run.config
        who = f"{run.name}: " if named else ""
        if config.error is not None:
            notes.append(who + config.error)
        elif config.doc is None:
            missing.append(f"{who}configuration: no {CONFIG} (runs written by lrscope train or the Recorder have one)")
        elif not isinstance(config.doc, dict):
            notes.append(f"{who}{CONFIG} is not a JSON object")
        else:
            columns.append((run.name, _config_rows(config.doc)))
    if not columns:
        return Section("config", "Configuration", notes=notes, folded=True) if notes else None
    keys = list(dict.fromkeys(k for _, rows in columns for k in rows))
    table = {
        "caption": "",
        "head": ["setting"] + ([name for name, _ in columns] if named else ["value"]),
        "rows": [[k] + [rows.get(k, "–") for _, rows in columns] for k in keys],
    }
    lead = f"Everything needed to rerun {'each run' if named else 'this run'}, from its {CONFIG}."
    return Section("config", "Configuration", lead=lead, tables=[table], notes=notes, folded=True)


@guarded("schedule", "Learning-rate schedule")
def schedule_section(run: RunResults, missing: list[str]) -> Section | None:
    config = run.config_dict
    spec = config.get("schedule")
    epochs = run.epochs
    notes = []
    if isinstance(spec, str) and spec.strip():
        try:
            schedule = parse_schedule(spec)
            unit = config.get("step_unit", "epoch")
            if unit == "step":
                steps_col = epochs.get("step")
                total = (
                    int(np.nanmax(steps_col))
                    if steps_col is not None and np.isfinite(steps_col).any()
                    else None
                )
            else:
                total = int(config.get("epochs") or (len(epochs.get("lr", [])) or 0))
            total, over_what = _schedule_span(total, epochs, unit)
            if total and total > 1:
                svg = _schedule_svg(schedule, total, unit, spec)
                lead = (
                    f"The schedule <code>{html.escape(spec)}</code>, stepped once per "
                    f"{html.escape(str(unit))}, "
                    f"over {over_what}: the learning rate the optimizer used at each t."
                )
                return Section("schedule", "Learning-rate schedule", lead=lead, figures=[svg])
        except Exception as error:  # noqa: BLE001 - fall back to the logged rate
            notes.append(f"the schedule spec {spec!r} could not be drawn ({error}); showing the logged rate")
    if "lr" in epochs and np.isfinite(epochs["lr"]).any():
        x = epochs.get("epoch", np.arange(1, len(epochs["lr"]) + 1))
        svg = to_svg(rate_figure(x, epochs["lr"], xlabel="epoch"))
        return Section(
            "schedule",
            "Learning-rate schedule",
            lead="The learning rate logged at each epoch.",
            figures=[svg],
            notes=notes,
        )
    missing.append("schedule: no schedule spec in config.json and no learning rate in metrics.jsonl")
    return None


def _schedule_span(planned: int, epochs: dict, unit: str) -> tuple[int, str]:
    """How many values of t to draw the schedule over, and the words for it.

    The planned length (config.json's epochs, or the last step logged) when it is at most
    :data:`MAX_SCHEDULE_T`; beyond, the part the records cover (a config.json that says 10**7 epochs must not
    make a report evaluate and draw 10**7 points), and when even that is longer, the figure is decimated.
    """
    unit = html.escape(str(unit))
    if planned <= MAX_SCHEDULE_T:
        return planned, f"{planned} {unit}s"
    key = "step" if unit == "step" else "epoch"
    logged = epochs.get(key)
    done = int(min(np.nanmax(logged), planned)) if logged is not None and np.isfinite(logged).any() else 0
    if 1 < done < planned:
        return done, f"the {done:,} {unit}s with records (of {planned:,} planned)"
    return planned, f"{planned:,} {unit}s"


def _schedule_svg(schedule, total: int, unit: str, spec: str) -> str:
    """The schedule over t = 0 .. total - 1: the schedule picture of ``lrscope schedule`` when that is at most
    :data:`MAX_SCHEDULE_T` values, else the rate at MAX_SCHEDULE_T evenly spaced t (whole numbers)."""
    if total <= MAX_SCHEDULE_T:
        return to_svg(schedule_figure(schedule, total, log_y=_positive(schedule, total)))
    t = np.unique(np.round(np.linspace(0, total - 1, MAX_SCHEDULE_T)))
    return to_svg(rate_figure(t, schedule(t), xlabel=f"{unit}s completed", title=spec))


def _positive(schedule, total: int) -> bool:
    lr = np.asarray(schedule(np.arange(min(total, MAX_SCHEDULE_T), dtype=float)), dtype=float)
    return bool(np.all(lr > 0) and lr.max() / lr.min() > 8)


@guarded("curves", "Loss and accuracy")
def curves_section(run: RunResults, missing: list[str]) -> Section | None:
    cols = run.epochs
    if not any(k in cols for k in ("train_loss", "val_loss", "val_acc")):
        missing.append("loss curves: no epoch records with losses in metrics.jsonl")
        return None
    figures = []
    if run.log is not None and any(run.log.role(r) is not None for r in ("train_loss", "val_loss")):
        figures.append(to_svg(loss_rate_figure(run.log, run.explanation)))
        accuracy = accuracy_figure(run.log, run.explanation)
        if accuracy is not None:
            figures.append(to_svg(accuracy))
    else:
        figures.append(to_svg(curves_figure([{"label": run.name, **cols}])))
    lead = (
        "Training and validation loss and accuracy per epoch, the learning rate below the loss; red dotted lines "
        "mark learning-rate decays and amber bands the sharp drops explain found."
    )
    table = _final_table([(run.name, cols)])
    return Section("curves", "Loss and accuracy", lead=lead, figures=figures, tables=[table])


def _final_table(runs: list[tuple[str, dict]]) -> dict:
    rows = []
    for name, cols in runs:

        def last(k, cols=cols):
            v = cols.get(k)
            return float(v[np.isfinite(v)][-1]) if v is not None and np.isfinite(v).any() else None

        def best(k, fn, cols=cols):
            v = cols.get(k)
            return float(fn(v[np.isfinite(v)])) if v is not None and np.isfinite(v).any() else None

        epochs = cols.get("epoch")
        n = int(np.nanmax(epochs)) if epochs is not None and np.isfinite(epochs).any() else None
        rows.append(
            [
                name,
                fmt(n),
                fmt(last("train_loss")),
                fmt(last("val_loss")),
                fmt(last("val_acc")),
                fmt(best("val_acc", np.max)),
                fmt(best("val_loss", np.min)),
            ]
        )
    return {
        "caption": "final and best values",
        "head": ["run", "epochs", "train loss", "val loss", "val acc", "best val acc", "best val loss"],
        "rows": rows,
    }


def comparison_section(runs: list[RunResults]) -> Section:
    """The runs side by side: one figure of every run's curves, and their final and best values."""
    data = [(run.name, run.epochs, run.config_dict.get("schedule", "")) for run in runs]
    svg = to_svg(curves_figure([{"label": name, **cols} for name, cols, _ in data if cols]))
    table = _final_table([(name, cols) for name, cols, _ in data])
    table["head"].insert(1, "schedule")
    for row, (_, _, spec) in zip(table["rows"], data, strict=False):
        row.insert(1, spec or "–")
    lead = (
        "The runs side by side at the same budget: loss and accuracy per epoch, each run's learning rate "
        "dotted in its colour on the right-hand axis."
    )
    return Section("comparison", "The runs compared", lead=lead, figures=[svg], tables=[table])
