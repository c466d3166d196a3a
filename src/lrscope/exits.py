"""How a command-line run ends: one clear line on stderr for every way it can go wrong, and for an interrupt a
line that says what was kept.

* a :class:`~lrscope.errors.UserError` (bad input) or an ``OSError`` from the user's environment (disk full,
  read-only, no permission): ``lrscope: error: ...``, exit 2;
* Ctrl-C: exit 130 and ``lrscope: interrupted; ...``: each command names the files it may write
  (:func:`watch_outputs`) or gives its own words (:func:`on_interrupt`), and the line lists what was written
  whole before the interrupt;
* anything else is a bug: ``lrscope: internal error: ...`` (exit 1), the traceback with ``--debug``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from .errors import UserError


def shown(path) -> str:
    """A path as text any terminal can print (bytes that are not UTF-8 as escapes)."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


# What a Ctrl-C leaves behind, said in one line: each command names the files it may write (or gives its own
# words), and the line lists those that were written before the interrupt (each written whole, atomically).
_INTERRUPT: dict = {"seen": False, "watched": {}, "words": None}


def watch_outputs(*paths) -> None:
    """Remember how ``paths`` (files, or folders whose files count) look now, to tell later what changed."""
    for path in paths:
        if path is not None:
            _INTERRUPT["watched"][Path(path)] = _look(Path(path))


def on_interrupt(words) -> None:
    """``words()`` gives the line to print after an interrupt (for commands whose state is not a file list)."""
    _INTERRUPT["words"] = words


def _look(path: Path) -> dict:
    try:
        if path.is_dir():
            return {p.name: p.stat().st_mtime_ns for p in path.iterdir() if p.is_file()}
        return {path.name: path.stat().st_mtime_ns} if path.is_file() else {}
    except OSError:
        return {}


def _interrupt_line() -> str:
    if _INTERRUPT["words"] is not None:
        return _INTERRUPT["words"]()
    return files_written_line()


def files_written_line() -> str:
    written = []
    for path, before in _INTERRUPT["watched"].items():
        now = _look(path)
        changed = sorted(name for name, stamp in now.items() if before.get(name) != stamp)
        base = path if path.is_dir() else path.parent
        written += [str(base / name) for name in changed]
    if not written:
        return "interrupted; nothing was written"
    return f"interrupted; written before it (each file whole): {', '.join(written)}; nothing else was written"


def _sigint(signum, frame) -> None:
    _INTERRUPT["seen"] = True
    raise KeyboardInterrupt


# ---------------------------------------------------------------- schedule


def run_command_line(app: typer.Typer, argv: list[str] | None, *, debug: Callable[[], bool]) -> None:
    """Run ``app`` on ``argv`` and end as the module docstring says (``debug()``: let errors propagate)."""

    _INTERRUPT.update(seen=False, watched={}, words=None)  # main() may be called more than once in a process

    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints as escapes, never crashes
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")

    with contextlib.suppress(ValueError):  # not the main thread (an embedding program): keep its handler
        signal.signal(signal.SIGINT, _sigint)
    try:
        code = app(args=argv, standalone_mode=False)  # without standalone mode, typer.Exit(n) comes back as n
    except UserError as error:
        if debug():
            raise
        print(f"lrscope: error: {_one_line(error)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        _INTERRUPT["seen"] = True
        code = 130
    except SystemExit:
        raise
    except BrokenPipeError:  # `lrscope ... | head`: the reader left; say nothing more
        _silence_stdout()
        sys.exit(1)
    except OSError as error:  # disk full, read-only, permission denied: the user's environment, not a bug
        if debug():
            raise
        print(f"lrscope: error: {_os_error_text(error)}", file=sys.stderr)
        sys.exit(2)
    except BaseException as error:  # noqa: BLE001 - the last line of defence against tracebacks
        if isinstance(error, typer.Exit):
            sys.exit(error.exit_code)
        if isinstance(error, typer.Abort):
            print("lrscope: aborted", file=sys.stderr)
            sys.exit(130)
        if _is_usage_error(error):
            if getattr(error, "message", "").startswith("Missing command") or "NoArgsIsHelp" in type(error).__name__:
                error.show()  # Typer's help for a bare `lrscope`
            else:
                print(f"lrscope: error: {error.format_message()}", file=sys.stderr)
            sys.exit(2)
        if debug():
            raise
        print(f"lrscope: internal error: {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(1)
    if code == 130 and _INTERRUPT["seen"]:  # Typer turns KeyboardInterrupt into exit code 130, silently
        print(f"lrscope: {_interrupt_line()}", file=sys.stderr)
    if isinstance(code, int) and code:
        sys.exit(code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot raise again."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _os_error_text(error: OSError) -> str:
    """``cannot write F: No space left on device`` (or ``F: Permission denied``) for an OSError."""
    reason = error.strerror or _one_line(error) or type(error).__name__
    where = error.filename
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"no space left while writing {where} ({reason})" if where else f"no space left ({reason})"
    if error.errno == errno.EROFS:
        return f"cannot write {where}: {reason}" if where else f"cannot write: {reason}"
    return f"{where}: {reason}" if where else reason


def _is_usage_error(error: BaseException) -> bool:
    """Click's usage errors (Typer vendors click as ``typer._click`` in recent releases)."""
    return any(cls.__name__ in ("ClickException", "UsageError") for cls in type(error).__mro__) and hasattr(
        error, "format_message")
