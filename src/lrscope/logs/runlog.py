"""RunLog: any training log as named float64 columns of one length, an x axis, column roles and reading notes.

Every reader (delimited text, JSON lines, TensorBoard, lrscope run directories) ends in :func:`build_runlog`,
which
merges repeated x values, recognises column roles (:mod:`lrscope.logs.roles`) and checks that something
usable is
left.  Missing cells are NaN.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from .nested import unnest_step
from .segments import MIN_RUN_RECORDS, records_text, segments_note, split_runs

ROLES = ("lr", "train_loss", "val_loss", "train_acc", "val_acc", "epoch", "step")
METRIC_ROLES = ("train_loss", "val_loss", "train_acc", "val_acc")


@dataclass
class RunLog:
    """A training log, whatever wrote it.

    ``columns``: name -> float64 array (NaN = not logged in that row); ``x_name``: the column used as x axis
    (``"row"`` when there is none); ``roles``: role -> column name; ``lower_is_better``: metric columns where
    a
    smaller value is better (losses, error rates); ``notes``: warnings gathered while reading.
    """

    columns: dict[str, np.ndarray]
    x_name: str = "row"
    roles: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    path: str = ""
    format: str = ""
    lower_is_better: dict[str, bool] = field(default_factory=dict)
    percent: dict[str, bool] = field(default_factory=dict)
    run: str = ""  # the run's label when a log holds several ("log.txt (records 101-300)"); "" for the only one
    records: tuple[int, int] = (0, 0)  # the 1-based records of the reader's table this run covers

    def __len__(self) -> int:
        return self.rows

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def x(self) -> np.ndarray:
        """The x axis values (row numbers when the log has no x column)."""
        if self.x_name in self.columns:
            return self.columns[self.x_name]
        return np.arange(self.rows, dtype=np.float64)

    def role(self, role: str) -> np.ndarray | None:
        """The column playing ``role``, or None."""
        name = self.roles.get(role)
        return None if name is None else self.columns[name]

    def has(self, role: str) -> bool:
        return role in self.roles

    def metrics(self) -> list[str]:
        """Roles of the metric columns present, in a fixed order."""
        return [r for r in METRIC_ROLES if r in self.roles]

    def without(self, *roles: str) -> RunLog:
        """A copy with the columns of ``roles`` removed (what-if: 'pretend there is no lr')."""
        drop = {self.roles[r] for r in roles if r in self.roles}
        cols = {k: v for k, v in self.columns.items() if k not in drop}
        kept = {r: c for r, c in self.roles.items() if c not in drop}
        return RunLog(
            cols,
            self.x_name if self.x_name not in drop else "row",
            kept,
            list(self.notes),
            self.path,
            self.format,
            dict(self.lower_is_better),
            dict(self.percent),
            self.run,
            self.records,
        )


def merge_repeated_x(columns: dict[str, np.ndarray], x_name: str, notes: list[str], sparse_ok: bool) -> dict:
    """Rows that share an x value become one row: for each column, the last finite value in the group.

    This merges PyTorch Lightning's interleaved train/validation rows (complementary cells) and, for a resumed
    run that logged some epochs twice, keeps the later record.  Groups appear in order of their last
    occurrence
    sorted by x when x is monotone after merging.
    """
    x = columns[x_name]
    finite = np.isfinite(x)
    if not finite.all():
        columns = {k: v[finite] for k, v in columns.items()}
        x = columns[x_name]
    if len(x) < 2:
        return columns
    if np.all(x[1:] > x[:-1]):  # the usual case, without np.unique's sort of a long log
        return columns
    uniq, inverse = np.unique(x, return_inverse=True)
    if len(uniq) == len(x):
        if np.all(np.diff(x) > 0):
            return columns
        order = np.argsort(x, kind="stable")
        notes.append(f"rows were not in {x_name} order; sorted them")
        return {k: v[order] for k, v in columns.items()}
    merged: dict[str, np.ndarray] = {}
    n = len(uniq)
    # index of the last row per group where the column is finite: process rows in order, later overwrite
    # earlier
    rows = np.arange(len(x))
    complementary = False
    for name, values in columns.items():
        out = np.full(n, np.nan)
        ok = np.isfinite(values)
        # assigning in row order keeps the last finite value of each group
        out[inverse[ok]] = values[ok]
        merged[name] = out
        if name != x_name and ok.sum() < len(values):
            complementary = True
    repeated = len(x) - n
    if complementary and sparse_ok:
        notes.append(
            f"merged {len(x)} rows that share {x_name} values into {n} rows (sparse rows such as "
            f"separate training and validation lines)"
        )
    else:
        notes.append(f"{repeated} rows repeat an earlier {x_name} value (a resumed run?): kept the last of each")
    del rows
    return merged


def build_runlog(columns: dict[str, np.ndarray], **options) -> RunLog:
    """The one run of a log: :func:`build_runlogs` (same arguments), its last run when there are several."""
    return last_run(build_runlogs(columns, **options))


def last_run(runs: list[RunLog]) -> RunLog:
    """The last of ``runs``; when there are several, with a note naming the records it covers."""
    log = runs[-1]
    if len(runs) > 1:
        first, last = log.records
        log.notes.append(
            f"read the last of its {len(runs)} runs (records {first}-{last}); lrscope explain explains each"
        )
    return log


def build_runlogs(
    columns: dict[str, np.ndarray],
    *,
    path: str,
    fmt: str,
    notes: list[str],
    lr: str | None = None,
    loss: str | None = None,
    x: str | None = None,
    acc: str | None = None,
    val_loss: str | None = None,
    fixed_roles: dict[str, str] | None = None,
) -> list[RunLog]:
    """The runs of a log: choose the x axis, cut appended runs apart where x goes back
    (:mod:`lrscope.logs.segments`), then per run merge repeated x values, assign roles and check that the
    result is usable.

    ``lr``/``loss``/``x``/``acc``/``val_loss`` are the user's column names (flags); ``fixed_roles`` (role ->
    column) are roles a format reader knows for sure (a Caffe log's test accuracy); the user's flags win.
    """
    from .roles import choose_x

    columns = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    label = path_label(path)
    for name in (lr, loss, x, acc, val_loss):
        if name is not None and name not in columns:
            known = shown_names(columns) or "none"
            raise UserError(f"no column named {short_name(name)!r} in {label} (columns: {known})")
    if not columns or max((len(v) for v in columns.values()), default=0) == 0:
        raise UserError(f"{label}: no data rows (the log is empty or has a header only)")
    # drop columns that hold no finite number at all (text columns, all-empty columns)
    usable = {k: v for k, v in columns.items() if np.isfinite(v).any()}
    dropped = [k for k in columns if k not in usable]
    if dropped:
        shown = ", ".join(repr(short_name(d)) for d in dropped[:6]) + (" ..." if len(dropped) > 6 else "")
        notes.append(f"ignored {len(dropped)} column(s) with no numeric value: {shown}")
    for name in (lr, loss, acc, val_loss):
        if name is not None and name not in usable:
            raise UserError(f"column {short_name(name)!r} in {label} holds no numbers")
    columns = usable
    if not columns:
        raise UserError(f"{label}: no numeric data (every cell is text or empty)")
    fixed = {r: c for r, c in (fixed_roles or {}).items() if c in columns}
    x_name = x or fixed.pop("x", None) or choose_x(columns)
    if x_name in columns:
        columns = unnest_step(columns, x_name, notes)
    runs_at = split_runs(columns, x_name, notes) if x_name in columns else []
    if len(runs_at) <= 1:
        if runs_at and len(runs_at[0]) < max((len(v) for v in columns.values()), default=0):
            columns = {k: v[runs_at[0]] for k, v in columns.items()}  # a resumed run: superseded records out
        log = _one_run(columns, x_name, label, path, fmt, notes, lr, loss, acc, val_loss, fixed)
        n = max((len(v) for v in columns.values()), default=0)
        log.records = (int(runs_at[0][0]) + 1, int(runs_at[0][-1]) + 1) if runs_at and n else (1, n)
        return [log]
    kept = [r for r in runs_at if len(r) >= MIN_RUN_RECORDS] or [max(runs_at, key=len)]
    notes.append(segments_note(runs_at, kept, x_name))
    runs = []
    for records in kept:
        part = {k: v[records] for k, v in columns.items()}
        # a segment without a metric (a run that logged only its rate) is no run to explain
        try:
            log = _one_run(part, x_name, label, path, fmt, list(notes), lr, loss, acc, val_loss, fixed)
        except UserError:
            if len(kept) == 1:
                raise
            continue
        log.records = (int(records[0]) + 1, int(records[-1]) + 1)
        log.run = f"{label} ({records_text(records)})"
        runs.append(log)
    if not runs:
        raise UserError(f"{label}: none of its {len(runs_at)} appended runs has a loss or accuracy to explain")
    return runs


def _one_run(columns, x_name, label, path, fmt, notes, lr, loss, acc, val_loss, fixed) -> RunLog:
    """One run's columns (no restarts in them) as a RunLog: merge repeated x, assign roles, check usable."""
    from .roles import assign_roles

    if x_name != "row":
        columns = merge_repeated_x(columns, x_name, notes, sparse_ok=True)
    # rows where nothing but x is known carry no information
    others = [v for k, v in columns.items() if k != x_name]
    if others:
        keep = np.zeros(len(next(iter(columns.values()))), dtype=bool)
        for v in others:
            keep |= np.isfinite(v)
        if not keep.all():
            columns = {k: v[keep] for k, v in columns.items()}
    roles, lower, percent, role_notes = assign_roles(
        columns, lr=lr, loss=loss, x=x_name, acc=acc, val_loss=val_loss, fixed=fixed
    )
    notes.extend(role_notes)
    if x_name == "row":
        roles.pop("epoch", None)
    log = RunLog(columns, x_name, roles, notes, str(path), fmt, lower, percent)
    if log.rows == 0:
        raise UserError(f"{label}: no data rows (the log is empty or has a header only)")
    if not log.metrics():
        raise UserError(
            f"{label}: no loss, accuracy or error column recognised (columns seen: {shown_names(columns)}); "
            f"assign roles with --loss COLUMN, --val-loss COLUMN, --acc COLUMN (an accuracy or error rate), "
            f"--lr COLUMN, --x COLUMN"
        )
    if x_name == "row":
        _rows_as_epochs(log)
    return log


def _rows_as_epochs(log: RunLog) -> None:
    """A log with neither epoch nor step column (bearpaw's log.txt): one row per epoch, numbered from 1."""
    if log.rows <= 100_000:
        log.columns["epoch"] = np.arange(1, log.rows + 1, dtype=np.float64)
        log.x_name = "epoch"
        log.roles["epoch"] = "epoch"
        log.notes.append("no epoch or step column: took data row N as epoch N")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def path_label(path: str | os.PathLike | bytes) -> str:
    """A path as text that can always be printed, encoded and drawn: bytes that are not UTF-8 (a name such as
    b"run-\\xff", which Python holds as a lone surrogate) shown as ``\\xff``, control characters (a newline
    in a name) as ``\\n`` or ``\\x1b``.  For messages, titles and pages; never for opening the file."""
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:  # a surrogate no file name decodes to (JSON can write "\\ud800")
        raw = os.fspath(path).encode("utf-8", errors="backslashreplace")
    text = raw.decode("utf-8", errors="backslashreplace")
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text


def short_name(name: str, width: int = 40) -> str:
    """A column name cut to ``width`` characters (a 64 K-character 'name' in a message helps nobody)."""
    name = path_label(name) if isinstance(name, str) else str(name)
    return name if len(name) <= width else name[: width - 3] + "..."


def shown_names(names, count: int = 8, width: int = 40) -> str:
    """``'a', 'b', ... (N in all)``: the first few names for a one-line message."""
    names = list(names)
    parts = [repr(short_name(n, width)) for n in names[:count]]
    return ", ".join(parts) + (f" ... ({len(names):,} in all)" if len(names) > count else "")
