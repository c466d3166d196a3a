"""One self-contained HTML page per run (or per demo directory) from the result files that exist.

    build_report("runs/digits")                # -> runs/digits/report.html
    build_report("lrscope-demo")               # a demo directory: both runs, compared side by side
    write_demo_report("lrscope-demo")          # what `lrscope demo` calls at its end

Every section reads one kind of result file written by another command (config.json, metrics.jsonl,
explain.json, finder.json, compare.json, probes/*.json and *.npz).  A section whose file is absent is left out
and listed at the end with the command that would produce it; a file that cannot be read or drawn gives a
short note in its section, never an error: a report is always written.  The page has no external requests: CSS
is inline, figures are inline SVG (Matplotlib's SVG output), and nothing is fetched.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..errors import UserError
from ..logs.read import DEFAULT_MAX_BYTES, check_file, is_regular_file, run_metrics, sort_columns
from ..logs.rundir import CONFIG, EXPLAIN, METRICS, PROBES, REPORT, is_run_dir
from ..logs.runlog import path_label
from . import figures

TEMPLATE = "report.html.j2"
RUN_NAMES_IN_DEMO = ("step", "onecycle")
MAX_SCHEDULE_T = 20_000  # values of t the schedule figure evaluates at most (a config may plan 10**7 epochs)
JSON_MAX_BYTES = 256 * 1024**2  # a result file (config.json, explain.json, probes/*.json) larger is not read


@dataclass
class Section:
    """One block of the page: a heading, optional lead text, figures (SVG strings), tables and notes."""

    id: str
    title: str
    lead: str = ""
    figures: list[str] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)  # {"caption", "head": [...], "rows": [[...]]}
    items: list[str] = field(default_factory=list)  # bullet points (plain text)
    notes: list[str] = field(default_factory=list)  # small print: what could not be read


@dataclass
class RunView:
    name: str
    path: Path
    sections: list[Section]
    missing: list[str]


# ------------------------------------------------------------------------------------------------ reading


def _load_json(path: Path):
    """The JSON document at ``path``; None when absent; raises ValueError with the reason when unreadable.

    Only a regular file (a pipe or a device under a result's name is not opened) of at most
    :data:`JSON_MAX_BYTES`."""
    if not path.is_file():
        return None
    try:
        check_file(path, JSON_MAX_BYTES, what="a result file")
        return json.loads(path.read_text(encoding="utf-8"))
    except UserError as error:
        raise ValueError(str(error)) from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{name_of(path)} is not readable JSON ({error})") from None


def name_of(path: Path | str) -> str:
    """A file or run name as display text (a name that is not UTF-8 shows its bytes as \\xff)."""
    return path_label(Path(path).name)


def _num(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def fmt(value, digits: int = 4) -> str:
    """A number for people: 0.1, 2.3e-05, 1,024; text as it is; None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value == 0:
            return "0"
        if 1e-3 <= abs(value) < 1e5:
            return f"{value:.{digits}g}"
        return f"{value:.{max(digits - 2, 1)}e}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value) if len(value) <= 8 else f"[{len(value)} values]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v, digits)}" for k, v in list(value.items())[:8])
    return str(value)


_METRICS: dict = {}  # run -> run_metrics(run), for the one report being built (several sections read them)
_LIMIT = {"max_bytes": DEFAULT_MAX_BYTES}


def _metrics(run: Path) -> dict:
    key = str(run)
    if key not in _METRICS:
        _METRICS[key] = run_metrics(run, max_bytes=_LIMIT["max_bytes"])
    return _METRICS[key]


def _epoch_columns(run: Path) -> dict[str, np.ndarray]:
    """The run's epoch records as columns in epoch order."""
    return sort_columns(dict(_metrics(run)["epoch"]), "epoch")


def _step_columns(run: Path) -> dict[str, np.ndarray]:
    return dict(_metrics(run)["step"])


# ------------------------------------------------------------------------------------------------ sections


