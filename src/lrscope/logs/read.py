"""Read any supported training log into a :class:`RunLog`: check what the path is, sniff the format, decode,
dispatch.

Formats: ``delimited`` (CSV/TSV/whitespace tables with a header), ``jsonlines`` (one object a line, prefixes
and other lines allowed), ``tensorboard`` (event files or a directory of them), ``run`` (an lrscope run
directory).  Text is decoded from UTF-8, or UTF-16/UTF-32 when a byte-order mark says so (Windows tools write
those).

What is read, and how much:

- a regular file, a directory (TensorBoard logs, run directories, a directory holding a log), or ``-`` for
  standard input (a text log piped in; read a file named ``-`` as ``./-``).  Anything else (a character
  device such as ``/dev/zero``, a named pipe, a socket) is refused after an ``os.stat``, before it is opened:
  opening a pipe with no writer would block, and a device never ends.
- a text log (a file, standard input, a run's ``metrics.jsonl``) of at most ``max_bytes`` bytes (2 GiB by
  default; ``None``: no limit).  A file's size is checked before it is read, standard input is read in chunks
  up to the limit, and a file that grows past the limit while it is read is refused too.
- TensorBoard event files have no size limit: the ``tensorboard`` package's reader streams them record by
  record and only scalar values are kept, so memory follows the number of scalars, not the file's size (event
  files are large because of images and histograms, which are skipped).  They must be regular files.
- a forced ``format`` that does not match what the path holds is an error, never a reading as another format.
"""

from __future__ import annotations

import codecs
import os
import stat
import sys
from pathlib import Path

from ..errors import UserError
from .directories import LOG_NAMES as _LOG_NAMES
from .paths import (
    DEFAULT_MAX_BYTES,
    READ_CHUNK,
    check_size,
    files_under,
    open_binary,
    read_capped,
    regular_or_directory,
    size_text,
)
from .runlog import RunLog, build_runlogs, last_run, path_label
from .runmetrics import read_run_dir

FORMATS = (
    "delimited",
    "csv",
    "tsv",
    "jsonlines",
    "json",
    "tensorboard",
    "run",
    "hf",
    "caffe",
    "gluoncv",
    "llm",
    "mlflow",
)
STDIN = "-"  # the path that means standard input
STDIN_LABEL = "<stdin>"  # how standard input is named in messages and in RunLog.path
_LONGEST_LINE = 1 << 24  # bytes: a text with no line break at all and longer than this is not a log


