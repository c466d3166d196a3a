"""``lrscope explain LOG [LOG ...]``: read each log (a file, a directory, a run, or ``-`` for standard input),
explain every run it holds, and for an lrscope run directory write RUN/explain.json.

One run gives today's document (schema ``lrscope.explain/1``); several runs (several paths, a directory of
runs, or runs appended to one file) give ``{"schema": "lrscope.explain-runs/1", "runs": [doc, ...]}``, each
document with a ``run`` label and the records it covers (``source.records``).
"""

from __future__ import annotations

from pathlib import Path

from ..analysis.explain import explain
from ..analysis.explanation import Explanation
from ..atomic import write_json
from ..logs import rundir
from ..logs.read import DEFAULT_MAX_BYTES, STDIN, read_runs
from ..logs.runlog import path_label
from ..outputs import FIGURE, check_output

RUNS_SCHEMA = "lrscope.explain-runs/1"


def explain_paths(
    paths,
    schedule: str | None = None,
    format: str | None = None,
    lr: str | None = None,
    loss: str | None = None,
    x: str | None = None,
    acc: str | None = None,
    val_loss: str | None = None,
    step_unit: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> list[Explanation]:
    """Every run of every path, explained in order; each result keeps its log as ``result.log``.

    For an lrscope run directory the explanation is also written to RUN/explain.json (atomically).
    """
    paths = list(paths)
    results: list[Explanation] = []
    for path in paths:
        runs = read_runs(path, format=format, lr=lr, loss=loss, x=x, acc=acc, val_loss=val_loss, max_bytes=max_bytes)
        for log in runs:
            result = explain(log, schedule=schedule, step_unit=step_unit)
            result.log = log
            result.source["records"] = list(log.records)
            label = log.run or (path_label(path) if len(paths) > 1 else "")
            result.run = label
            results.append(result)
        if str(path) != STDIN and Path(path).is_dir() and rundir.is_run_dir(path) and len(runs) == 1:
            write_json(Path(path) / rundir.EXPLAIN, results[-1].to_json())
    return results


def explain_path(path, **options) -> Explanation:
    """Read one log and explain it (its last run when it holds several); options as :func:`explain_paths`."""
    return explain_paths([path], **options)[-1]


def explain_document(results: list[Explanation]) -> dict:
    """The JSON of one explanation, or of several (``lrscope.explain-runs/1``) with their run labels."""
    if len(results) == 1:
        doc = results[0].to_json()
        if getattr(results[0], "run", ""):
            doc["run"] = results[0].run
        return doc
    runs = []
    for k, result in enumerate(results):
        doc = result.to_json()
        doc["run"] = getattr(result, "run", "") or f"run {k + 1}"
        runs.append(doc)
    return {"schema": RUNS_SCHEMA, "runs": runs}


def plot_paths(plot: Path, count: int) -> list[Path]:
    """Where the plots of ``count`` runs go: ``plot`` itself for one, ``NAME-1.png``, ``NAME-2.png`` ... else."""
    plot = Path(plot)
    if count == 1:
        return [plot]
    return [plot.with_name(f"{plot.stem}-{k + 1}{plot.suffix}") for k in range(count)]


def explain_job(logs, *, plot=None, **options) -> tuple[list[Explanation], list[Path]]:
    """``lrscope explain LOG [LOG ...] [--plot F]``: refuse a plot path that would replace an input before any
    work, explain every run, draw each run's annotated plot (F, or F-1, F-2 ... for several runs)."""
    logs = [logs] if isinstance(logs, (str, Path)) else list(logs)
    if plot is not None:
        check_output(plot, suffixes=FIGURE, option="--plot", inputs=logs)
    results = explain_paths(logs, **options)
    written: list[Path] = []
    if plot is not None:
        from ..viz.explain import plot_explanation

        targets = plot_paths(plot, len(results))
        for target in targets:
            check_output(target, suffixes=FIGURE, option="--plot", inputs=logs)
        for result, target in zip(results, targets, strict=True):
            written.append(plot_explanation(result, target, max_bytes=options.get("max_bytes", DEFAULT_MAX_BYTES)))
    return results, written


def explain_run(run_dir) -> Explanation:
    """Explain an lrscope run directory and write RUN/explain.json (atomically); used by ``lrscope demo``."""
    return explain_path(rundir.require_run_dir(run_dir))