def _guard(section_id: str, title: str):
    """Decorator: a renderer that raises becomes a section holding one note, never a failed report."""

    def wrap(fn):
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - a report is always written
                return Section(
                    section_id,
                    title,
                    notes=[f"could not render this section: {type(error).__name__}: {error}"],
                )

        return inner

    return wrap


@_guard("config", "Configuration")
def config_section(run: Path, missing: list[str]) -> Section | None:
    try:
        config = _load_json(run / CONFIG)
    except ValueError as error:
        return Section("config", "Configuration", notes=[str(error)])
    if config is None:
        missing.append(f"configuration: no {CONFIG} (runs written by lrscope train or the Recorder have one)")
        return None
    if not isinstance(config, dict):
        return Section("config", "Configuration", notes=[f"{CONFIG} is not a JSON object"])
    rows = [[k, fmt(v)] for k, v in config.items() if not isinstance(v, dict) and k != "schema"]
    for k, v in config.items():
        if isinstance(v, dict):
            rows.extend([f"{k}.{kk}", fmt(vv)] for kk, vv in v.items())
    return Section(
        "config",
        "Configuration",
        lead="Everything needed to rerun this run, from its config.json.",
        tables=[{"caption": "", "head": ["setting", "value"], "rows": rows}],
    )


@_guard("schedule", "Learning-rate schedule")
def schedule_section(run: Path, missing: list[str]) -> Section | None:
    try:
        config = _load_json(run / CONFIG) or {}
    except ValueError:
        config = {}
    spec = config.get("schedule") if isinstance(config, dict) else None
    epochs = _epoch_columns(run)
    notes = []
    if isinstance(spec, str) and spec.strip():
        try:
            from ..schedules import parse_schedule

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
        svg = figures.schedule_figure(x, epochs["lr"], xlabel="epoch")
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
        try:
            from ..viz.schedule import schedule_figure as viz_schedule_figure

            return figures.to_svg(viz_schedule_figure(schedule, total, log_y=_positive(schedule, total)))
        except ImportError:
            t = np.arange(total, dtype=float)
    else:
        t = np.unique(np.round(np.linspace(0, total - 1, MAX_SCHEDULE_T)))
    return figures.schedule_figure(t, schedule(t), xlabel=f"{unit}s completed", title=spec)


def _positive(schedule, total: int) -> bool:
    lr = np.asarray(schedule(np.arange(min(total, MAX_SCHEDULE_T), dtype=float)), dtype=float)
    return bool(np.all(lr > 0) and lr.max() / lr.min() > 8)


def _explain_doc(run: Path) -> tuple[dict | None, list[str]]:
    """explain.json, or an explanation computed now when lrscope.analysis.explain can do it."""
    try:
        doc = _load_json(run / EXPLAIN)
    except ValueError as error:
        return None, [str(error)]
    if isinstance(doc, dict):
        return doc, []
    try:
        from ..analysis import explain as explain_mod
    except ImportError:
        return None, []
    for name in ("explain_run", "explain"):
        fn = getattr(explain_mod, name, None)
        if fn is None:
            continue
        try:
            result = fn(run)
            doc = result.to_json() if hasattr(result, "to_json") else result
            if isinstance(doc, dict):
                return doc, ["computed for this report (no explain.json in the run)"]
        except Exception as error:  # noqa: BLE001
            return None, [f"explain could not read this run ({error})"]
    return None, []