def read_log(
    path,
    format: str | None = None,
    lr: str | None = None,
    loss: str | None = None,
    x: str | None = None,
    *,
    acc: str | None = None,
    val_loss: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> RunLog:
    """Read a log file, a directory, or standard input (``path`` ``"-"``) as one run.

    When it holds several runs (appended to one file, or a directory of runs: :func:`read_runs`), this is the
    last of them, with a note that says so.  Arguments as :func:`read_runs`.
    """
    return last_run(read_runs(path, format, lr, loss, x, acc=acc, val_loss=val_loss, max_bytes=max_bytes))


def read_runs(
    path,
    format: str | None = None,
    lr: str | None = None,
    loss: str | None = None,
    x: str | None = None,
    *,
    acc: str | None = None,
    val_loss: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> list[RunLog]:
    """Read a log file, a directory, or standard input (``path`` ``"-"``): its runs, in order.

    A file holds several runs when its x counter goes back (runs appended to one log:
    :mod:`lrscope.logs.segments`); a directory when it holds several logs (Lightning ``version_N``
    directories, TensorBoard runs, MLflow runs).  Most logs hold one.

    ``format`` overrides sniffing (and must match what ``path`` holds); ``lr``/``loss``/``x``/``acc``/
    ``val_loss`` name columns; ``max_bytes`` caps a text log's size (None: no cap; TensorBoard event files are
    not capped).
    """
    fmt = _normalise_format(format)
    max_bytes = check_max_bytes(max_bytes)
    over = {"lr": lr, "loss": loss, "x": x, "acc": acc, "val_loss": val_loss}
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, (str, os.PathLike)) and os.fspath(path) == STDIN:
        return _read_stdin(fmt, max_bytes, over)
    path = Path(path)
    mode = regular_or_directory(path)
    if stat.S_ISDIR(mode):
        return _read_directory(path, fmt, max_bytes, over)
    label = path_label(path)
    if fmt == "run":
        raise _not_a(label, "run", "an lrscope run is a directory holding metrics.jsonl or config.json")
    with open_binary(path) as f:
        head = f.read(64)
        if fmt is None and looks_like_tfrecord(head):
            fmt = "tensorboard"
        if fmt == "tensorboard" or (fmt is None and "tfevents" in path.name):
            if not head:
                raise UserError(f"{label}: no data (the file is empty)")
            if not looks_like_tfrecord(head):
                raise _not_a(
                    label, "tensorboard", "it does not start with a TFRecord header (damaged, or not an event file)"
                )
            fmt = "tensorboard"
        else:
            size = os.fstat(f.fileno()).st_size
            check_size(label, size, max_bytes)
            data = read_capped(f, head, size, max_bytes, label)
    if fmt == "tensorboard":
        from .tensorboard import read_tensorboard

        notes: list[str] = []
        columns = read_tensorboard(path, notes)
        return build_runlogs(columns, path=str(path), fmt="tensorboard", notes=notes, **over)
    notes = []
    text = _text_of(data, label, fmt, notes, tfrecord=looks_like_tfrecord(head))
    del data  # the text is all that is kept: a 1 GB log is not held twice
    return _parse_text(text, str(path), label, fmt, over, notes)


def check_max_bytes(max_bytes) -> int | None:
    """``max_bytes`` as a positive int, or None (no limit)."""
    if max_bytes is None:
        return None
    from ..validate import check_int

    return check_int("--max-bytes", max_bytes, low=1)


def _read_stdin(fmt: str | None, max_bytes: int | None, over: dict) -> list[RunLog]:
    label = STDIN_LABEL
    if fmt == "run":
        raise _not_a(label, "run", "an lrscope run is a directory; standard input is a stream")
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise UserError("no standard input to read (path -)")
    data = bytearray()
    try:
        while True:
            want = READ_CHUNK if max_bytes is None else min(READ_CHUNK, max_bytes + 1 - len(data))
            chunk = stream.read(want)
            if not chunk:
                break
            data += chunk
            if max_bytes is not None and len(data) > max_bytes:
                raise UserError(
                    f"standard input holds over {size_text(max_bytes)}, the limit for a text log; "
                    f"pass --max-bytes to read it anyway"
                )
    except OSError as error:
        raise UserError(f"cannot read standard input: {error.strerror or error}") from None
    if looks_like_tfrecord(bytes(data[:16])):
        raise UserError(
            "standard input holds a TensorBoard event file: give its path instead (event files are read "
            "from files only)"
        )
    if fmt == "tensorboard":
        raise _not_a(label, "tensorboard", "standard input does not start with a TFRecord header")
    if not data:
        raise UserError("standard input is empty: no log to read")
    notes: list[str] = []
    text = _text_of(data, label, fmt, notes)
    del data
    return _parse_text(text, STDIN_LABEL, label, fmt, over, notes)


def _text_of(data, label: str, fmt: str | None, notes: list[str], tfrecord: bool = False) -> str:
    """The decoded text of a log's bytes, line breaks made '\\n'."""
    if len(data) > _LONGEST_LINE and data.find(b"\n") < 0 and data.find(b"\r") < 0:
        # refused before decoding: a 1 GB line would cost its bytes and its text at once
        raise UserError(f"{label}: one line of {len(data):,} bytes and no line break: not a training log")
    try:
        text = decode(data, label, notes)
    except UserError as error:
        if fmt is None or "binary data" not in str(error):
            raise
        hint = " (a TensorBoard event file: try --format tensorboard)" if tfrecord else ""
        raise _not_a(label, fmt, f"binary data, not text{hint}") from None
    if "\r" in text:  # Windows (\r\n) and old Mac (\r) line endings: one kind of line break from here on
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _parse_text(text: str, path: str, label: str, fmt: str | None, over: dict, notes: list[str]) -> list[RunLog]:
    from . import formats

    special = formats.by_name(fmt) if fmt else (formats.sniff(text) if fmt is None else None)
    if special is not None:
        parsed = formats.module_of(special).read(text, label, notes)
        over = dict(over)
        if over.get("x") is None and parsed.x is not None:
            over["x"] = parsed.x
        return build_runlogs(parsed.columns, path=path, fmt=special.name, notes=notes, fixed_roles=parsed.roles, **over)
    sniffed = sniff_text(text)
    if fmt == "delimited" and sniffed == "jsonlines":
        raise _not_a(label, "delimited", "its lines are JSON objects (try --format jsonlines)")
    fmt = fmt or sniffed
    if fmt == "jsonlines":
        from .jsonlines import read_jsonlines

        columns = read_jsonlines(text, label, notes)
        return build_runlogs(columns, path=path, fmt=fmt, notes=notes, **over)
    from .delimited import read_delimited

    forced = fmt is not None and fmt != sniffed
    try:
        columns = read_delimited(text, label, notes)
    except UserError as error:
        if forced or "header only" in str(error):  # a table after all: nothing to add about its format
            raise
        raise UserError(f"{error}{_looked_like(text)}") from None
    try:
        return build_runlogs(columns, path=path, fmt=fmt, notes=notes, **over)
    except UserError as error:
        if forced or "no numeric data" not in str(error):
            raise
        raise UserError(f"{error}{_looked_like(text)}") from None


def _looked_like(text: str) -> str:
    """For a text no reader could use: what it looked like (formats that nearly matched, its first line) and
    what lrscope reads."""
    from . import formats

    said = formats.hints(text)
    if said:
        return "; " + "; ".join(said)
    first = next((line.strip() for line in text[:4096].split("\n") if line.strip()), "")
    shown = first if len(first) <= 60 else first[:57] + "..."
    names = ", ".join(f.name for f in formats.TEXT_FORMATS)
    return (
        f"; it starts with {shown!r}, which is no format lrscope reads (delimited tables, jsonlines, "
        f"tensorboard, run directories, {names}: see --format)"
    )


def _not_a(label: str, fmt: str, reason: str) -> UserError:
    return UserError(f"{label} is not a {fmt} log: {reason}")


# ------------------------------------------------------------------------------------------------ sniffing


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
    from .formats import TEXT_FORMATS

    special = tuple(t.name for t in TEXT_FORMATS)
    if f not in ("delimited", "jsonlines", "tensorboard", "run", *special):
        shown = fmt if len(fmt) <= 40 else fmt[:37] + "..."
        raise UserError(
            f"unknown --format {shown!r}: expected one of delimited (csv, tsv), jsonlines, tensorboard, run, "
            + ", ".join(special)
        )
    return f


def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), bit by bit: it only ever sees a record header's 8 bytes."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def looks_like_tfrecord(head: bytes) -> bool:
    """A TFRecord starts with an 8-byte little-endian length and the masked CRC-32C of those 8 bytes.

    That is the check the TensorBoard reader makes on its first record, so a file that passes is one it reads.
    """
    if len(head) < 12:
        return False
    crc = _crc32c(bytes(head[:8]))
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    return masked == int.from_bytes(head[8:12], "little") and int.from_bytes(head[:8], "little") > 0


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
        enc = "utf-16-le" if odd > 0.8 * len(head) / 2 else "utf-16-be" if even > 0.8 * len(head) / 2 else None
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

    if text.find("{", 0, 8_000_000) < 0:
        return "delimited"
    objects, total = count_object_lines(text)
    if objects >= 3 or (objects >= 1 and objects * 2 >= total):
        return "jsonlines"
    return "delimited"


