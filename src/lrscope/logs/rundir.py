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
from pathlib import Path

from ..errors import UserError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
EXPLAIN = "explain.json"
PROBES = "probes"
REPORT = "report.html"


def is_run_dir(path: str | Path) -> bool:
    """A directory holding an lrscope metrics.jsonl or config.json."""
    path = Path(path)
    return path.is_dir() and ((path / METRICS).is_file() or (path / CONFIG).is_file())


def require_run_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if not is_run_dir(path):
        raise UserError(f"{path} is not an lrscope run directory (no {METRICS} or {CONFIG} in it)")
    return path


def read_config(run_dir: str | Path) -> dict:
    """config.json as a dict ({} when absent)."""
    path = Path(run_dir) / CONFIG
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is not readable JSON ({error})") from None


def iter_records(path: str | Path):
    """Yield every JSON object of a metrics.jsonl; lines that do not parse (a torn tail) are skipped."""
    with open(path, "rb") as f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


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
