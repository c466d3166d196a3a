"""Everything a report shows, read once: each run's config.json, metrics.jsonl, explain.json, probes/*.json and
probes/*.npz, and the range test and schedule comparison beside it.

A result file that is absent is ``None``; one that cannot be read keeps the one-line reason in ``error`` (a
report is always written, with a note in its place).  Only the run's metrics.jsonl must read cleanly: a pipe,
a device or a file over ``max_bytes`` is a :class:`UserError`, refused before anything is drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.explain import explain
from ..errors import UserError
from ..logs.paths import check_file, is_regular_file
from ..logs.rundir import CONFIG, EXPLAIN, PROBES, is_run_dir
from ..logs.runlog import RunLog
from ..logs.runmetrics import read_run_dir, run_metrics, sort_columns
from .text import name_of

JSON_MAX_BYTES = 256 * 1024**2  # a result file (config.json, explain.json, probes/*.json) larger is not read
RUN_NAMES_IN_DEMO = ("step", "onecycle")
FINDER = "finder.json"
COMPARE = "compare.json"


@dataclass
class ResultFile:
    """One JSON result file: its path (None when none was found), the document, or why it could not be read."""

    path: Path | None
    doc: Any = None
    error: str | None = None


@dataclass
class Arrays:
    """One probes/*.npz file: its arrays, or why it could not be read."""

    path: Path
    arrays: dict[str, np.ndarray] | None = None
    error: str | None = None


@dataclass
class RunResults:
    """What one run directory holds, read once."""

    path: Path
    name: str
    config: ResultFile
    epochs: dict[str, np.ndarray]  # epoch records as columns, in epoch order
    steps: dict[str, np.ndarray]  # step records as columns
    explanation: dict | None  # explain.json's document, or one computed for the report
    explanation_notes: list[str]
    log: RunLog | None = None  # the records as explain reads them (stage and drop places are its rows)
    probe_docs: list[ResultFile] = field(default_factory=list)  # probes/*.json, by name
    probe_arrays: list[Arrays] = field(default_factory=list)  # probes/*.npz, by name
    finder: ResultFile | None = None  # read for a run shown on its own (a demo directory has one at its top)
    compare: ResultFile | None = None

    @property
    def config_dict(self) -> dict:
        """config.json as a dict ({} when absent, unreadable or not an object)."""
        return self.config.doc if isinstance(self.config.doc, dict) else {}


@dataclass
class DirectoryResults:
    """A directory of runs (the demo's step/ and onecycle/): each run, and the results beside them."""

    path: Path
    runs: list[RunResults]
    finder: ResultFile
    compare: ResultFile


def load_json(path: Path) -> ResultFile:
    """The JSON document at ``path`` (doc None when absent; ``error`` says why when unreadable).

    Only a regular file (a pipe or a device under a result's name is not opened) of at most
    :data:`JSON_MAX_BYTES`."""
    if not path.is_file():
        return ResultFile(path)
    try:
        check_file(path, JSON_MAX_BYTES, what="a result file")
        return ResultFile(path, json.loads(path.read_text(encoding="utf-8")))
    except UserError as error:
        return ResultFile(path, error=str(error))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        return ResultFile(path, error=f"{name_of(path)} is not readable JSON ({error})")


def first_object(paths: list[Path]) -> ResultFile:
    """The first of ``paths`` holding a JSON object, stopping at the first that cannot be read."""
    for path in paths:
        found = load_json(path)
        if found.error is not None or isinstance(found.doc, dict):
            return found
    return ResultFile(None)


def first_document(paths: list[Path]) -> ResultFile:
    """The first of ``paths`` that exists (read or not)."""
    for path in paths:
        found = load_json(path)
        if found.error is not None or found.doc is not None:
            return found
    return ResultFile(None)


def _load_npz(path: Path) -> Arrays:
    if not is_regular_file(path):
        return Arrays(path, error=f"{name_of(path)} is not a regular file: not read")
    try:
        with np.load(path, allow_pickle=False) as data:
            return Arrays(path, {k: data[k] for k in data.files})
    except Exception as error:  # noqa: BLE001 - a damaged .npz raises assorted errors
        return Arrays(path, error=f"{name_of(path)} is not a readable .npz ({error})")


def _run_log(run: Path, max_bytes: int | None) -> tuple[RunLog | None, str | None]:
    """The run's records as explain reads them (None, and why, when they cannot be read)."""
    try:
        return read_run_dir(run, max_bytes=max_bytes), None
    except Exception as error:  # noqa: BLE001 - a report is always written
        return None, f"explain could not read this run ({error})"


def _explanation(run: Path, log: RunLog | None, why: str | None) -> tuple[dict | None, list[str]]:
    """explain.json when the run has one that reads as an explanation, else one computed now from the run's
    records (not written to the run), with a note that says which."""
    found = load_json(run / EXPLAIN)
    if found.error is not None:
        return None, [found.error]
    if isinstance(found.doc, dict) and isinstance(found.doc.get("findings", []), list):
        return found.doc, []
    if log is None:
        return None, [why or "explain could not read this run"]
    try:
        doc = explain(log).to_json()
    except Exception as error:  # noqa: BLE001 - a report is always written
        return None, [f"explain could not read this run ({error})"]
    if found.doc is None:
        return doc, [f"explained for this page: the run has no {EXPLAIN} (`lrscope explain RUN` writes one)"]
    return doc, [f"explained for this page: the run's {EXPLAIN} is not an explanation"]


def read_run(run: Path, max_bytes: int | None, *, on_its_own: bool = True) -> RunResults:
    """Every result of the run directory ``run``; ``on_its_own``: also its range test and comparison."""
    metrics = run_metrics(run, max_bytes=max_bytes)
    probes = run / PROBES
    log, why = _run_log(run, max_bytes)
    explanation, notes = _explanation(run, log, why)
    results = RunResults(
        path=run,
        name=name_of(run),
        config=load_json(run / CONFIG),
        epochs=sort_columns(dict(metrics["epoch"]), "epoch"),
        steps=dict(metrics["step"]),
        explanation=explanation,
        explanation_notes=notes,
        log=log,
        probe_docs=[load_json(p) for p in sorted(probes.glob("*.json"))] if probes.is_dir() else [],
        probe_arrays=[_load_npz(p) for p in sorted(probes.glob("*.npz"))] if probes.is_dir() else [],
    )
    if on_its_own:
        results.finder = first_object([probes / FINDER, run / FINDER])
        results.compare = first_document([run / COMPARE])
    return results


def run_dirs_inside(path: Path) -> list[Path]:
    """Run directories directly inside ``path``: the demo's step/ and onecycle/ first, then the rest."""
    found = [p for p in sorted(path.iterdir()) if is_run_dir(p)] if path.is_dir() else []
    order = {name: i for i, name in enumerate(RUN_NAMES_IN_DEMO)}
    return sorted(found, key=lambda p: (order.get(p.name, len(order)), p.name))


def read_directory(path: Path, runs: list[Path], max_bytes: int | None) -> DirectoryResults:
    """The runs inside ``path`` and the range test and comparison beside them."""
    return DirectoryResults(
        path=path,
        runs=[read_run(run, max_bytes, on_its_own=False) for run in runs],
        finder=first_object([path / FINDER, path / PROBES / FINDER]),
        compare=first_document([path / COMPARE]),
    )
