"""``lrscope report LOG_OR_RUN``: one self-contained HTML page from the results a run holds (lrscope.report)."""

from __future__ import annotations

from pathlib import Path

from ..logs.read import DEFAULT_MAX_BYTES
from ..outputs import REPORT, check_output


def report_job(run: Path, out: Path | None = None, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Path:
    """Write the report of ``run`` to ``out`` (default RUN/report.html); returns the path written."""
    from ..report.html import build_report

    if out is not None:
        out = check_output(out, suffixes=REPORT, inputs=[run])
    return build_report(run, out, max_bytes=max_bytes)