@_guard("curves", "Loss and accuracy")
def curves_section(run: Path, missing: list[str], explain_doc: dict | None = None) -> Section | None:
    cols = _epoch_columns(run)
    if not any(k in cols for k in ("train_loss", "val_loss", "val_acc")):
        missing.append("loss curves: no epoch records with losses in metrics.jsonl")
        return None
    shade, marks = [], []
    if isinstance(explain_doc, dict):
        x = cols.get("epoch")
        for drop in explain_doc.get("drops") or []:
            dx = _num(drop.get("x")) if isinstance(drop, dict) else None
            if dx is not None:
                shade.append((dx - 1.0, dx + 0.5))
        for event in explain_doc.get("events") or []:
            ex = _num(event.get("x")) if isinstance(event, dict) else None
            if ex is not None and x is not None:
                marks.append(ex - 0.5)
    svg = figures.curves_figure([{"label": name_of(run), **cols}], shade=shade, marks=marks)
    lead = (
        "Training and validation loss and accuracy per epoch, the learning rate dashed on the right-hand axis"
        + (
            "; red dotted lines mark learning-rate changes and amber bands the sharp drops explain found."
            if shade or marks
            else "."
        )
    )
    table = _final_table([(name_of(run), cols)])
    return Section("curves", "Loss and accuracy", lead=lead, figures=[svg], tables=[table])


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


@_guard("explanation", "Explanation")
def explanation_section(run: Path, missing: list[str], doc: dict | None, notes: list[str]) -> Section | None:
    if doc is None:
        if notes:
            return Section("explanation", "Explanation", notes=notes)
        missing.append(f"explanation: no {EXPLAIN} (run `lrscope explain {path_label(run)}`)")
        return None
    items = [str(f.get("text")) for f in doc.get("findings") or [] if isinstance(f, dict) and f.get("text")]
    tables = []
    events = [e for e in doc.get("events") or [] if isinstance(e, dict)]
    if events:
        tables.append(
            {
                "caption": "learning-rate changes",
                "head": ["at", "rate before", "rate after", "source", "confidence"],
                "rows": [
                    [
                        fmt(e.get("x")),
                        fmt(e.get("lr_before")),
                        fmt(e.get("lr_after")),
                        fmt(e.get("source")),
                        fmt(e.get("confidence"), 2),
                    ]
                    for e in events
                ],
            }
        )
    drops = [d for d in doc.get("drops") or [] if isinstance(d, dict)]
    if drops:

        def cause(d):
            i = d.get("event")
            if isinstance(i, int) and 0 <= i < len(events):
                return f"rate change at {fmt(events[i].get('x'))}"
            return "unexplained"

        tables.append(
            {
                "caption": "sharp drops",
                "head": ["metric", "at", "before", "after", "relative", "caused by"],
                "rows": [
                    [
                        fmt(d.get("metric")),
                        fmt(d.get("x")),
                        fmt(d.get("before")),
                        fmt(d.get("after")),
                        _pct(d.get("relative")),
                        cause(d),
                    ]
                    for d in drops
                ],
            }
        )
    stages = [s for s in doc.get("stages") or [] if isinstance(s, dict)]
    if stages:
        tables.append(
            {
                "caption": "stages at a constant rate",
                "head": ["rows", "rate", "verdict", "tail change"],
                "rows": [
                    [
                        f"{fmt(s.get('first_row'))}–{fmt(s.get('last_row'))}",
                        fmt(s.get("lr")),
                        "plateaued" if s.get("plateaued") else "still falling when it ended",
                        fmt(s.get("tail_change")),
                    ]
                    for s in stages
                ],
            }
        )
    lead = (
        "What the curves did and why: each sharp drop tied to the learning-rate change that explains it, and "
        "for each stage at a constant rate, whether it had flattened out before the next decay."
    )
    if not (items or tables):
        notes = notes + ["the explanation is empty: no rate changes, drops or stages were found"]
    return Section("explanation", "Explanation", lead=lead, items=items, tables=tables, notes=notes)


def _pct(value) -> str:
    v = _num(value)
    return "–" if v is None else f"{100 * v:.1f} %"


