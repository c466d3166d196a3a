"""Where lrscope may write: an output never replaces one of the command's inputs or a run's own records.

Two rules, checked before anything is computed, so that a refused command has written nothing:

* :func:`check_output` - an output path given by the user (``--out``, ``--plot``) must have a suffix the
  writer produces (a figure .png/.svg/.pdf, a report .html, an animation .gif/.mp4), must not be one of the
  command's inputs (``explain --plot log.csv`` would put a PNG where the log was), and must not be a record of a
  run directory (config.json, metrics.jsonl, anything under checkpoints/).  Derived files lrscope writes itself
  (report.html, explain.json, probes/*) may be replaced.
* :func:`run_subdir` - a folder lrscope writes inside a run (``RUN/probes``) follows no symlink: a shared run
  whose ``probes`` points elsewhere would otherwise have lrscope replace files in the link's target.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import UserError

FIGURE = (".png", ".svg", ".pdf")
REPORT = (".html",)
ANIMATION = (".gif", ".mp4", ".png")

# a run directory's own record: what `lrscope train` wrote and nothing else can rebuild
_RECORD_FILES = ("config.json", "metrics.jsonl")
_RECORD_FOLDERS = ("checkpoints",)
_RUN_MARKERS = ("config.json", "metrics.jsonl")


def check_output(path: str | os.PathLike, *, suffixes: Iterable[str], option: str = "--out",
                 inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """``path`` if lrscope may write it, else :class:`UserError` naming why (nothing is written either way)."""
    path = Path(path)
    allowed = tuple(suffixes)
    for source in inputs:
        if _same_file(path, Path(source)):
            raise UserError(f"{option} {_shown(path)} is an input of this command; give another file name")
    record = run_record(path)
    if record is not None:
        raise UserError(f"{option} {_shown(path)} is {record}; lrscope never replaces a run's records")
    if path.suffix.lower() not in allowed:
        shown = path.suffix or "no suffix"
        raise UserError(f"{option} {_shown(path)}: cannot write {shown}; give a file ending in "
                        f"{', '.join(allowed)}")
    if path.is_dir():
        raise UserError(f"{option} {_shown(path)} is a directory; give a file name")
    return path


def check_output_dir(path: str | os.PathLike, *, option: str = "--out") -> Path:
    """A directory lrscope creates or writes derived files into: not an existing file, not inside a run's
    checkpoints/."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {_shown(path)} exists and is not a directory")
    record = run_record(path)
    if record is not None:
        raise UserError(f"{option} {_shown(path)} is {record}; lrscope never writes into a run's records")
    return path


def run_record(path: str | os.PathLike) -> str | None:
    """What run record ``path`` is ("the run's config.json", ...), or None when it is not one.

    The path is resolved (symlinks followed) and each folder above it is looked at: a folder holding
    config.json or metrics.jsonl is a run directory, and its config.json, metrics.jsonl and everything under
    checkpoints/ are its records."""
    resolved = _resolve(Path(path))
    for run in resolved.parents:
        if not any((run / marker).is_file() for marker in _RUN_MARKERS):
            continue
        relative = resolved.relative_to(run).parts
        if len(relative) == 1 and relative[0] in _RECORD_FILES:
            return f"the {relative[0]} of the run {_shown(run)}"
        if relative and relative[0] in _RECORD_FOLDERS:
            return f"inside the {relative[0]}/ of the run {_shown(run)}"
    return None


def run_subdir(run_dir: str | os.PathLike, name: str, *, create: bool = True) -> Path:
    """``RUN/name`` (created if needed and ``create``), refused when it is a symlink or leads out of RUN.

    Call it with ``create=False`` before the work, so a refusal leaves the run as it was, and again to write."""
    run_dir = Path(run_dir)
    folder = run_dir / name
    if folder.is_symlink() or (folder.exists() and not _inside(folder, run_dir, strict=True)):
        raise UserError(f"{_shown(folder)} is a symlink; lrscope writes only inside the run directory, "
                        f"never through a link (remove it or make it a real folder)")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{_shown(folder)} exists and is not a directory")
    if create:
        folder.mkdir(exist_ok=True)
    return folder


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return _resolve(a) == _resolve(b)


def _inside(path: Path, folder: Path, *, strict: bool) -> bool:
    """``path`` lies inside ``folder`` once both are resolved (strict: and is not ``folder`` itself)."""
    inner, outer = _resolve(path), _resolve(folder)
    return (inner != outer or not strict) and (inner == outer or outer in inner.parents)


def _shown(path: Path) -> str:
    """A path as text that any terminal can print (bytes that are not UTF-8 shown as escapes)."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")
