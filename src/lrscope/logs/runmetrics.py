"""An lrscope run directory's metrics.jsonl as columns, and the run as a :class:`~lrscope.logs.runlog.RunLog`."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError
from .paths import DEFAULT_MAX_BYTES, check_file
from .runlog import RunLog, build_runlog, path_label


def run_metrics(run_dir, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> dict:
    """A run's metrics.jsonl as columns: ``{"epoch": {name: float64 array}, "step": {...}}``.

    Records are those :func:`lrscope.logs.rundir.iter_records` accepts, turned into columns as they are read
    (memory follows the numbers, not the records).  Fields holding a number somewhere become columns; a
    missing, non-finite or non-numeric value is NaN.  An epoch repeated (a resumed run rewrote it) keeps its
    last record, in the place of its first.  The file must be a regular file of at most ``max_bytes`` bytes;
    no file gives empty columns.
    """
    import numpy as np

    from . import rundir
    from .jsonlines import ColumnBuilder

    path = Path(run_dir) / rundir.METRICS
    if not os.path.lexists(path):
        return {"epoch": {}, "step": {}}
    check_file(path, max_bytes, what="a metrics file")
    builders = {"epoch": ColumnBuilder(_finite_number), "step": ColumnBuilder(_finite_number)}
    last_of_epoch: dict = {}
    try:
        for record in rundir.iter_records(path):
            kind = record.get("kind")
            if kind not in builders:
                continue
            builder = builders[kind]
            row = builder.add({k: v for k, v in record.items() if k != "kind"})
            if kind == "epoch":
                key = record.get("epoch")
                try:
                    hash(key)
                except TypeError:
                    key = repr(key)
                last_of_epoch[key] = row
    except RecursionError:
        raise UserError(f"{path_label(path)}: a line nests JSON too deeply to be an lrscope record") from None
    except OSError as error:
        raise UserError(f"cannot read {path_label(path)}: {error.strerror or error}") from None
    keep = np.fromiter(last_of_epoch.values(), dtype=np.int64, count=len(last_of_epoch))
    return {
        "epoch": builders["epoch"].columns(path_label(path), rows=keep),
        "step": builders["step"].columns(path_label(path)),
    }


def _finite_number(value, name: str):
    """What a run's record field gives a column: a number (non-finite: NaN), else nothing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        return float("nan")
    return value if value - value == 0 else float("nan")


def sort_columns(columns: dict, key: str) -> dict:
    """Columns reordered by column ``key`` (NaN counts as 0; ties keep their order); unchanged without it."""
    import numpy as np

    if key not in columns or not len(columns[key]):
        return columns
    values = np.nan_to_num(columns[key], nan=0.0)
    if np.all(values[1:] >= values[:-1]):
        return columns
    order = np.argsort(values, kind="stable")
    return {k: v[order] for k, v in columns.items()}


def read_run_dir(path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES, **over) -> RunLog:
    """An lrscope run directory: its epoch records (step records when there are too few epochs)."""
    from . import rundir

    metrics = run_metrics(path, max_bytes=max_bytes)
    epochs, steps = metrics["epoch"], metrics["step"]

    def rows(columns):
        return len(next(iter(columns.values()))) if columns else 0

    columns, kind = epochs, "epoch"
    if rows(epochs) < 3 and rows(steps) > rows(epochs):
        columns, kind = steps, "step"
    if not rows(columns):
        raise UserError(f"{path_label(path)}: the run has no metrics yet ({rundir.METRICS} is empty or missing)")
    notes = [] if kind == "epoch" else ["the run has fewer than 3 epoch records: explained its step records"]
    x = over.pop("x", None) or kind
    return build_runlog(columns, path=str(path), fmt="run", notes=notes, x=x, **over)
