"""Write files so that a reader never sees half of one, and a failed write leaves the old file intact.

Every file lrscope writes (JSON results, plots, checkpoints, reports) goes through here: the bytes go to a
temporary file in the same directory, are flushed and fsynced, and the temporary file is renamed over the target
(``os.replace`` is atomic on POSIX).  On any error the temporary file is removed and the error propagates.

A write that fails because of where it goes (disk full, read-only file system, no permission) raises
:class:`OutputError`: an ``OSError`` (errno and filename kept) that is also a :class:`~lrscope.errors.UserError`,
so the command line shows it as one line ("cannot write F: No space left on device") with exit code 2.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import UserError

# .NAME.XXXXXXXX.tmp (or .NAME.XXXXXXXX.png etc.): mkstemp's 8 random characters between prefix and suffix
_STALE_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.[A-Za-z0-9]{1,5}$")

# errno values that mean "this output cannot be written here", not "the writer has a bug"
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                 errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR}


# a full disk, a full quota, or a file-size limit (RLIMIT_FSIZE): the write ran out of room
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class OutputError(OSError, UserError):
    """An output file could not be written (disk full, read-only, no permission); the old file is intact."""

    def __str__(self) -> str:
        if self.errno in _NO_SPACE:
            return f"no space left while writing {self.filename} ({self.strerror})"
        return f"cannot write {self.filename}: {self.strerror}"


def _output_error(error: BaseException, target: Path, directory: Path) -> OutputError | None:
    """The OutputError that ``error`` (raised while writing ``target``) amounts to, or None."""
    if isinstance(error, OutputError):
        return error
    if isinstance(error, OSError):
        code = error.errno
        if code in _WRITE_ERRNOS:
            return OutputError(code, error.strerror or os.strerror(code), str(target))
        return None
    if isinstance(error, Exception) and _disk_full(directory):
        # writers that go through C++ (torch.save to a path) report ENOSPC as a RuntimeError
        return OutputError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
    return None


def _disk_full(directory: Path) -> bool:
    try:
        stat = os.statvfs(directory)
    except OSError:
        return False
    return stat.f_bavail == 0 or (stat.f_favail == 0 and stat.f_files > 0)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is renamed to ``target``.

    Use this for writers that want a path rather than a file object (``torch.save``, ``fig.savefig``).
    """
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    _check_directory(directory, target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=directory)
    except OSError as error:
        converted = _output_error(error, target, directory)
        if converted is None:
            raise
        raise converted from error
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp_path, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        converted = _output_error(error, target, directory)
        if converted is None or converted is error:
            raise
        raise converted from error


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the hidden temporaries that killed :func:`atomic_path` writes left in ``directory``.

    A process killed between ``mkstemp`` and ``os.replace`` leaves ``.NAME.XXXXXXXX.SUFFIX`` behind (the
    target itself is untouched). Only names of exactly that shape are removed (a dot, a name, eight random
    characters, a short suffix), so ordinary dot-files survive. Returns what was removed.
    """
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        if path.is_file() and _STALE_TEMPORARY.match(path.name):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def write_with(target: str | os.PathLike, writer: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``writer(f)`` on a binary temporary file, then move it into place atomically."""
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        writer(f)
        f.flush()
    return Path(target)


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    return write_with(target, lambda f: f.write(data))


def write_text(target: str | os.PathLike, text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> Path:
    return write_text(target, json.dumps(obj, indent=2, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays, and paths, as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_directory(directory: Path, target: Path) -> None:
    if target.is_dir():
        raise UserError(f"output path {target} is a directory; give a file name")
    if not directory.exists():
        raise UserError(f"output directory {directory} does not exist")
    if not directory.is_dir():
        raise UserError(f"output directory {directory} is not a directory")
    if not os.access(directory, os.W_OK):
        raise UserError(f"output directory {directory} is not writable")
