"""What a log path is, before anything is read: a regular file or a directory (never a device, a pipe or a
socket), within the size limit for a text log; and reading an open file up to that limit.

Only ``os.stat`` decides what a path is: nothing is opened, so a named pipe with no writer cannot block.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import UserError
from .runlog import path_label

MAX_ENTRIES = 200_000  # files and directories looked at when searching a directory for a log
DEFAULT_MAX_BYTES = 2 * 1024**3  # the largest text log read unless the caller says otherwise (--max-bytes)
READ_CHUNK = 1 << 24


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def regular_or_directory(path: Path) -> int:
    """``path``'s st_mode (symbolic links followed) when it is a regular file or a directory; else UserError.

    Only ``os.stat``: nothing is opened, so a named pipe with no writer cannot block us.
    """
    label = path_label(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserError(f"{label} does not exist") from None
    except (OSError, ValueError) as error:  # permission, a name too long, a NUL in the name
        reason = getattr(error, "strerror", None) or str(error)
        raise UserError(f"cannot read {label}: {reason}") from None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return mode
    kind = next((text for test, text in _KINDS if test(mode)), "not a file or a directory")
    raise UserError(
        f"{label} is not a regular file ({kind}); lrscope reads log files, directories or - for standard input"
    )


def check_file(path: Path, max_bytes: int | None = DEFAULT_MAX_BYTES, what: str = "a text log") -> int:
    """Refuse ``path`` unless it is a regular file of at most ``max_bytes`` bytes; returns its size."""
    mode = regular_or_directory(path)
    label = path_label(path)
    if stat.S_ISDIR(mode):
        raise UserError(f"{label} is a directory, not a file")
    size = os.stat(path).st_size
    check_size(label, size, max_bytes, what)
    return size


def is_regular_file(path: Path) -> bool:
    """A regular file (symbolic links followed); False for anything else, and when it cannot be looked at."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def check_size(label: str, size: int, max_bytes: int | None, what: str = "a text log") -> None:
    if max_bytes is not None and size > max_bytes:
        raise UserError(
            f"{label} is {size_text(size)}, over the {size_text(max_bytes)} limit for {what}; "
            f"pass --max-bytes to read it anyway"
        )


def size_text(n: int) -> str:
    """1536 -> '1.5 kB', 3 * 1024**3 -> '3 GB' (binary multiples, as the limit is one)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= scale:
            value = f"{n / scale:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    return f"{n} bytes" if n != 1 else "1 byte"


def open_binary(path: Path):
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller's with closes it
    except OSError as error:
        raise UserError(f"cannot read {path_label(path)}: {error.strerror or error}") from None


def read_capped(f, head: bytes, size: int, max_bytes: int | None, label: str) -> bytearray:
    """The rest of an open file after ``head``: its stat size first, then chunks while it grows, capped."""
    data = bytearray(max(size, len(head)) + 1)  # read into one buffer: no second copy of a large file
    data[: len(head)] = head
    filled = len(head)
    try:
        with memoryview(data) as view:
            while filled < len(data):
                got = f.readinto(view[filled:])
                if not got:
                    break
                filled += got
        del data[filled:]
        grew = filled > size  # it grew while we read (a run still writing), or its size said 0 (/proc)
        while grew:
            if max_bytes is not None and len(data) > max_bytes:
                raise UserError(
                    f"{label} grew past the {size_text(max_bytes)} limit for a text log while it was read; "
                    f"pass --max-bytes to read it anyway"
                )
            chunk = f.read(READ_CHUNK)
            if not chunk:
                break
            data += chunk
        return data
    except OSError as error:
        raise UserError(f"cannot read {label}: {error.strerror or error}") from None


def files_under(directory: Path, limit: int | None = None) -> list[Path]:
    """Every regular file under ``directory`` (symbolic links to directories not followed), sorted.

    At most ``limit`` (:data:`MAX_ENTRIES`) entries are looked at: pointing lrscope at ``/`` or a home
    directory is an error, not an hour-long search.
    """
    limit = MAX_ENTRIES if limit is None else limit
    found: list[Path] = []
    seen = 0
    stack = [directory]
    while stack:
        here = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > limit:
                raise UserError(
                    f"{path_label(directory)} holds over {limit:,} files and directories; give the log file, "
                    f"the TensorBoard log directory or the run directory itself"
                )
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file():  # follows a link to a file; never a device or a pipe
                    found.append(Path(entry.path))
            except OSError:
                continue
    return sorted(found)
