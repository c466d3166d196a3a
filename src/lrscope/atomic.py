"""Write files so that a reader never sees half of one, and a failed write leaves the old file intact.

Every file lrscope writes (JSON results, plots, checkpoints, reports) goes through here: the bytes go to a
temporary file in the same directory, are flushed and fsynced, and the temporary file is renamed over the target
(``os.replace`` is atomic on POSIX).  On any error the temporary file is removed and the error propagates.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import UserError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is renamed to ``target``.

    Use this for writers that want a path rather than a file object (``torch.save``, ``fig.savefig``).
    """
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    _check_directory(directory, target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


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
