"""``lrscope explain LOG``: read the log (a file, a directory, a run, or ``-`` for standard input), explain it,
and for an lrscope run directory write RUN/explain.json."""

from __future__ import annotations

from pathlib import Path

from ..analysis.explain import explain
from ..analysis.explanation import Explanation
from ..atomic import write_json
from ..logs import rundir
from ..logs.read import DEFAULT_MAX_BYTES, STDIN, read_log
from ..outputs import FIGURE, check_output


def explain_path(
    path,
    schedule: str | None = None,
    format: str | None = None,
    lr: str | None = None,
    loss: str | None = None,
    x: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Explanation:
    """Read a log (file, directory, run, or ``-`` for standard input) and explain it; for a run directory also
    write explain.json.

    ``format`` must match what ``path`` holds; ``max_bytes`` caps a text log's size (2 GiB; None: no cap).
    The log read stays on the result as ``result.log`` (for the plot; not in its JSON).
    """
    log = read_log(path, format=format, lr=lr, loss=loss, x=x, max_bytes=max_bytes)
    result = explain(log, schedule=schedule)
    result.log = log
    if str(path) != STDIN and Path(path).is_dir() and rundir.is_run_dir(path):
        write_json(Path(path) / rundir.EXPLAIN, result.to_json())
    return result


def explain_job(log, *, plot=None, **options) -> Explanation:
    """``lrscope explain LOG [--plot F]``: refuse a plot path that would replace an input before any work, explain
    the log, draw the annotated plot."""
    if plot is not None:
        check_output(plot, suffixes=FIGURE, option="--plot", inputs=[log])
    result = explain_path(log, **options)
    if plot is not None:
        from ..viz.explain import plot_explanation

        plot_explanation(result, plot, max_bytes=options.get("max_bytes", DEFAULT_MAX_BYTES))
    return result


def explain_run(run_dir) -> Explanation:
    """Explain an lrscope run directory and write RUN/explain.json (atomically); used by ``lrscope demo``."""
    return explain_path(rundir.require_run_dir(run_dir))
