"""Delimited text logs with a header line: CSV, TSV, whitespace tables.

Covers Keras ``CSVLogger`` files, PyTorch Lightning ``metrics.csv`` (sparse rows; merged later on
epoch/step), W&B
CSV exports (quoted ``"run - metric"`` headers) and ``log.txt`` tables such as
bearpaw/pytorch-classification's
(tab separated, a trailing tab on every line).

Two paths: a fast one for clean numeric tables (the whole body parsed by NumPy's C reader, which is what
makes a
million-row log quick), and a careful one, cell by cell, for messy files: quoted fields, percent signs, list
cells
(per-batch rates, summarised by their mean), ``tensor(0.5)`` cells, text cells and rows of the wrong length.
"""

from __future__ import annotations

import csv
import re
import warnings

import numpy as np

from ..errors import UserError

_DELIMS = ("\t", ",", ";", "|")
_EMPTY_CELL = re.compile(r"(?:^|(?<=,))(?=,|$)", re.MULTILINE)
_NOT_SPACE = re.compile(r"\S")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)", re.IGNORECASE)


def sniff_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the header and the next lines into equal field counts (None: whitespace)."""
    header = lines[0]
    sample = lines[1:20]
    best, best_fields = None, 1
    for d in _DELIMS:
        if d not in header:
            continue
        n = len(_strip_trailing(header, d).split(d))
        if n < 2:
            continue
        nh = len(header.rstrip("\r\n").split(d))
        if sample:
            agree = sum(
                1
                for s in sample
                if abs(len(s.rstrip("\r\n").split(d)) - nh) <= 1 or (d == "," and '"' in s) or "[" in s
            )
            if agree < max(1, len(sample) // 2):
                continue
        if n > best_fields:
            best, best_fields = d, n
    return best


def _strip_trailing(line: str, delim: str | None) -> str:
    line = line.rstrip("\r\n")
    if delim is None:
        return line.strip()
    if delim != "\t":
        line = line.rstrip(" ")
    return line[:-1] if line.endswith(delim) else line


def split_header(header: str, delim: str | None) -> list[str]:
    header = _strip_trailing(header, delim)
    if delim is None:
        names = header.split()
    elif delim == "," and '"' in header:
        try:
            names = next(csv.reader([header]))
        except (csv.Error, StopIteration):  # a NUL or a stray line break in a damaged header
            names = header.split(delim)
    else:
        names = header.split(delim)
    names = [n.strip().strip('"').strip() for n in names]
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"column{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _looks_numeric(field: str) -> bool:
    f = field.strip().strip('"').rstrip("%")
    return bool(f) and _NUMBER.fullmatch(f) is not None


def read_delimited(text: str, path: str, notes: list[str]) -> dict[str, np.ndarray]:
    """Parse a delimited table into float64 columns (NaN for missing or non-numeric cells)."""
    start = 0
    # skip blank lines and '#' comments before the header
    while True:
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip() and not line.lstrip().startswith("#"):
            break
        if end < 0:
            raise UserError(f"{path}: no data (the file is empty)")
        start = end + 1
    head_lines = text[start : start + 65536].split("\n")[:21]
    if len(head_lines) > 1 and len(text) > start + 65536:
        head_lines = head_lines[:-1]  # the last one may be cut
    head_lines = [h for h in head_lines if h.strip()]
    delim = sniff_delimiter(head_lines)
    header_fields = _strip_trailing(head_lines[0], delim).split(delim) if delim else head_lines[0].split()
    if all(_looks_numeric(f) for f in header_fields if f.strip()):
        names = [f"column{i + 1}" for i in range(len(header_fields))]
        notes.append(
            "the first line holds numbers, not names: no header, columns named column1, column2, ..."
        )
        body_start = start
    else:
        names = split_header(head_lines[0], delim)
        end = text.find("\n", start)
        body_start = len(text) if end < 0 else end + 1
    if len(names) < 1:
        raise UserError(f"{path}: could not find column names in the first line")
    if _NOT_SPACE.search(text, body_start) is None:
        raise UserError(f"{path}: no data rows (header only: {', '.join(names[:8])})")
    trailing = delim is not None and _ends_with_delim(head_lines[0], delim)
    table = _fast(text, body_start, delim, len(names), trailing)
    if table is None:
        table = _careful(text[body_start:], delim, names, path, notes)
    # columns are views of the one table: a 10-million-row log is not copied again
    return {name: table[:, i] for i, name in enumerate(names)}


def _ends_with_delim(line: str, delim: str) -> bool:
    line = line.rstrip("\r\n")
    return (line if delim == "\t" else line.rstrip(" ")).endswith(delim)


_CHUNK = 1 << 24  # characters handed to NumPy's reader at a time (line-aligned)


def _fast(text: str, body_start: int, delim: str | None, ncols: int, trailing: bool = False) -> np.ndarray | None:
    """NumPy's C reader on a clean numeric body (``text[body_start:]``), or None when it needs the careful path.

    The body is fed to ``np.loadtxt`` line by line from 16 M-character chunks, so memory stays at the decoded
    text plus the float64 table (a ``StringIO`` of the body would hold 4 bytes a character).
    """
    for mark in ('"', "[", "%", "("):
        if text.find(mark, body_start) >= 0:
            return None
    fixes = []
    if text.find("\r", body_start) >= 0:
        fixes.append(lambda c: c.replace("\r\n", "\n").replace("\r", "\n"))
    if delim is not None and delim != " ":
        if trailing:  # every line ends with the delimiter (bearpaw's log.txt): drop the empty last field
            fixes.append(lambda c: c.replace(delim + "\n", "\n").removesuffix(delim))
        if delim == "," and (
            text.find(",,", body_start) >= 0
            or text.find(",\n", body_start) >= 0
            or text.find("\n,", body_start) >= 0
            or text.startswith(",", body_start)
        ):
            fixes.append(lambda c: _EMPTY_CELL.sub("nan", c.rstrip("\n")))

    def lines():
        pos, n = body_start, len(text)
        while pos < n:
            end = text.find("\n", min(pos + _CHUNK, n))
            end = n if end < 0 else end + 1
            chunk = text[pos:end]
            pos = end
            for fix in fixes:
                chunk = fix(chunk)
            yield from chunk.split("\n")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = np.loadtxt(lines(), delimiter=delim, dtype=np.float64, ndmin=2, comments=None)
    except (ValueError, IndexError, TypeError):
        return None
    if table.ndim != 2 or table.shape[1] != ncols:
        return None
    return table


def _split_brackets(line: str, delim: str | None) -> list[str]:
    """Split at delimiters outside [...] (list cells hold the delimiter themselves)."""
    fields, depth, cur = [], 0, []
    for ch in line:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if depth == 0 and ((delim is None and ch.isspace()) or ch == delim):
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    fields.append("".join(cur))
    if delim is None:
        fields = [f for f in fields if f]
    return fields


def _careful(body: str, delim: str | None, names: list[str], path: str, notes: list[str]) -> np.ndarray:
    ncols = len(names)
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    rows: list[list[str]] = []
    bad = 0
    quoted = '"' in body
    for i, raw in enumerate(lines):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "[" in raw:
            fields = _split_brackets(raw.rstrip(), delim)
        elif quoted and delim is not None:
            try:
                fields = next(csv.reader([raw], delimiter=delim))
            except (csv.Error, StopIteration):
                bad += 1
                continue
        elif delim is None:
            fields = raw.split()
        else:
            fields = raw.split(delim)
        while len(fields) > ncols and not fields[-1].strip():
            fields.pop()
        if len(fields) != ncols:
            if i == len(lines) - 1 and len(fields) < ncols and rows:
                notes.append("the last line is cut short (a run still writing?): ignored it")
            else:
                bad += 1
            continue
        rows.append(fields)
    if bad:
        notes.append(f"skipped {bad} line(s) whose number of fields does not match the header's {ncols}")
    if not rows:
        raise UserError(
            f"{path}: no data rows that match the header ({ncols} columns: {', '.join(names[:8])})"
        )
    table = np.full((len(rows), ncols), np.nan)
    for j, name in enumerate(names):
        cells = [r[j] for r in rows]
        table[:, j] = _column(cells, name, notes)
    return table


def _column(cells: list[str], name: str, notes: list[str]) -> np.ndarray:
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        pass
    out = np.full(len(cells), np.nan)
    lists = percents = text = 0
    for i, cell in enumerate(cells):
        c = cell.strip().strip('"').strip()
        if not c:
            continue
        try:
            out[i] = float(c)
            continue
        except ValueError:
            pass
        if c.startswith("[") or c.startswith("("):
            nums = _NUMBER.findall(c)
            vals = [float(v) for v in nums]
            if vals:
                out[i] = float(np.mean(vals))
                lists += 1
            continue
        if c.endswith("%"):
            try:
                out[i] = float(c[:-1])
                percents += 1
                continue
            except ValueError:
                pass
        m = re.fullmatch(r"tensor\(\s*([^,)]+)(?:,.*)?\)", c)
        if m:
            try:
                out[i] = float(m.group(1))
                continue
            except ValueError:
                pass
        text += 1
    if lists:
        notes.append(f"column {name!r} holds lists (e.g. per-batch values): summarised each row by its mean")
    if text and text < len(cells):
        notes.append(f"column {name!r}: {text} non-numeric cell(s) read as missing")
    return out
