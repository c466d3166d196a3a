"""``lrscope plot RUN --out FILE``: read a run directory or a log, then draw its curves (lrscope.viz.curves)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..logs.paths import regular_or_directory
from ..logs.read import DEFAULT_MAX_BYTES, STDIN, STDIN_LABEL, read_log
from ..logs.rundir import is_run_dir, require_run_dir
from ..logs.runlog import path_label
from ..logs.runmetrics import run_metrics, sort_columns
from ..outputs import FIGURE, check_output
from ..viz.curves import plot_curves


def curves_from_run(run_dir: str | Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """Epoch records of an lrscope run directory as columns, in epoch order (missing values are NaN).

    Read with :func:`lrscope.logs.runmetrics.run_metrics`: metrics.jsonl must be a regular file of at most
    ``max_bytes`` bytes (None: no cap)."""
    columns = run_metrics(require_run_dir(run_dir), max_bytes=max_bytes)["epoch"]
    if not columns:
        raise UserError(f"{path_label(run_dir)} has no epoch records in its metrics.jsonl yet")
    columns = sort_columns(columns, "epoch")
    keys = ("epoch", "step", "lr", "train_loss", "val_loss", "train_acc", "val_acc")
    return {k: columns[k] for k in keys if k in columns and np.isfinite(columns[k]).any()}


def plot_run(run: str | os.PathLike, out: str | os.PathLike, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Path:
    """``lrscope plot RUN --out FILE.png``: an lrscope run directory, a log the log reader knows, or ``-`` (a
    text log on standard input).  ``max_bytes`` caps a text log (or a run's metrics.jsonl); None: no cap."""
    out = check_output(out, suffixes=FIGURE, inputs=[] if os.fspath(run) == STDIN else [run])
    if os.fspath(run) == STDIN:
        log, title = read_log(STDIN, max_bytes=max_bytes), STDIN_LABEL
    else:
        run = Path(run)
        if stat.S_ISDIR(regular_or_directory(run)) and is_run_dir(run):
            return plot_curves(curves_from_run(run, max_bytes=max_bytes), out, title=path_label(run.name))
        log, title = read_log(run, max_bytes=max_bytes), path_label(run.name)
    columns = {role: log.columns[name] for role, name in log.roles.items()}
    if "epoch" not in columns and "step" not in columns:
        columns["epoch" if log.x_name == "row" else log.x_name] = log.x
    return plot_curves(columns, out, title=title)