# ------------------------------------------------------------------------------------------------ directories


def _read_directory(path: Path, fmt: str | None, max_bytes: int | None, over: dict) -> list[RunLog]:
    """Every run the directory holds (:func:`lrscope.logs.directories.find_runs`), each read as its format."""
    from . import rundir
    from .directories import find_runs

    label = path_label(path)
    if fmt == "run" and not rundir.is_run_dir(path):
        raise _not_a(label, "run", f"no {rundir.METRICS} or {rundir.CONFIG} in it")
    if fmt in (None, "run") and rundir.is_run_dir(path):
        return [read_run_dir(path, max_bytes=max_bytes, **over)]
    files = files_under(path)
    sources = find_runs(path, files)
    if fmt == "tensorboard":
        sources = [s for s in sources if s.kind == "tensorboard"]
        if not sources:
            raise _not_a(label, "tensorboard", "no event files (events.out.tfevents.*) in it")
    if not sources:
        raise UserError(
            f"{label}: a directory with no training log in it (looked for an lrscope run, TensorBoard event "
            f"files, a trainer_state.json, MLflow runs, and {', '.join(_LOG_NAMES[:5])} ...)"
        )
    runs: list[RunLog] = []
    for source in sources:
        read = _read_source(source, path, fmt, max_bytes, over)
        if len(sources) > 1:
            for log in read:
                log.run = source.label if not log.run else f"{source.label}: {log.run}"
        runs.extend(read)
    if len(sources) > 1:
        from .stitch import stitch_versions

        runs = stitch_versions(runs)
    return runs


def _read_source(source, base: Path, fmt: str | None, max_bytes: int | None, over: dict) -> list[RunLog]:
    if source.kind == "tensorboard":
        from .tensorboard import read_tensorboard

        notes: list[str] = []
        columns = read_tensorboard(source.path, notes, files=source.files)
        return build_runlogs(columns, path=str(source.path), fmt="tensorboard", notes=notes, **over)
    if source.kind == "mlflow":
        from .formats.mlflow import read_run_metrics

        notes = []
        parsed = read_run_metrics(source.path, notes)
        over = dict(over)
        if over.get("x") is None and parsed.x is not None:
            over["x"] = parsed.x
        return build_runlogs(
            parsed.columns,
            path=str(source.path.parent),
            fmt="mlflow",
            notes=notes,
            fixed_roles=parsed.roles,
            **over,
        )
    forced = fmt if fmt not in (None, "run") else None
    if source.kind == "hf" and forced is None:
        forced = "hf"
    return read_runs(source.path, format=forced, max_bytes=max_bytes, **over)
