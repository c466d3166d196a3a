"""Which runs a directory holds, before any of them is read.

A directory given to ``lrscope explain`` may be one run or many.  The rules, in order (the first that finds
something decides):

1. an lrscope run directory (:func:`lrscope.logs.rundir.is_run_dir`): one run;
2. a Hugging Face Trainer output or ``checkpoint-N`` directory: ``trainer_state.json`` in it, else the one in the
   ``checkpoint-N`` sub-directory with the largest N (each checkpoint's state holds the whole log so far);
3. MLflow: every ``<run>/metrics/`` folder under it (``mlruns/<experiment>/<run>/metrics/<name>``) is a run,
   named by its ``tags/mlflow.runName`` when there is one;
4. TensorBoard: a run is a directory that holds event files, as TensorBoard itself defines runs; sibling
   directories named like Keras's ``train``/``validation`` split of one run are that one run (their tags get
   the sub-directory as prefix);
5. training logs by name (``metrics.csv``, ``log.txt``, ``training.log``, ...): each is a run (PyTorch
   Lightning writes ``lightning_logs/version_N/metrics.csv``);
6. OpenMMLab 1.x ``work_dirs``: each ``<timestamp>.log.json`` is a run (one per launch).

Runs come in natural order (``version_2`` before ``version_10``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LOG_NAMES = (
    "metrics.csv",
    "metrics.jsonl",
    "log.txt",
    "log.csv",
    "training.log",
    "history.csv",
    "log.jsonl",
    "stats.log",
    "results.csv",
    "metrics.json",
    "trainer_state.json",
    "log",
)
# OpenMMLab 1.x work_dirs: one <timestamp>.log.json per launch (its <timestamp>.log is the same as text)
TIMESTAMPED_LOG = re.compile(r".+\.log\.json")
SPLIT_NAMES = {"train", "training", "validation", "val", "valid", "eval", "evaluation", "test"}


@dataclass
class RunSource:
    """Where one run's data lies: ``kind`` is run | hf | mlflow | tensorboard | file."""

    kind: str
    path: Path  # the run directory, the metrics folder, or the log file
    label: str
    files: list[Path] = field(default_factory=list)  # tensorboard: the run's event files


def natural_key(path: Path) -> list:
    """Sort key that orders numbers by value: version_2 < version_10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(path))]


def find_runs(directory: Path, files: list[Path]) -> list[RunSource]:
    """The runs under ``directory`` (whose regular files, bounded, are ``files``); [] when none."""
    from . import rundir
    from .runlog import path_label

    if rundir.is_run_dir(directory):
        return [RunSource("run", directory, path_label(directory))]
    state = _trainer_state(directory, files)
    if state is not None:
        return [RunSource("hf", state, path_label(state))]
    mlflow = _mlflow_runs(directory, files)
    if mlflow:
        return mlflow
    events = _tensorboard_runs(directory, files)
    if events:
        return events
    for name in LOG_NAMES:
        found = sorted((f for f in files if f.name == name), key=natural_key)
        if found:
            # named by their directories: version_0, version_1 ... (the file names are all the same)
            return [RunSource("file", f, path_label(f.parent if len(found) > 1 else f)) for f in found]
    found = sorted((f for f in files if TIMESTAMPED_LOG.fullmatch(f.name)), key=natural_key)
    return [RunSource("file", f, path_label(f)) for f in found]


def _trainer_state(directory: Path, files: list[Path]) -> Path | None:
    direct = directory / "trainer_state.json"
    if direct.is_file():
        return direct
    best, best_n = None, -1
    for f in files:
        m = re.fullmatch(r"checkpoint-(\d+)", f.parent.name)
        if f.name == "trainer_state.json" and m and int(m.group(1)) > best_n:
            best, best_n = f, int(m.group(1))
    return best


def _mlflow_runs(directory: Path, files: list[Path]) -> list[RunSource]:
    from .runlog import path_label

    folders = set()
    for f in files:
        parts = f.relative_to(directory).parts
        if "metrics" in parts[:-1]:
            k = len(parts) - 1 - parts[::-1].index("metrics")  # the last "metrics" folder above the file
            folder = directory.joinpath(*parts[: k + 1])
            if (folder.parent / "meta.yaml").is_file() or folder.parent == directory:
                folders.add(folder)
    runs = []
    for folder in sorted(folders, key=natural_key):
        run_dir = folder.parent
        name_file = run_dir / "tags" / "mlflow.runName"
        name = run_dir.name
        try:
            if name_file.is_file() and name_file.stat().st_size < 4096:
                name = name_file.read_text(encoding="utf-8", errors="replace").strip() or name
        except OSError:
            pass
        runs.append(RunSource("mlflow", folder, f"{path_label(run_dir)} ({path_label(name)})"))
    return runs


def _tensorboard_runs(directory: Path, files: list[Path]) -> list[RunSource]:
    from .runlog import path_label
    from .tensorboard import is_event_file

    by_dir: dict[Path, list[Path]] = {}
    for f in files:
        if is_event_file(f):
            by_dir.setdefault(f.parent, []).append(f)
    if not by_dir:
        return []
    # Keras writes one run as train/ and validation/ siblings: their parent is the run
    runs: dict[Path, list[Path]] = {}
    for d, fs in by_dir.items():
        run = d.parent if d.name.lower() in SPLIT_NAMES and d != directory else d
        runs.setdefault(run, []).extend(fs)
    return [
        RunSource("tensorboard", run, path_label(run), sorted(fs))
        for run, fs in sorted(runs.items(), key=lambda t: natural_key(t[0]))
    ]
