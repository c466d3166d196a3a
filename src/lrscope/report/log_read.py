"""Any log explain reads, made ready for the report: each run it holds (:func:`lrscope.logs.read.read_runs`),
explained once (:func:`lrscope.analysis.explain.explain`), never written to.

A log that cannot be read at all is the user's error (:class:`UserError`, said in one line); a run that
explain cannot explain still gets its curves, with the reason as a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.explain import explain
from ..errors import UserError
from ..logs.read import read_runs
from ..logs.runlog import RunLog, path_label


@dataclass
class LogResults:
    """One run of a log: where it came from, its name on the page, the RunLog and explain's document."""

    path: Path
    name: str
    log: RunLog
    explanation: dict | None
    explanation_notes: list[str] = field(default_factory=list)


def read_log_runs(path: Path, max_bytes: int | None) -> list[LogResults]:
    """Every run ``path`` holds, explained, in order; names are the file's name (and the run's label when the
    log holds several)."""
    runs = read_runs(path, max_bytes=max_bytes)
    label = path_label(path.name or str(path))
    out = []
    for log in runs:
        try:
            doc, notes = explain(log).to_json(), []
        except UserError as error:
            doc, notes = None, [f"explain cannot explain this run: {error}"]
        name = path_label(log.run).replace(path_label(path), label) if log.run and len(runs) > 1 else label
        out.append(LogResults(path, name, log, doc, notes))
    return out