@_guard("noise", "Gradient noise and drop predictions")
def noise_section(run: Path, missing: list[str]) -> Section | None:
    steps = _step_columns(run)
    rows = len(next(iter(steps.values()))) if steps else 0
    noisy = np.zeros(rows, dtype=bool)
    for key in ("noise_trace", "b_simple"):
        if key in steps:
            noisy |= np.isfinite(steps[key])
    figs, tables, notes = [], [], []
    if noisy.any():
        cols = {
            k: steps[k][noisy]
            for k in ("step", "noise_trace", "grad_sq", "b_simple", "lr")
            if k in steps and np.isfinite(steps[k][noisy]).any()
        }
        x = cols.get("step", np.arange(int(noisy.sum()), dtype=float))
        series = {k: cols[k] for k in ("noise_trace", "grad_sq") if k in cols}
        names = {"noise_trace": "tr(Σ)", "grad_sq": "|G|²"}
        figs.append(
            figures.series_figure(
                x,
                {names[k]: v for k, v in series.items()},
                xlabel="step",
                ylabel="gradient noise",
                lr=cols.get("lr"),
            )
        )
        if "b_simple" in cols:
            figs.append(
                figures.series_figure(
                    x,
                    {"B_simple = tr(Σ)/|G|²": cols["b_simple"]},
                    xlabel="step",
                    ylabel="simple noise scale",
                    lr=cols.get("lr"),
                )
            )
    predictions, whatifs = [], []
    for path in sorted((run / PROBES).glob("*.json")) if (run / PROBES).is_dir() else []:
        try:
            doc = _load_json(path)
        except ValueError as error:
            notes.append(str(error))
            continue
        kind = _kind(doc, path)
        if kind == "predict":
            predictions.append(doc)
        elif kind == "whatif":
            whatifs.append(doc)
    if predictions:
        tables.append(
            {
                "caption": "predicted drops (noise floor: ΔL = (α₁ − α₂) tr(Σ) / (4B(1 − β)))",
                "head": ["epoch", "rate", "loss now", "predicted drop", "band", "predicted after"],
                "rows": [
                    [
                        fmt(p.get("epoch")),
                        f"{fmt(p.get('lr_from'))} → {fmt(p.get('lr_to'))}",
                        fmt(p.get("loss_now")),
                        fmt(p.get("predicted_drop")),
                        fmt(p.get("band")),
                        fmt(p.get("predicted_loss_after")),
                    ]
                    for p in predictions
                ],
            }
        )
    if whatifs:
        tables.append(
            {
                "caption": "what-if: the decay tried from a checkpoint",
                "head": [
                    "epoch",
                    "rate",
                    "steps",
                    "loss before",
                    "loss after",
                    "observed drop",
                    "predicted drop",
                ],
                "rows": [
                    [
                        fmt(w.get("epoch")),
                        f"{fmt(w.get('lr_from'))} → {fmt(w.get('lr_to'))}",
                        fmt(w.get("steps")),
                        fmt(w.get("loss_before")),
                        fmt(w.get("loss_after")),
                        fmt(w.get("observed_drop")),
                        fmt(w.get("predicted_drop")),
                    ]
                    for w in whatifs
                ],
            }
        )
    if not (figs or tables or notes):
        missing.append(
            "gradient noise: no measurements (train with --noise-every K) and no predict/whatif results"
        )
        return None
    lead = (
        "SGD at a constant rate α bounces at an excess loss of about α·tr(Σ)/(4B(1−β)) (the noise floor); "
        "cutting the rate removes most of it within a few steps, which is the cliff in the loss curve."
    )
    return Section(
        "noise", "Gradient noise and drop predictions", lead=lead, figures=figs, tables=tables, notes=notes
    )


def _kind(doc, path: Path) -> str:
    if isinstance(doc, dict) and isinstance(doc.get("schema"), str) and doc["schema"].startswith("lrscope."):
        return doc["schema"].split(".", 1)[1].split("/", 1)[0]
    return path.stem.split("-", 1)[0].split("_", 1)[0].lower()


def _finder_doc(paths: list[Path]) -> tuple[dict | None, Path | None, list[str]]:
    for path in paths:
        try:
            doc = _load_json(path)
        except ValueError as error:
            return None, path, [str(error)]
        if isinstance(doc, dict):
            return doc, path, []
    return None, None, []


