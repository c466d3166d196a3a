"""Where messages and progress go: stdout is for results (one JSON document with --json), stderr for the rest.

Progress bars show only when stderr is a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from functools import cache


@cache
def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@cache
def out_console():
    from rich.console import Console

    return Console(highlight=False)


def interactive() -> bool:
    """True when stderr is a terminal (progress bars are worth drawing)."""
    return sys.stderr.isatty()


def note(message: str) -> None:
    """A one-line message for the user on stderr."""
    err_console().print(message, markup=False)


def progress(**kwargs):
    """A Rich progress bar on stderr, disabled when stderr is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
        console=err_console(),
        disable=not interactive(),
        transient=False,
        **kwargs,
    )
