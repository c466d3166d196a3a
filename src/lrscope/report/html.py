"""One self-contained HTML page for any logs and runs: lrscope run directories, a directory of runs (the demo's),
or any log explain reads (CSV/TSV, TensorBoard, HF trainer_state.json, Caffe, ...).

    build_report("runs/digits")                        # -> runs/digits/report.html
    build_report("lrscope-demo")                       # a demo directory: both runs, compared side by side
    build_report(["log.tsv"], "log-report.html")       # any log: its curves with the rate, the explanation
    build_report(["a.csv", "runs/b"], "both.html")     # several: the runs compared, then each one's sections
    write_demo_report("lrscope-demo")                  # what `lrscope demo` calls at its end

A run directory's results are read once (:mod:`lrscope.report.read`), a log's runs are read and explained
once (:mod:`lrscope.report.log_read`); both become sections (:mod:`lrscope.report.sections`,
:mod:`lrscope.report.log_sections`) rendered by :mod:`lrscope.report.render`.  A run directory's page is the
richer one (schedule spec, probes, configuration); a log's shows what the log supports.  A section whose
file is absent is left out and listed at the end; a file that cannot be read or drawn gives a short note in
its section.  The page has no external requests: CSS is inline, figures are inline SVG, nothing is fetched.
Nothing read is modified.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..atomic import write_text
from ..errors import UserError
from ..logs.read import DEFAULT_MAX_BYTES, check_max_bytes
from ..logs.rundir import CONFIG, METRICS, REPORT, is_run_dir
from ..logs.runlog import path_label
from .log_read import read_log_runs
from .log_sections import NO_PROBES, log_sections, runs_compared_section
from .read import RunResults, read_directory, read_run, run_dirs_inside
from .render import GENERATOR, RunView, render_page
from .sections import config_section, run_sections, top_sections
from .text import name_of

REPORT_SUFFIXES = (".html", ".htm")


def _sources(sources) -> list[Path]:
    if isinstance(sources, (str, bytes, os.PathLike)):
        sources = [sources]
    paths = [Path(os.fsdecode(p)) if isinstance(p, bytes) else Path(p) for p in sources]
    if not paths:
        raise UserError("give at least one log or run directory to report on")
    for path in paths:
        if not path.exists():
            raise UserError(f"{path_label(path)} does not exist")
    return paths


def is_demo_directory(path: Path) -> bool:
    """A directory that is no run itself but holds run directories (the demo's step/ and onecycle/)."""
    return path.is_dir() and not is_run_dir(path) and bool(run_dirs_inside(path))


def default_out(sources) -> Path:
    """Where the report goes without ``--out``: RUN/report.html for one run directory or a directory of runs
    (a derived file lrscope may replace there); for logs, NAME-report.html in the current directory, never
    beside the user's log (NAME: the log's file name, or its folder's for a TensorBoard event file or a
    directory; ``lrscope-report.html`` for several)."""
    paths = _sources(sources)
    if len(paths) == 1 and paths[0].is_dir() and (is_run_dir(paths[0]) or is_demo_directory(paths[0])):
        return paths[0] / REPORT
    if len(paths) > 1:
        return Path("lrscope-report.html")
    path = paths[0].resolve()
    name = path.parent.name if path.name.startswith("events.out.tfevents") else path.name
    stem = Path(name).stem if path.is_file() else name
    stem = re.sub(r"[^\w.+-]+", "-", stem).strip("-.") or "log"
    return Path(f"{stem}-report.html")


def is_lrscope_report(path: Path) -> bool:
    """True when ``path`` is a page lrscope wrote (its generator tag in the first kilobytes)."""
    try:
        with open(path, "rb") as f:
            return GENERATOR.encode() in f.read(4096)
    except OSError:
        return False


def build_report(sources, out: str | Path | None = None, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Path:
    """Write one self-contained HTML report of ``sources`` (a path or a list of paths: run directories, a
    directory of runs, log files or log directories) to ``out`` (default :func:`default_out`); returns it.

    Without ``out``, a file that is already there under the default name is replaced only when lrscope wrote
    it.  A log that cannot be read, or a text log over ``max_bytes`` bytes (None: no cap), is a
    :class:`UserError`."""
    max_bytes = check_max_bytes(max_bytes)
    paths = _sources(sources)
    if out is None:
        out = default_out(paths)
        if out.exists() and not is_lrscope_report(out) and not is_run_dir(out.parent):
            raise UserError(f"{path_label(out)} exists and lrscope did not write it; give --out FILE.html")
    out = Path(out)
    if out.suffix.lower() not in REPORT_SUFFIXES:
        raise UserError(f"the report is HTML; give an --out ending in .html, got {path_label(out)!r}")
    if len(paths) == 1 and is_demo_directory(paths[0]):
        page = _directory_page(paths[0], max_bytes)
    else:
        page = _sources_page(paths, max_bytes)
    write_text(out, page)
    return out


def _title(paths: list[Path]) -> str:
    names = [name_of(p.resolve()) for p in paths]
    return "lrscope report: " + (names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more")


def _read(path: Path, max_bytes: int | None) -> list:
    if path.is_dir() and is_run_dir(path):
        return [read_run(path, max_bytes)]
    try:
        return read_log_runs(path, max_bytes)
    except UserError as error:
        if path.is_dir():
            raise UserError(
                f"{path_label(path)} is not an lrscope run directory (no {METRICS} or {CONFIG} in it) and holds "
                f"no log lrscope reads ({error})"
            ) from None
        raise


def _sources_page(paths: list[Path], max_bytes: int | None) -> str:
    runs = [run for path in paths for run in _read(path, max_bytes)]
    top_missing: list[str] = []
    top = [s for s in [runs_compared_section(runs, top_missing)] if s is not None] if len(runs) > 1 else []
    views = []
    for run in runs:
        run_missing: list[str] = []
        sections = run_sections(run, run_missing) if isinstance(run, RunResults) else log_sections(run, run_missing)
        views.append(RunView(run.name, run.path, sections, run_missing))
    named = len(views) > 1
    missing = top_missing + [f"{v.name}: {m}" if named and not m.startswith(v.name) else m
                             for v in views for m in v.missing]
    dirs = [r for r in runs if isinstance(r, RunResults)]
    bottom = [s for s in [config_section(dirs, missing)] if s is not None] if dirs else []
    if len(dirs) < len(runs):
        missing.append(NO_PROBES)
    return render_page(_title(paths), _subtitle(runs), top, views, missing, bottom)


def _directory_page(path: Path, max_bytes: int | None) -> str:
    directory = read_directory(path, run_dirs_inside(path), max_bytes)
    top_missing: list[str] = []
    top = top_sections(directory, top_missing)
    views = []
    for run in directory.runs:
        run_missing: list[str] = []
        views.append(RunView(run.name, run.path, run_sections(run, run_missing), run_missing))
    missing = top_missing + [f"{v.name}: {m}" for v in views for m in v.missing]
    bottom = [s for s in [config_section(directory.runs, missing)] if s is not None]
    names = " and ".join(v.name for v in views)
    return render_page(_title([path]), f"{len(views)} runs: {names}", top, views, missing, bottom)


def _subtitle(runs: list) -> str:
    if len(runs) > 1:
        return f"{len(runs)} runs: " + ", ".join(r.name for r in runs)
    run = runs[0]
    if not isinstance(run, RunResults):
        log = run.log
        return f"{run.name} · {log.format} · {log.rows} rows"
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