@_guard("finder", "Learning-rate range test")
def finder_section(paths: list[Path], missing: list[str]) -> Section | None:
    doc, path, notes = _finder_doc(paths)
    if doc is None:
        if notes:
            return Section("finder", "Learning-rate range test", notes=notes)
        missing.append("LR range test: no finder.json (run `lrscope find --data D --model M --out DIR`)")
        return None
    figs, items = [], []
    lrs, losses = doc.get("lrs"), doc.get("losses")
    bounds = doc.get("range")
    if isinstance(bounds, dict):
        bounds = [bounds.get("low"), bounds.get("high")]
    suggestion = _num(doc.get("suggestion"))
    if isinstance(lrs, list) and isinstance(losses, list) and lrs and losses:
        figs.append(
            figures.finder_figure(
                lrs,
                losses,
                doc.get("smoothed"),
                suggestion=suggestion,
                bounds=bounds if isinstance(bounds, (list, tuple)) and len(bounds) == 2 else None,
            )
        )
    if suggestion is not None:
        items.append(f"Suggested learning rate: {fmt(suggestion)}.")
    if isinstance(bounds, (list, tuple)) and len(bounds) == 2:
        items.append(
            f"Range for cyclical or 1cycle schedules: {fmt(_num(bounds[0]))} to {fmt(_num(bounds[1]))}."
        )
    if isinstance(doc.get("suggestions"), dict):
        items.append(
            "Other rules: " + ", ".join(f"{k} {fmt(_num(v))}" for k, v in doc["suggestions"].items()) + "."
        )
    if doc.get("spread") is not None:
        items.append(f"Spread of the suggestion across repeats: {fmt(doc.get('spread'))}.")
    lead = (
        "Leslie Smith's LR range test: the rate grows each step while the loss is recorded; a good rate sits "
        f"where the loss falls fastest, before it blows up. From {html.escape(name_of(path))}."
    )
    return Section("finder", "Learning-rate range test", lead=lead, figures=figs, items=items, notes=notes)


@_guard("compare", "Schedules compared")
def compare_section(paths: list[Path], missing: list[str]) -> Section | None:
    for path in paths:
        try:
            doc = _load_json(path)
        except ValueError as error:
            return Section("compare", "Schedules compared", notes=[str(error)])
        if doc is None:
            continue
        rows = doc.get("runs") or doc.get("rows") or doc.get("table") if isinstance(doc, dict) else doc
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            return Section("compare", "Schedules compared", notes=[f"{name_of(path)} holds no table of runs"])
        head = []
        for r in rows:
            head.extend(k for k, v in r.items() if k not in head and not isinstance(v, (dict, list)))
        return Section(
            "compare",
            "Schedules compared",
            lead=f"Each schedule trained at the same budget and seed ({html.escape(name_of(path))}).",
            tables=[
                {
                    "caption": "",
                    "head": [h.replace("_", " ") for h in head],
                    "rows": [[fmt(r.get(h)) for h in head] for r in rows],
                }
            ],
        )
    missing.append("schedule comparison: no compare.json (run `lrscope compare SPEC... --out DIR`)")
    return None


