"""JSON-lines logs: one object a line, possibly after a text prefix (``json_stats: {...}``), among other
lines.

Lines that hold no JSON object (option dumps, banners, model summaries, a JSON list) are skipped; a torn last
line (a run killed mid-write) is data lost, not an error.  Nested objects are flattened with "/"
(``{"train": {"loss": 1}}`` -> ``train/loss``); numbers in strings ("0.5", "93.1%") are read; lists of numbers
are summarised by their mean; 1e999 is infinity.  lrscope's own ``metrics.jsonl`` (records with
``"kind": "epoch"|"step"``) keeps the epoch records when there are enough of them, else the step records.

Records become columns as they are read (:class:`ColumnBuilder`): memory follows the numbers in the log, not
the Python objects of its records, and a log whose records each bring new field names (a table that would be
mostly holes) is refused before its table is built.
"""

from __future__ import annotations

import json
import math
from array import array

import numpy as np

from ..errors import UserError

_DECODER = json.JSONDecoder()
MIN_CELLS = 50_000_000  # a table of this many cells (400 MB) is always allowed; beyond, one cell a text byte


def parse_object_line(line: str) -> dict | None:
    """The JSON object on a line (after any prefix), or None."""
    i = line.find("{")
    if i < 0:
        return None
    try:
        obj, _ = _DECODER.raw_decode(line, i)
    except (ValueError, RecursionError):  # RecursionError: [[[[... nested deeper than the parser goes
        return None
    return obj if isinstance(obj, dict) else None


def iter_lines(text: str, limit: int | None = None, start: int = 0):
    """The lines of ``text[start:]`` one at a time (no list of them all: a 2 GB log of short lines stays 2 GB)."""
    pos, n, count = start, len(text), 0
    while pos < n and (limit is None or count < limit):
        end = text.find("\n", pos)
        if end < 0:
            end = n
        yield text[pos:end]
        pos = end + 1
        count += 1


def count_object_lines(text: str, limit: int = 5000) -> tuple[int, int]:
    """(object lines, non-empty lines) among the first ``limit`` non-empty lines."""
    objects = total = 0
    for line in iter_lines(text, limit):
        if not line.strip():
            continue
        total += 1
        if "{" in line and parse_object_line(line) is not None:
            objects += 1
    return objects, total


def _flatten(obj: dict, prefix: str, out: dict) -> None:
    stack = [(obj, prefix)]  # a loop, not recursion: the decoder accepts nesting deeper than we may recurse
    while stack:
        here, pre = stack.pop()
        for key, value in here.items():
            name = f"{pre}{key}"
            if isinstance(value, dict):
                stack.append((value, name + "/"))
            else:
                out[name] = value


def _float(value) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return math.inf if value > 0 else -math.inf


