"""The lrscope run directory: its file names, and reading its metrics back.

::

    RUN/
      config.json        everything needed to rerun: data, model, optimizer, schedule spec, seed, versions
      metrics.jsonl      one JSON object a line; "kind": "epoch" or "step"
      checkpoints/       epoch-NNNN.pt
      explain.json       written by explain
      probes/            finder, landscape, sharpness, noise results (npz + json)
      report.html        written by report

A reader tolerates a torn last line (a run killed mid-write): it is skipped, never an error.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from ..errors import UserError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
EXPLAIN = "explain.json"
PROBES = "probes"
REPORT = "report.html"
CHECKPOINT_NAME = re.compile(r"^epoch-(\d{4,})\.pt$")  # epoch-NNNN.pt: NNNN completed epochs


def is_run_dir(path: str | Path) -> bool:
    """A directory holding an lrscope metrics.jsonl or config.json.

    A Hugging Face output or checkpoint directory also holds a config.json (the model's): one with a
    ``trainer_state.json`` beside it, or whose config.json names a ``model_type``, is not an lrscope run.
    """
    path = Path(path)
    if not path.is_dir():
        return False
    if (path / METRICS).is_file():
        return True
    config = path / CONFIG
    if not config.is_file() or (path / "trainer_state.json").is_file():
        return False
    try:
        if config.stat().st_size <= 1 << 20:
            head = config.read_text(encoding="utf-8", errors="replace")
            if '"model_type"' in head or '"architectures"' in head:
                return False
    except OSError:
        pass
    return True


def require_run_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if not is_run_dir(path):
        raise UserError(f"{path} is not an lrscope run directory (no {METRICS} or {CONFIG} in it)")
    return path


def read_config(run_dir: str | Path) -> dict:
    """config.json as a dict ({} when absent); :class:`UserError` when it is not readable JSON or not an object."""
    path = Path(run_dir) / CONFIG
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is not readable JSON ({error})") from None
    if not isinstance(document, dict):
        raise UserError(f"{path} must hold a JSON object of settings; it holds a {_json_kind(document)}")
    return document


def _json_kind(value) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


# Fields of lrscope's own records that readers use as numbers: a record where one holds anything else (a string,
# a list, true) was not written by lrscope's recorder, and is skipped rather than handed on.
NUMERIC_FIELDS = frozenset(
    {
        "epoch",
        "step",
        "lr",
        "loss",
        "momentum",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "epoch_time_s",
        "sharpness",
        "grad_sq",
        "noise_trace",
        "noise_trace_q25",
        "noise_trace_q75",
        "noise_n",
        "b_simple",
        "noise_batch",
        "noise_groups",
    }
)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def record_problem(record) -> str | None:
    """Why ``record`` (one parsed line of metrics.jsonl) is not a usable lrscope record; None when it is.

    A record is a JSON object; ``kind``, when present, is a string; the fields in :data:`NUMERIC_FIELDS` are
    numbers or null; an epoch record's ``epoch`` and any record's ``step`` are whole numbers >= 0.
    """
    if not isinstance(record, dict):
        return f"it is a JSON {_json_kind(record)}, not an object"
    kind = record.get("kind")
    if kind is not None and not isinstance(kind, str):
        return f"its 'kind' is {_json_kind(kind)}, not a string"
    for key in NUMERIC_FIELDS.intersection(record):
        value = record[key]
        if value is not None and not _is_number(value):
            return f"its {key!r} is a {_json_kind(value)}, not a number"
    counters = ("epoch", "step") if kind == "epoch" else ("step",)
    for key in counters:
        value = record.get(key)
        if value is not None and not (
            _is_number(value) and math.isfinite(value) and value >= 0 and float(value).is_integer()
        ):
            return f"its {key!r} is {value!r}, not a whole number >= 0"
    return None


def _parsed_lines(f):
    """(line number, raw bytes, record, problem) for each non-blank line of an open metrics.jsonl; ``problem`` is
    None for a usable record (see :func:`record_problem`)."""
    for number, raw in enumerate(f, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            yield number, raw, None, "it is not JSON"
            continue
        yield number, raw, record, record_problem(record)


def iter_records(path: str | Path):
    """Yield every usable record of a metrics.jsonl (see :func:`record_problem`); lines that do not parse (a
    torn tail) and records of the wrong shape are skipped."""
    with open(path, "rb") as f:
        for _, _, record, problem in _parsed_lines(f):
            if problem is None:
                for key in ("epoch", "step"):  # whole numbers written as 3.0 read back as 3
                    if isinstance(record.get(key), float) and (key == "step" or record.get("kind") == "epoch"):
                        record[key] = int(record[key])
                yield record


def check_metrics(run_dir: str | Path) -> None:
    """Raise :class:`UserError` unless every line of RUN/metrics.jsonl is a usable record.

    Blank lines and a torn last line (no newline at its end: a write killed half-way) are allowed; a resumed
    run cuts the torn line off.  Anything else (a line that is not JSON, or a record of the wrong shape) means
    the file is not what lrscope wrote, and a resume that rewrote it would lose what is there.
    """
    path = Path(run_dir) / METRICS
    if not path.exists():
        return
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    with f:
        for number, raw, _, problem in _parsed_lines(f):
            if not raw.endswith(b"\n"):
                return  # the torn last line
            if problem:
                raise UserError(f"{path} line {number} is not an lrscope record: {problem}")


def read_metrics(run_dir: str | Path, kind: str | None = None) -> list[dict]:
    """All records of ``kind`` ("epoch" or "step"; None for all) in file order.

    Repeated epochs (a run resumed after a crash rewrote them) keep the last record.
    """
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    records = [r for r in iter_records(path) if kind is None or r.get("kind") == kind]
    if kind == "epoch":
        last: dict[int, dict] = {}
        for record in records:
            last[record.get("epoch")] = record
        records = list(last.values())
    return records


def finite_or_none(value) -> float | None:
    """JSON has no NaN: metrics store non-finite numbers as null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------- checkpoint names (the one place that knows them)


def checkpoint_dir(run_dir: str | Path) -> Path:
    """RUN/checkpoints."""
    return Path(run_dir) / CHECKPOINTS


def checkpoint_path(run_dir: str | Path, epoch: int) -> Path:
    """RUN/checkpoints/epoch-NNNN.pt for ``epoch`` completed epochs."""
    return checkpoint_dir(run_dir) / f"epoch-{int(epoch):04d}.pt"


def list_checkpoints(run_dir: str | Path) -> dict[int, Path]:
    """{completed epochs: path}, sorted by epoch (empty when there are none)."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = CHECKPOINT_NAME.match(path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))
