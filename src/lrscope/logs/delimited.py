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
import math
import re
import warnings

import numpy as np

from ..errors import UserError
from .runlog import shown_names

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


MAX_HEADER = 1 << 24  # characters: a first line longer than this with nothing after it is not a log's header


def _first_content(text: str, path: str) -> int:
    """Where the first line that is not blank and not a '#' comment starts (no copy of a long line)."""
    pos = 0
    while True:
        m = _NOT_SPACE.search(text, pos)
        if m is None:
            raise UserError(f"{path}: no data (the file is empty)")
        line_start = text.rfind("\n", 0, m.start()) + 1
        if text[m.start()] != "#":
            return line_start
        end = text.find("\n", m.start())
        if end < 0:
            raise UserError(f"{path}: no data (the file is empty)")
        pos = end + 1


def read_delimited(text: str, path: str, notes: list[str]) -> dict[str, np.ndarray]:
    """Parse a delimited table into float64 columns (NaN for missing or non-numeric cells)."""
    start = _first_content(text, path)  # skip blank lines and '#' comments before the header
    header_end = text.find("\n", start)
    if header_end < 0:
        header_end = len(text)
        if header_end - start > MAX_HEADER:
            raise UserError(
                f"{path}: one line of {header_end - start:,} characters and no line break: not a training log"
            )
    header = text[start:header_end]
    window = min(max(65536, 3 * len(header)), MAX_HEADER)  # a wide header's rows are as wide
    sample = text[header_end + 1 : header_end + 1 + window].split("\n", 20)[:20]
    if len(text) > header_end + 1 + window:
        sample = sample[:-1]  # the last one may be cut
    head_lines = [header] + [h for h in sample if h.strip()]
    delim = sniff_delimiter(head_lines)
    header_fields = _strip_trailing(header, delim).split(delim) if delim else header.split()
    if all(_looks_numeric(f) for f in header_fields if f.strip()):
        names = [f"column{i + 1}" for i in range(len(header_fields))]
        notes.append("the first line holds numbers, not names: no header, columns named column1, column2, ...")
        body_start = start
    else:
        names = split_header(header, delim)
        body_start = min(header_end + 1, len(text))
    trailing = delim is not None and _ends_with_delim(header, delim)
    del header, sample, head_lines, header_fields
    if len(names) < 1:
        raise UserError(f"{path}: could not find column names in the first line")
    if _NOT_SPACE.search(text, body_start) is None:
        raise UserError(f"{path}: no data rows (header only: {shown_names(names)})")
    table = _fast(text, body_start, delim, len(names), trailing)
    if table is None:
        table = _careful(text, body_start, delim, names, path, notes)
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


_BRACKET_TOKENS = {}


def _split_brackets(line: str, delim: str | None) -> list[str]:
    """Split at delimiters outside [...] (list cells hold the delimiter themselves).

    One step per bracket or delimiter (a regular expression finds them), slices for the fields: a long line
    costs no list of its characters."""
    pattern = _BRACKET_TOKENS.get(delim)
    if pattern is None:
        pattern = _BRACKET_TOKENS[delim] = re.compile(r"\[+|\]+|" + (r"\s+" if delim is None else re.escape(delim)))
    fields, depth, start = [], 0, 0
    for m in pattern.finditer(line):
        token = m.group()
        if token[0] == "[":  # a run of brackets is one step
            depth += len(token)
        elif token[0] == "]":
            depth = max(0, depth - len(token))
        elif depth == 0:
            fields.append(line[start : m.start()])
            start = m.end()
    fields.append(line[start:])
    if delim is None:
        fields = [f for f in fields if f]
    return fields


_BLOCK_CELLS = 1 << 20  # cells parsed as text at a time before they become floats
_GIVE_UP_CELLS = 1 << 20  # text cells read without one number before the careful path gives up


