"""Read any supported training log into a :class:`RunLog`: sniff the format, decode, dispatch.

Formats: ``delimited`` (CSV/TSV/whitespace tables with a header), ``jsonlines`` (one object a line, prefixes
and
other lines allowed), ``tensorboard`` (event files or a directory of them), ``run`` (an lrscope run
directory).
Text is decoded from UTF-8, or UTF-16/UTF-32 when a byte-order mark says so (Windows tools write those).
"""

from __future__ import annotations

import codecs
from pathlib import Path

from ..errors import UserError
from .runlog import RunLog, build_runlog

FORMATS = ("delimited", "csv", "tsv", "jsonlines", "json", "tensorboard", "run")
_LOG_NAMES = (
    "metrics.csv",
    "metrics.jsonl",
    "log.txt",
    "log.csv",
    "training.log",
    "history.csv",
    "log.jsonl",
    "stats.log",
    "log",
)


def read_log(
    path, format: str | None = None, lr: str | None = None, loss: str | None = None, x: str | None = None
) -> RunLog:
    """Read a log file or directory.  ``format`` overrides sniffing; ``lr``/``loss``/``x`` name columns."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    fmt = _normalise_format(format)
    notes: list[str] = []
    if path.is_dir():
        return _read_directory(path, fmt, lr=lr, loss=loss, x=x)
    if fmt is None and "tfevents" in path.name:
        fmt = "tensorboard"
    if fmt is None:
        with open(path, "rb") as f:
            head = f.read(64)
        if _looks_like_tfrecord(head):
            fmt = "tensorboard"
    if fmt == "tensorboard":
        from .tensorboard import read_tensorboard

        columns = read_tensorboard(path, notes)
        return build_runlog(columns, path=str(path), fmt="tensorboard", notes=notes, lr=lr, loss=loss, x=x)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    text = decode(data, str(path), notes)
    del data
    if "\r" in text:  # Windows (\r\n) and old Mac (\r) line endings: one kind of line break from here on
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt is None:
        fmt = sniff_text(text)
    if fmt == "jsonlines":
        from .jsonlines import read_jsonlines

        columns = read_jsonlines(text, str(path), notes)
    else:
        from .delimited import read_delimited

        columns = read_delimited(text, str(path), notes)
    return build_runlog(columns, path=str(path), fmt=fmt, notes=notes, lr=lr, loss=loss, x=x)


def _normalise_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    f = fmt.strip().lower()
    aliases = {
        "csv": "delimited",
        "tsv": "delimited",
        "txt": "delimited",
        "json": "jsonlines",
        "jsonl": "jsonlines",
        "tb": "tensorboard",
        "tfevents": "tensorboard",
        "rundir": "run",
        "lrscope": "run",
    }
    f = aliases.get(f, f)
    if f not in ("delimited", "jsonlines", "tensorboard", "run"):
        raise UserError(
            f"unknown --format {fmt!r}: expected one of delimited (csv, tsv), jsonlines, tensorboard, run"
        )
    return f


def _looks_like_tfrecord(head: bytes) -> bool:
    """A TFRecord starts with an 8-byte little-endian length, a 4-byte CRC, then a serialized Event."""
    if len(head) < 16:
        return False
    length = int.from_bytes(head[:8], "little")
    return 0 < length < 1 << 24 and b"brain.Event" in head or (0 < length < 4096 and head[12:13] == b"\t")


def decode(data: bytes, path: str, notes: list[str]) -> str:
    """Bytes to text: a BOM decides UTF-8/16/32; else UTF-8 (bad bytes replaced); binary is refused."""
    if not data or data.isspace():  # (not data.strip(): that would copy a 300 MB log)
        raise UserError(f"{path}: no data (the file is empty)")
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            text = data.decode(enc, errors="replace")
            if enc != "utf-8-sig":
                notes.append(f"decoded the file as {enc.upper()} (byte-order mark)")
            return _check_text(text, path)
    head = data[:65536]
    zeros = head.count(0)
    if zeros > len(head) // 4:
        # UTF-16 without a BOM: every other byte is zero
        even, odd = head[0::2].count(0), head[1::2].count(0)
        enc = (
            "utf-16-le" if odd > 0.8 * len(head) / 2 else "utf-16-be" if even > 0.8 * len(head) / 2 else None
        )
        if enc is None:
            raise UserError(f"{path}: binary data, not a text log (and not a TensorBoard event file)")
        notes.append(f"decoded the file as {enc.upper()} (no byte-order mark)")
        return _check_text(data.decode(enc, errors="replace"), path)
    text = data.decode("utf-8", errors="replace")
    return _check_text(text, path)


def _check_text(text: str, path: str) -> str:
    sample = text[:65536]
    if not sample.strip():
        raise UserError(f"{path}: no data (the file is empty)")
    bad = sum(1 for ch in sample if (ch < " " and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    if bad > 0.05 * len(sample):
        raise UserError(f"{path}: binary data, not a text log (and not a TensorBoard event file)")
    return text


def sniff_text(text: str) -> str:
    """'jsonlines' when the text holds JSON-object lines, else 'delimited'."""
    from .jsonlines import count_object_lines

    if "{" not in text[:8_000_000]:
        return "delimited"
    objects, total = count_object_lines(text)
    if objects >= 3 or (objects >= 1 and objects * 2 >= total):
        return "jsonlines"
    return "delimited"


def _read_directory(path: Path, fmt: str | None, **over) -> RunLog:
    from . import rundir

    if fmt in (None, "run") and rundir.is_run_dir(path):
        return read_run_dir(path, **over)
    if fmt == "run":
        raise UserError(f"{path} is not an lrscope run directory (no {rundir.METRICS} in it)")
    if fmt in (None, "tensorboard"):
        from .tensorboard import event_files

        if event_files(path):
            from .tensorboard import read_tensorboard

            notes: list[str] = []
            columns = read_tensorboard(path, notes)
            return build_runlog(columns, path=str(path), fmt="tensorboard", notes=notes, **over)
    for name in _LOG_NAMES:
        candidates = sorted(path.rglob(name))
        if candidates:
            return read_log(candidates[-1], format=fmt, **over)
    raise UserError(
        f"{path}: a directory with no training log in it (looked for TensorBoard event files, "
        f"an lrscope run, and {', '.join(_LOG_NAMES[:5])})"
    )


def read_run_dir(path: Path, **over) -> RunLog:
    """An lrscope run directory: its epoch records (step records when there are too few epochs)."""
    import numpy as np

    from . import rundir

    epochs = rundir.read_metrics(path, "epoch")
    records = epochs
    kind = "epoch"
    if len(epochs) < 3:
        steps = rundir.read_metrics(path, "step")
        if len(steps) > len(epochs):
            records, kind = steps, "step"
    if not records:
        raise UserError(f"{path}: the run has no metrics yet ({rundir.METRICS} is empty or missing)")
    names: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k != "kind" and isinstance(v, (int, float)) and not isinstance(v, bool):
                names.setdefault(k, None)
    columns = {}
    for name in names:
        columns[name] = np.array(
            [
                rundir.finite_or_none(r.get(name)) if isinstance(r.get(name), (int, float)) else None
                for r in records
            ],
            dtype=np.float64,
        )
    notes = [] if kind == "epoch" else ["the run has fewer than 3 epoch records: explained its step records"]
    x = over.pop("x", None) or kind
    return build_runlog(columns, path=str(path), fmt="run", notes=notes, x=x, **over)
