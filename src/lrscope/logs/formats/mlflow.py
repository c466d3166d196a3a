"""MLflow metric files: ``mlruns/<experiment>/<run>/metrics/<name>``.

Each file holds one metric, one logged value a line: ``timestamp value step`` (the time in milliseconds since
1970, the value as a float, the integer step), in the order logged.  The metric's name is the file's path
under ``metrics/`` (``metrics/train/loss`` is ``train/loss``).

:func:`read` reads one such file (its name comes from the label); :func:`read_run_metrics` reads every metric
of a run and aligns them on step.  A step logged twice keeps its last value.  Metrics logged without a step
(MLflow then writes step 0 on every line) are aligned by their record number instead, said in a note.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from ...errors import UserError
from . import Parsed

_SNIFF_LINES = 50
_SNIFF_BYTES = 65536
_MIN_TIMESTAMP_MS = 10**11  # 1973 in milliseconds; a seconds timestamp or a counter is smaller
_MAX_FILE_BYTES = 512 * 1024**2
_MAX_FILES = 10_000
_SYSTEM = "system/"  # MLflow's system metrics (CPU, GPU, memory samples): their steps are sample counts


def sniff(text: str) -> bool:
    """Each of the first 50 non-empty lines is ``integer value integer`` with a millisecond timestamp."""
    lines = _head_lines(text)
    return bool(lines) and all(_is_record(line) for line in lines)


def hint(text: str) -> str | None:
    lines = _head_lines(text)
    if lines and len(lines[0].split()) == 3 and all(_is_float(p) for p in lines[0].split()):
        return "an MLflow metric file? its lines are not all `timestamp(ms) value step`"
    return None


def read(text: str, label: str, notes: list[str]) -> Parsed:
    name = _metric_name(label)
    step, value = _parse(text, label)
    columns, aligned_by_record = _align({name: (step, value)})
    if aligned_by_record:
        notes.append(f"every step of {name!r} is the same (logged without step=): took record N as the step")
    return Parsed(columns=columns, x="step")


def read_run_metrics(metrics_dir: Path, notes: list[str]) -> Parsed:
    """Every metric file under a run's ``metrics/`` directory, as columns aligned on step.

    Regular files only (links to directories are not followed), at most 512 MB each; ``system/`` metrics are
    left out (their steps count samples, not training steps), and so are metrics that hold a single value
    while others hold many (summaries such as a final ``train_loss``), each said in a note.
    """
    metrics_dir = Path(metrics_dir)
    label = str(metrics_dir)
    if not metrics_dir.is_dir():
        raise UserError(f"{label} is not a directory (an MLflow run's metrics/ directory was expected)")
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    system: list[str] = []
    for path in _metric_files(metrics_dir):
        name = path.relative_to(metrics_dir).as_posix()
        if name.startswith(_SYSTEM):
            system.append(name)
            continue
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            notes.append(f"left out metric {name!r}: its file is {size / 1024**2:.0f} MB, over the 512 MB limit")
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise UserError(f"cannot read {path}: {error.strerror or error}") from None
        if not text.strip():
            continue
        series[name] = _parse(text, str(path))
    if system:
        notes.append(f"left out {len(system)} MLflow system metric(s) ({system[0]}...): not training metrics")
    if not series:
        raise UserError(f"{label}: no MLflow metric files with values in it")
    lengths = {name: len(s[0]) for name, s in series.items()}
    if max(lengths.values()) >= 3:
        single = [name for name, n in lengths.items() if n == 1]
        if single:
            for name in single:
                del series[name]
            notes.append(
                f"left out {len(single)} metric(s) logged once ({', '.join(single[:6])}"
                f"{' ...' if len(single) > 6 else ''}): summaries, not curves"
            )
    columns, aligned_by_record = _align(series)
    if aligned_by_record:
        notes.append("every metric was logged at one step (no step=): aligned the metrics by record number")
    return Parsed(columns=columns, x="step")


# ------------------------------------------------------------------------------------------------ one file


def _head_lines(text: str) -> list[str]:
    head = text[:_SNIFF_BYTES]
    lines = head.split("\n")
    if len(head) < len(text):
        lines = lines[:-1]  # cut in the middle
    return [line for line in lines if line.strip()][:_SNIFF_LINES]


def _is_record(line: str) -> bool:
    parts = line.split()
    if len(parts) != 3 or not (parts[0].isdigit() and _is_int(parts[2])):
        return False
    return int(parts[0]) >= _MIN_TIMESTAMP_MS and _is_float(parts[1])


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _metric_name(label: str) -> str:
    """The metric's name: the label's part after ``metrics/``, else its last path component."""
    path = label.replace("\\", "/")
    if "/metrics/" in path:
        return path.rsplit("/metrics/", 1)[1].strip("/") or "value"
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name if name and not name.startswith("<") else "value"


def _parse(text: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(step, value) of every line of a metric file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on an empty input; that is refused below
            table = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        raise UserError(f"{label} is not an MLflow metric file: {_first_bad_line(text)}") from None
    if table.shape[0] == 0:
        raise UserError(f"{label}: no data (an MLflow metric file with no lines)")
    if table.shape[1] != 3:
        raise UserError(f"{label} is not an MLflow metric file: {_first_bad_line(text)}")
    return table[:, 2], table[:, 1]


def _first_bad_line(text: str) -> str:
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip() and not _is_record(line):
            shown = line.strip()
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            return f"line {number} is {shown!r}, not `timestamp(ms) value step`"
    return "its lines are not `timestamp(ms) value step`"


# ------------------------------------------------------------------------------------------------ a run


def _metric_files(root: Path) -> list[Path]:
    """The metric files under ``root`` (regular files, hidden ones skipped; links to directories not followed),
    sorted, from a bounded walk of at most :data:`_MAX_FILES` entries."""
    from ..paths import files_under

    return [f for f in files_under(root, _MAX_FILES) if not f.name.startswith(".")]


def _align(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[dict[str, np.ndarray], bool]:
    """Columns on the union of the steps (sorted), each metric's last value at a step; when every metric has
    a single step and some have several lines, the record number is the step."""
    by_record = all(len(np.unique(s)) == 1 for s, _ in series.values()) and any(len(s) > 1 for s, _ in series.values())
    if by_record:
        series = {name: (np.arange(len(v), dtype=np.float64), v) for name, (_, v) in series.items()}
    steps = np.unique(np.concatenate([s for s, _ in series.values()]))
    columns = {"step": steps}
    for name, (step, value) in series.items():
        column = np.full(len(steps), np.nan)
        # the last value logged at each step: np.unique on the reversed steps finds the last occurrence
        _, last_from_end = np.unique(step[::-1], return_index=True)
        last = len(step) - 1 - last_from_end
        column[np.searchsorted(steps, step[last])] = value[last]
        key = name if name != "step" else "step (metric)"
        columns[key] = column
    return columns, by_record