def _number(value, flags: dict, name: str) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, (int, float)):
        return _float(value)
    if isinstance(value, str):
        v = value.strip()
        if v.endswith("%"):
            v = v[:-1]
        if len(v) > 100:  # not a number anyone wrote: float() of a long digit string is slow
            return math.nan
        try:
            return float(v)
        except ValueError:
            return math.nan
    if isinstance(value, list):
        nums = [_float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums:
            flags.setdefault("lists", set()).add(name)
            with np.errstate(all="ignore"):
                return float(np.mean(nums))
    return math.nan


class ColumnBuilder:
    """Records (dicts) in, float64 columns out, without keeping the records.

    ``convert(value, name)`` gives a field's number, NaN, or None when the value does not make the field a
    column.  Each field keeps the rows and values it has (16 bytes a value); :meth:`columns` lays them out.
    """

    def __init__(self, convert):
        self.convert = convert
        self.rows = 0
        self._fields: dict[str, tuple[array, array]] = {}

    def add(self, record: dict) -> int:
        """Add one record; returns its row number."""
        row = self.rows
        self.rows += 1
        fields = self._fields
        for name, value in record.items():
            number = self.convert(value, name)
            if number is None:
                continue
            entry = fields.get(name)
            if entry is None:
                entry = fields[name] = (array("q"), array("d"))
            entry[0].append(row)
            entry[1].append(number)
        return row

    def columns(self, label: str, rows=None, max_cells: int = MIN_CELLS) -> dict[str, np.ndarray]:
        """The columns over ``rows`` (row numbers, in the order wanted; None: every row), NaN where a record
        had no value.  Fields that have no value in those rows are left out; the rest come in the order of
        their first value.  More than ``max_cells`` cells is a UserError."""
        if rows is None:
            n = self.rows
            position = None
        else:
            rows = np.asarray(rows, dtype=np.int64)
            n = len(rows)
            position = np.full(self.rows, -1, dtype=np.int64)
            position[rows] = np.arange(n)
        laid: list[tuple[int, str, np.ndarray, np.ndarray]] = []
        for name, (idx, values) in self._fields.items():
            where = np.frombuffer(idx, dtype=np.int64) if len(idx) else np.zeros(0, dtype=np.int64)
            vals = np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0)
            if position is not None:
                where = position[where]
                ok = where >= 0
                where, vals = where[ok], vals[ok]
            if len(where):
                laid.append((int(where.min()), name, where, vals))
        cells = len(laid) * n
        if cells > max_cells:
            raise UserError(
                f"{label}: {len(laid):,} different fields over {n:,} records ({cells:,} cells, mostly empty) "
                f"is not a training log's table"
            )
        laid.sort(key=lambda t: t[0])  # stable: fields first seen in the same row keep their order
        out = {}
        for _, name, where, vals in laid:
            col = np.full(n, np.nan)
            col[where] = vals
            out[name] = col
        return out


def read_jsonlines(text: str, path: str, notes: list[str]) -> dict[str, np.ndarray]:
    flags: dict = {}

    def convert(value, name):
        if isinstance(value, (int, float, str, list)) and not isinstance(value, bool):
            return _number(value, flags, name)
        return None

    builder = ColumnBuilder(convert)
    kinds = array("b")  # 1 epoch record, 2 step record, 0 any other
    skipped = 0
    pending = False  # the last line with content so far was a '{' line that did not parse: torn if it stays last
    for line in iter_lines(text):
        if "{" not in line:
            if line.strip():
                skipped += 1 + pending
                pending = False
            continue
        obj = parse_object_line(line)
        if obj is None:
            skipped += pending
            pending = True
            continue
        skipped += pending
        pending = False
        flat: dict = {}
        _flatten(obj, "", flat)
        kind = flat.get("kind")
        kinds.append(1 if kind == "epoch" else 2 if kind == "step" else 0)
        builder.add(flat)
    records = builder.rows
    if pending:
        notes.append("the last line is a torn JSON object (a run still writing?): ignored it")
    if skipped and records:
        notes.append(f"skipped {skipped} line(s) that hold no JSON object")
    if not records:
        raise UserError(f"{path} is not a jsonlines log: no line holds a JSON object")
    codes = np.frombuffer(kinds, dtype=np.int8)
    rows = None
    if codes.any():
        epochs, steps = np.nonzero(codes == 1)[0], np.nonzero(codes == 2)[0]
        if len(epochs) >= 3 or not len(steps):
            if len(epochs):
                rows = epochs
            notes.append(f"read the {len(epochs) or records} epoch records (of {records} records)")
        else:
            rows = steps
            notes.append(f"read the {len(steps)} step records (too few epoch records)")
    columns = builder.columns(path, rows, max_cells=max(MIN_CELLS, len(text)))
    for name in sorted(flags.get("lists", ())):
        if name in columns:
            notes.append(
                f"field {_short(name)!r} holds lists (e.g. per-batch values): summarised each record by its mean"
            )
    return columns


def _short(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."