def _careful(
    text: str, body_start: int, delim: str | None, names: list[str], path: str, notes: list[str]
) -> np.ndarray:
    """Cell by cell, in blocks of rows: memory is the float table plus one block of text cells."""
    from .jsonlines import iter_lines

    ncols = len(names)
    if text.find("\r", body_start) >= 0:
        text, body_start = text[body_start:].replace("\r\n", "\n").replace("\r", "\n"), 0
    quoted = text.find('"', body_start) >= 0
    stats = [{"lists": 0, "text": 0, "cells": 0} for _ in names]
    blocks: list[np.ndarray] = []
    rows: list[list[str]] = []
    bad = 0
    short = False  # the last line with content so far had too few fields: a torn tail if it stays last

    seen = {"rows": 0, "numbers": False}

    def flush():
        if rows:
            block = np.full((len(rows), ncols), np.nan)
            for j in range(ncols):
                block[:, j] = _column([r[j] for r in rows], stats[j])
            blocks.append(block)
            seen["rows"] += len(rows)
            seen["numbers"] = seen["numbers"] or bool(np.isfinite(block).any())
            rows.clear()
            if not seen["numbers"] and seen["rows"] * ncols >= _GIVE_UP_CELLS:
                raise UserError(
                    f"{path}: not one number in its first {seen['rows']:,} rows: not a table of training metrics"
                )

    for raw in iter_lines(text, start=body_start):
        if not raw.strip():
            continue
        if short:
            bad += 1
            short = False
        if raw.lstrip().startswith("#"):
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
        elif raw.count(delim) > 2 * ncols + 8:  # far too many fields: not split into a list of them all
            bad += 1
            continue
        else:
            fields = raw.split(delim)
        while len(fields) > ncols and not fields[-1].strip():
            fields.pop()
        if len(fields) != ncols:
            if len(fields) < ncols and (rows or blocks):
                short = True
            else:
                bad += 1
            continue
        rows.append(fields)
        if len(rows) * ncols >= _BLOCK_CELLS:
            flush()
    flush()
    if short:
        notes.append("the last line is cut short (a run still writing?): ignored it")
    if bad:
        notes.append(f"skipped {bad} line(s) whose number of fields does not match the header's {ncols}")
    if not blocks:
        raise UserError(f"{path}: no data rows that match the header ({ncols} columns: {shown_names(names)})")
    for name, st in zip(names, stats, strict=True):
        shown = name if len(name) <= 60 else name[:57] + "..."
        if st["lists"]:
            notes.append(f"column {shown!r} holds lists (e.g. per-batch values): summarised each row by its mean")
        if st["text"] and st["text"] < st["cells"]:
            notes.append(f"column {shown!r}: {st['text']} non-numeric cell(s) read as missing")
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


_TENSOR = re.compile(r"tensor\(\s*([^,)]+)(?:,.*)?\)")


def _cell(cell: str) -> tuple[float, str]:
    """One cell's number and what it was: 'empty', 'number', 'list' (its mean), 'percent', 'tensor', 'text'."""
    c = cell.strip().strip('"').strip()
    if not c:
        return math.nan, "empty"
    try:
        return float(c), "number"
    except ValueError:
        pass
    if c.startswith("[") or c.startswith("("):
        vals = [float(v) for v in _NUMBER.findall(c)]
        if vals:
            with np.errstate(all="ignore"):
                return float(np.mean(vals)), "list"
        return math.nan, "empty"
    if c.endswith("%"):
        try:
            return float(c[:-1]), "percent"
        except ValueError:
            pass
    m = _TENSOR.fullmatch(c)
    if m:
        try:
            return float(m.group(1)), "tensor"
        except ValueError:
            pass
    return math.nan, "text"


def _column(cells: list[str], stats: dict) -> np.ndarray:
    """One column's cells as floats; counts list cells and text cells into ``stats``."""
    stats["cells"] += len(cells)
    try:
        return np.array(cells, dtype=np.float64)
    except (ValueError, OverflowError):
        pass
    out = np.full(len(cells), np.nan)
    known: dict[str, tuple[float, str]] = {}  # a column's text cells are often one word repeated
    counts = {"list": 0, "text": 0}
    for i, cell in enumerate(cells):
        hit = known.get(cell)
        if hit is None:
            hit = _cell(cell)
            if len(known) < 4096 and len(cell) < 64:
                known[cell] = hit
        out[i] = hit[0]
        if hit[1] in counts:
            counts[hit[1]] += 1
    stats["lists"] += counts["list"]
    stats["text"] += counts["text"]
    return out