@_guard("landscape", "Loss landscape and sharpness")
def landscape_section(run: Path, missing: list[str]) -> Section | None:
    figs, tables, notes = [], [], []
    probes = run / PROBES
    for path in sorted(probes.glob("*.npz")) if probes.is_dir() else []:
        if not is_regular_file(path):
            notes.append(f"{name_of(path)} is not a regular file: not read")
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as error:  # noqa: BLE001
            notes.append(f"{name_of(path)} is not a readable .npz ({error})")
            continue
        loss = arrays.get("loss")
        if loss is None:
            continue
        if loss.ndim == 2 and "x" in arrays and "y" in arrays:
            path_xy = arrays.get("path")
            figs.append(
                figures.plane_figure(arrays["x"], arrays["y"], loss, title=path_label(path.stem), path=path_xy)
            )
        elif loss.ndim == 1:
            x = arrays.get("x", arrays.get("alpha", np.arange(loss.size)))
            figs.append(
                figures.series_figure(
                    x,
                    {path_label(path.stem): loss},
                    xlabel="distance along the direction",
                    ylabel="loss",
                    log_y=False,
                )
            )
    epochs = _epoch_columns(run)
    steps = _step_columns(run)
    for source, cols, xname in ((steps, steps, "step"), (epochs, epochs, "epoch")):
        key = next((k for k in ("sharpness", "top_eigenvalue", "lambda_max", "eig_max") if k in source), None)
        if key and np.isfinite(cols[key]).any():
            mask = np.isfinite(cols[key])
            x = cols.get(xname, np.arange(len(cols[key]), dtype=float))[mask]
            lr = cols.get("lr")
            ref = {"2 / learning rate": 2.0 / lr[mask]} if lr is not None else None
            figs.append(
                figures.series_figure(
                    x,
                    {"top Hessian eigenvalue": cols[key][mask]},
                    xlabel=xname,
                    ylabel="sharpness",
                    log_y=True,
                    hlines=ref,
                )
            )
            break
    for path in sorted(probes.glob("*.json")) if probes.is_dir() else []:
        try:
            doc = _load_json(path)
        except ValueError as error:
            notes.append(str(error))
            continue
        if _kind(doc, path) in ("landscape", "sharpness", "curvature", "eigenvalues") and isinstance(
            doc, dict
        ):
            rows = [
                [k, fmt(v)]
                for k, v in doc.items()
                if not isinstance(v, (dict, list)) or (isinstance(v, list) and len(v) <= 8)
            ]
            tables.append({"caption": name_of(path), "head": ["field", "value"], "rows": rows})
    if not (figs or tables or notes):
        missing.append(
            "landscape and sharpness: no probes (run `lrscope landscape RUN` or `lrscope sharpness RUN`)"
        )
        return None
    lead = (
        "The loss surface around the weights (filter-normalised random directions) and the sharpness against "
        "the edge-of-stability limit 2/learning rate."
    )
    return Section(
        "landscape", "Loss landscape and sharpness", lead=lead, figures=figs, tables=tables, notes=notes
    )


def run_sections(run: Path, missing: list[str], *, top_level: bool = True) -> list[Section]:
    """Every section this run has, in reading order."""
    doc, explain_notes = _explain_doc(run)
    parts = [
        config_section(run, missing),
        schedule_section(run, missing),
        curves_section(run, missing, doc),
        explanation_section(run, missing, doc, explain_notes),
        noise_section(run, missing),
        finder_section([run / PROBES / "finder.json", run / "finder.json"], missing) if top_level else None,
        compare_section([run / "compare.json"], missing) if top_level else None,
        landscape_section(run, missing),
    ]
    return [p for p in parts if p is not None]


# ------------------------------------------------------------------------------------------------ the page


def _run_dirs_inside(path: Path) -> list[Path]:
    """Run directories directly inside ``path``: the demo's step/ and onecycle/ first, then the rest."""
    found = [p for p in sorted(path.iterdir()) if is_run_dir(p)] if path.is_dir() else []
    order = {name: i for i, name in enumerate(RUN_NAMES_IN_DEMO)}
    return sorted(found, key=lambda p: (order.get(p.name, len(order)), p.name))


def _comparison(runs: list[Path]) -> Section:
    data = []
    for run in runs:
        try:
            cols = _epoch_columns(run)
        except Exception:  # noqa: BLE001
            cols = {}
        spec = ""
        try:
            config = _load_json(run / CONFIG) or {}
            spec = config.get("schedule", "") if isinstance(config, dict) else ""
        except ValueError:
            pass
        data.append((name_of(run), cols, spec))
    svg = figures.curves_figure([{"label": name, **cols} for name, cols, _ in data if cols])
    table = _final_table([(name, cols) for name, cols, _ in data])
    table["head"].insert(1, "schedule")
    for row, (_, _, spec) in zip(table["rows"], data, strict=False):
        row.insert(1, spec or "–")
    lead = (
        "The runs side by side at the same budget: loss and accuracy per epoch, each run's learning rate "
        "dashed "
        "in its colour on the right-hand axis."
    )
    return Section("comparison", "The runs compared", lead=lead, figures=[svg], tables=[table])


