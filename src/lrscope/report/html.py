"""One self-contained HTML page per run (or per demo directory) from the result files that exist.

    build_report("runs/digits")                # -> runs/digits/report.html
    build_report("lrscope-demo")               # a demo directory: both runs, compared side by side
    write_demo_report("lrscope-demo")          # what `lrscope demo` calls at its end

The run's results are read once (:mod:`lrscope.report.read`: config.json, metrics.jsonl, explain.json,
finder.json, compare.json, probes/*.json and *.npz), turned into sections (:mod:`lrscope.report.sections`)
and rendered (:mod:`lrscope.report.render`).  A section whose file is absent is left out and listed at the end
with the command that would produce it; a file that cannot be read or drawn gives a short note in its section,
never an error: a report is always written.  The page has no external requests: CSS is inline, figures are
inline SVG (Matplotlib's SVG output from :mod:`lrscope.viz`), and nothing is fetched.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_text
from ..errors import UserError
from ..logs.read import DEFAULT_MAX_BYTES, check_max_bytes
from ..logs.rundir import CONFIG, METRICS, REPORT, is_run_dir
from ..logs.runlog import path_label
from .read import RunResults, read_directory, read_run, run_dirs_inside
from .render import RunView, render_page
from .sections import run_sections, top_sections
from .text import name_of


def build_report(
    run_or_demo_dir: str | Path, out: str | Path | None = None, *, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> Path:
    """Write one self-contained HTML report for a run directory, or for a directory of runs (the demo's).

    Each run's metrics.jsonl must be a regular file of at most ``max_bytes`` bytes (None: no cap), else
    :class:`UserError`.  Names that are not UTF-8 are shown with their bytes escaped (``run-\\xff``)."""
    max_bytes = check_max_bytes(max_bytes)
    path = Path(run_or_demo_dir)
    label = path_label(path)
    if not path.exists():
        raise UserError(f"{label} does not exist")
    if not path.is_dir():
        raise UserError(
            f"{label} is not a directory; give an lrscope run directory (with {METRICS} or {CONFIG})"
        )
    out = Path(out) if out is not None else path / REPORT
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"the report is HTML; give an --out ending in .html, got {path_label(out)!r}")
    title = f"lrscope report: {name_of(path.resolve())}"
    if is_run_dir(path):
        run = read_run(path, max_bytes)
        missing: list[str] = []
        views = [RunView(run.name, run.path, run_sections(run, missing), missing)]
        page = render_page(title, _subtitle(run), [], views, missing)
    else:
        inside = run_dirs_inside(path)
        if not inside:
            raise UserError(
                f"{label} is not an lrscope run directory (no {METRICS} or {CONFIG} in it, and no run "
                f"directories inside it)"
            )
        directory = read_directory(path, inside, max_bytes)
        top_missing: list[str] = []
        top = top_sections(directory, top_missing)
        views = []
        for run in directory.runs:
            run_missing: list[str] = []
            views.append(RunView(run.name, run.path, run_sections(run, run_missing), run_missing))
        missing = top_missing + [f"{v.name}: {m}" for v in views for m in v.missing]
        names = " and ".join(v.name for v in views)
        page = render_page(title, f"{len(views)} runs: {names}", top, views, missing)
    write_text(out, page)
    return out


def _subtitle(run: RunResults) -> str:
    config = run.config_dict
    parts = [f"{k} {config[k]}" for k in ("data", "model", "optimizer") if config.get(k)]
    if config.get("schedule"):
        parts.append(f"schedule {config['schedule']}")
    if config.get("epochs"):
        parts.append(f"{config['epochs']} epochs")
    return " · ".join(str(p) for p in parts)


def write_demo_report(demo_dir: str | Path) -> Path:
    """DEMO_DIR/report.html covering both demo runs; returns its path (the demo prints it)."""
    return build_report(demo_dir, Path(demo_dir) / REPORT)
