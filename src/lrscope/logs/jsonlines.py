"""JSON-lines logs: one object a line, possibly after a text prefix (``json_stats: {...}``), among other
lines.

Lines that hold no JSON object (option dumps, banners, model summaries) are skipped; a torn last line (a run
killed
mid-write) is data lost, not an error.  Nested objects are flattened with "/" (``{"train": {"loss": 1}}`` ->
``train/loss``); numbers in strings ("0.5", "93.1%") are read; lists of numbers are summarised by their mean.
lrscope's own ``metrics.jsonl`` (records with ``"kind": "epoch"|"step"``) keeps the epoch records when there
are
enough of them, else the step records.
"""

from __future__ import annotations

import json
import math

import numpy as np

from ..errors import UserError

_DECODER = json.JSONDecoder()


def parse_object_line(line: str) -> dict | None:
    """The JSON object on a line (after any prefix), or None."""
    i = line.find("{")
    if i < 0:
        return None
    try:
        obj, _ = _DECODER.raw_decode(line, i)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def count_object_lines(text: str, limit: int = 5000) -> tuple[int, int]:
    """(object lines, non-empty lines) among the first ``limit`` non-empty lines."""
    objects = total = 0
    for line in text.split("\n", limit)[:limit]:
        if not line.strip():
            continue
        total += 1
        if "{" in line and parse_object_line(line) is not None:
            objects += 1
    return objects, total


def _flatten(obj: dict, prefix: str, out: dict) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + "/", out)
        else:
            out[name] = value


def _number(value, flags: dict, name: str) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        v = value.strip()
        if v.endswith("%"):
            v = v[:-1]
        try:
            return float(v)
        except ValueError:
            return math.nan
    if isinstance(value, list):
        nums = [float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums:
            flags.setdefault("lists", set()).add(name)
            return float(np.mean(nums))
    return math.nan


def read_jsonlines(text: str, path: str, notes: list[str]) -> dict[str, np.ndarray]:
    records: list[dict] = []
    lines = text.split("\n")
    skipped = 0
    last_content = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    torn = False
    for i, line in enumerate(lines):
        if "{" not in line:
            if line.strip():
                skipped += 1
            continue
        obj = parse_object_line(line)
        if obj is None:
            if i == last_content:
                torn = True
            else:
                skipped += 1
            continue
        flat: dict = {}
        _flatten(obj, "", flat)
        records.append(flat)
    if torn:
        notes.append("the last line is a torn JSON object (a run still writing?): ignored it")
    if skipped and records:
        notes.append(f"skipped {skipped} line(s) that hold no JSON object")
    if not records:
        raise UserError(f"{path}: no JSON object lines with data")
    kinds = [r.get("kind") for r in records]
    if any(k in ("epoch", "step") for k in kinds):
        epochs = [r for r in records if r.get("kind") == "epoch"]
        steps = [r for r in records if r.get("kind") == "step"]
        if len(epochs) >= 3 or not steps:
            records = epochs or records
            notes.append(f"read the {len(records)} epoch records (of {len(kinds)} records)")
        else:
            records = steps
            notes.append(f"read the {len(records)} step records (too few epoch records)")
    names: dict[str, None] = {}
    for r in records:
        for k in r:
            names.setdefault(k, None)
    flags: dict = {}
    columns = {}
    for name in names:
        values = [r.get(name) for r in records]
        if not any(isinstance(v, (int, float, str, list)) and not isinstance(v, bool) for v in values):
            continue
        col = np.array([_number(v, flags, name) for v in values], dtype=np.float64)
        columns[name] = col
    for name in sorted(flags.get("lists", ())):
        notes.append(
            f"field {name!r} holds lists (e.g. per-batch values): summarised each record by its mean"
        )
    return columns
