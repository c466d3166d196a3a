"""TensorBoard event files (and directories of them): scalar summaries as columns keyed by step.

Read with the ``tensorboard`` package's own record reader (``event_file_loader.EventFileLoader``), never a
hand-written protobuf parser.  Tags from event files in sub-directories get the sub-directory as prefix (Keras
writes ``train/`` and ``validation/`` runs with the same tag names).  A damaged record ends the file's data
there, with a warning: what came before it is kept.

Event files have no size limit (:mod:`lrscope.logs.read` caps text logs only): the reader streams them record
by record and keeps the scalar values alone, so memory follows the number of scalars, not the file's size.
Only regular files are read; for a directory the caller lists its files (:func:`lrscope.logs.paths.files_under`,
bounded) and this module picks the event files among them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import UserError


def is_event_file(path: Path) -> bool:
    """An events.out.tfevents.* name on a regular file (never a device or a pipe)."""
    return "tfevents" in path.name and path.is_file()


def _scalars(path: Path, prefix: str, series: dict, notes: list[str]) -> None:
    from .runlog import path_label

    logging.getLogger("tensorboard").setLevel(logging.ERROR)
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    count = 0
    try:
        for event in EventFileLoader(str(path)).Load():
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    v = float(value.simple_value)
                elif kind == "tensor":
                    try:
                        arr = tensor_util.make_ndarray(value.tensor)
                    except Exception:  # noqa: BLE001 - a damaged tensor proto is data lost, not a crash
                        continue
                    if arr.size != 1 or arr.dtype.kind not in "fiub":
                        continue
                    v = float(arr.reshape(()))
                else:
                    continue
                series.setdefault(prefix + value.tag, {})[int(event.step)] = v
                count += 1
    except Exception as error:  # noqa: BLE001 - damaged records: the reader raises assorted errors
        notes.append(
            f"{path_label(path.name)}: stopped at a damaged record ({type(error).__name__}); kept {count} values "
            f"read before it"
        )


def read_tensorboard(path: Path, notes: list[str], files: Sequence[Path] = ()) -> dict[str, np.ndarray]:
    """Scalar tags of an event file, or of every event file among ``files`` (the regular files under the
    directory ``path``), keyed by step."""
    from .runlog import path_label

    files = [path] if path.is_file() else [f for f in files if is_event_file(f)]
    if not files:
        raise UserError(f"{path_label(path)}: no TensorBoard event files (events.out.tfevents.*) in it")
    series: dict[str, dict[int, float]] = {}
    base = path if path.is_dir() else path.parent
    for f in files:
        rel = os.path.relpath(f.parent, base)
        prefix = "" if rel in (".", "") else path_label(rel.replace(os.sep, "/")) + "/"
        _scalars(f, prefix, series, notes)
    if not series:
        raise UserError(
            f"{path_label(path)}: no scalar values in the TensorBoard event file(s) (damaged or not an event file)"
        )
    steps = np.array(sorted({s for d in series.values() for s in d}), dtype=np.int64)
    index = {s: i for i, s in enumerate(steps.tolist())}
    columns = {"step": steps.astype(np.float64)}
    for tag, values in series.items():
        col = np.full(len(steps), np.nan)
        for s, v in values.items():
            col[index[s]] = v
        name = tag if tag != "step" else "step_value"
        columns[name] = col
    if len(files) > 1:
        notes.append(f"read {len(files)} event files, {len(series)} scalar tags")
    return columns
