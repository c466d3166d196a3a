"""``lrscope report LOG_OR_RUN [LOG_OR_RUN ...]``: one self-contained HTML page for run directories and any log
explain reads (lrscope.report).

Where it goes without ``--out``: RUN/report.html for one run directory (or a directory of runs); for a log,
NAME-report.html in the current directory, never beside the user's log, and an existing file there is
replaced only when lrscope wrote it (:func:`lrscope.report.html.default_out`).  An ``--out`` given is
checked as every output is (:func:`lrscope.outputs.check_output`: not an input, not a run's records).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..logs.read import DEFAULT_MAX_BYTES
from ..outputs import REPORT, check_output


def report_job(runs, out: Path | None = None, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Path:
    """Write the report of ``runs`` (one path or several) to ``out``; returns the path written."""
    from ..report.html import build_report, default_out

    sources = [runs] if isinstance(runs, (str, bytes, os.PathLike)) else list(runs)
    target = out if out is not None else default_out(sources)
    check_output(target, suffixes=REPORT, inputs=sources)
    return build_report(sources, out, max_bytes=max_bytes)