def render_page(
    title: str, subtitle: str, top: list[Section], runs: list[RunView], missing: list[str]
) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("lrscope.report", "templates"),
        autoescape=select_autoescape(["j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE).render(
        title=title,
        subtitle=subtitle,
        top=top,
        runs=runs,
        missing=missing,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=_version(),
    )


def _version() -> str:
    try:
        from .. import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "?"


def build_report(
    run_or_demo_dir: str | Path, out: str | Path | None = None, *, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> Path:
    """Write one self-contained HTML report for a run directory, or for a directory of runs (the demo's).

    Each run's metrics.jsonl must be a regular file of at most ``max_bytes`` bytes (None: no cap), else
    :class:`UserError`.  Names that are not UTF-8 are shown with their bytes escaped (``run-\\xff``)."""
    from ..logs.read import check_max_bytes

    _LIMIT["max_bytes"] = check_max_bytes(max_bytes)
    _METRICS.clear()
    try:
        return _build_report(Path(run_or_demo_dir), out)
    finally:
        _METRICS.clear()
        _LIMIT["max_bytes"] = DEFAULT_MAX_BYTES


def _build_report(path: Path, out: str | Path | None) -> Path:
    label = path_label(path)
    if not path.exists():
        raise UserError(f"{label} does not exist")
    if not path.is_dir():
        raise UserError(
            f"{label} is not a directory; give an lrscope run directory (with {METRICS} or {CONFIG})"
        )
    out = Path(out) if out is not None else path / REPORT
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"the report is HTML; give an --out ending in .html, got {path_label(out)!r}")
    missing: list[str] = []
    title = f"lrscope report: {name_of(path.resolve())}"
    if is_run_dir(path):
        _metrics(path)  # a metrics.jsonl that is a pipe, a device or too large: refused here, in one line
        sections = run_sections(path, missing)
        runs = [RunView(name_of(path), path, sections, missing)]
        page = render_page(title, _subtitle(path), [], runs, missing)
    else:
        inside = _run_dirs_inside(path)
        if not inside:
            raise UserError(
                f"{label} is not an lrscope run directory (no {METRICS} or {CONFIG} in it, and no run "
                f"directories inside it)"
            )
        for run in inside:
            _metrics(run)
        top = [_comparison(inside)] if len(inside) > 1 else []
        top_missing: list[str] = []
        finder = finder_section([path / "finder.json", path / PROBES / "finder.json"], top_missing)
        compare = compare_section([path / "compare.json"], top_missing)
        top += [s for s in (finder, compare) if s is not None]
        views = []
        for run in inside:
            run_missing: list[str] = []
            views.append(
                RunView(name_of(run), run, run_sections(run, run_missing, top_level=False), run_missing)
            )
        missing = top_missing + [f"{v.name}: {m}" for v in views for m in v.missing]
        names = " and ".join(v.name for v in views)
        page = render_page(title, f"{len(views)} runs: {names}", top, views, missing)
    # a lone surrogate from a hand-written JSON file ("\\udcff") would stop the UTF-8 encoding: show it escaped
    page = page.encode("utf-8", errors="backslashreplace").decode("utf-8")
    write_text(out, page)
    return out


def _subtitle(run: Path) -> str:
    try:
        config = _load_json(run / CONFIG) or {}
    except ValueError:
        return ""
    if not isinstance(config, dict):
        return ""
    parts = [f"{k} {config[k]}" for k in ("data", "model", "optimizer") if config.get(k)]
    if config.get("schedule"):
        parts.append(f"schedule {config['schedule']}")
    if config.get("epochs"):
        parts.append(f"{config['epochs']} epochs")
    return " · ".join(str(p) for p in parts)


def write_demo_report(demo_dir: str | Path) -> Path:
    """DEMO_DIR/report.html covering both demo runs; returns its path (the demo prints it)."""
    return build_report(demo_dir, Path(demo_dir) / REPORT)
