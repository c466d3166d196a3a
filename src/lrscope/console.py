"""Where messages and progress go: stdout is for results (one JSON document with --json), stderr for the rest.

Two rules every command follows through this module:

- Progress: a job opens ``with track("find") as tick:`` and hands ``tick`` to the library as its ``progress``
  callback; the library calls ``progress(done, total, status)`` and never sees Rich.  The bar (label, bar,
  done/total, status, then "elapsed 0:12 left 0:08") is drawn on stderr only when stderr is a terminal, so logs
  and pipes stay clean.
- Text: findings and result lines go through :func:`say` and :func:`bullets`, which wrap only at spaces with a
  hanging indent, so a number, a path, a range "0.22 .. 0.258" or a change "0.1 -> 0.01" is never broken across
  lines (a word longer than the line stands whole on a line of its own).  On a stream that is not a terminal
  nothing is wrapped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache

Progress = Callable[..., None]
"""The progress callback the library layers take: ``progress(done, total, status="")``."""

JOINERS = ("..", "->")  # "a .. b", "a -> b": the spaces beside them never break a line


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
    """A one-line message for the user on stderr (never wrapped mid-word)."""
    say(message, err=True)


def quiet(done: int = 0, total: int = 0, status: str = "") -> None:
    """A progress callback that shows nothing (the default of every library function that takes one)."""


def _time_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class LabelledTime(ProgressColumn):
        """ "elapsed 0:12 left 0:08": the time spent, and the time still to go once the rate is known."""

        max_refresh = 0.5

        def render(self, task) -> Text:
            spent = _clock(task.elapsed or 0.0)
            if task.finished:
                return Text(f"took {spent}", style="progress.elapsed")
            left = task.time_remaining
            rest = f" left {_clock(left)}" if left is not None else " left ?"
            return Text(f"elapsed {spent}{rest}", style="progress.remaining")

    return LabelledTime()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress(console=None, **kwargs):
    """A Rich progress bar on stderr (or ``console``), disabled when that is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = console or err_console()
    shown = interactive() if console is err_console() else console.is_terminal
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        _time_column(),
        console=console,
        disable=not shown,
        transient=False,
        **kwargs,
    )


@contextmanager
def track(label: str, total: int | None = None, *, console=None) -> Iterator[Progress]:
    """A progress bar named ``label`` for the length of the ``with`` block; yields its callback
    ``tick(done, total=None, status="")`` (``total`` None keeps the last one given).  The bar appears at the
    first tick: a command refused before any work, or a rank other than 0 that never ticks, draws none."""
    with progress(console) as bar:
        task = bar.add_task(label, total=total, status="", visible=False)

        def tick(done: int, total: int | None = None, status: str = "") -> None:
            bar.update(task, completed=done, status=status, visible=True,
                       **({"total": total} if total is not None else {}))

        yield tick


def words(text: str) -> list[str]:
    """``text`` split at spaces into the pieces a line may break between: a range "a .. b" or a change
    "a -> b" is one piece."""
    pieces: list[str] = []
    glue = False  # the last piece ended in a joiner: this word belongs to it
    for word in text.split(" "):
        if not word:
            continue
        if pieces and (glue or word in JOINERS):
            pieces[-1] += " " + word
        else:
            pieces.append(word)
        glue = word in JOINERS
    return pieces


def wrap(text: str, width: int | None, *, first: str = "", rest: str | None = None) -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken only at spaces (:func:`words`): the first line
    begins with ``first`` (a bullet), the others with ``rest`` (default: spaces as wide as ``first``, the hanging
    indent).  A piece longer than a line stands whole on a line of its own.  ``width`` None: one line."""
    indent = text[: len(text) - len(text.lstrip(" "))]  # a line's own indent is kept on each of its lines
    first, rest = first + indent, (" " * len(first) if rest is None else rest) + indent
    pieces = words(text)
    if width is None or not pieces:
        return [first + " ".join(pieces)]
    lines: list[str] = []
    line, empty = first, True  # empty: nothing after the line's lead yet
    for piece in pieces:
        if not empty and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line, empty = rest, True
        line, empty = (line + piece if empty else line + " " + piece), False
    lines.append(line)
    return lines


def _width(console) -> int | None:
    return console.width if console.is_terminal else None


def say(text: str, *, err: bool = False, console=None, style: str | None = None) -> None:
    """Result lines on stdout (stderr with ``err``): each line of ``text`` wrapped at spaces, its continuations
    indented by two spaces."""
    console = console or (err_console() if err else out_console())
    for paragraph in text.split("\n"):
        for k, line in enumerate(wrap(paragraph, _width(console), rest="  ")):
            console.print(line, style=style if k == 0 else None, markup=False, highlight=False, soft_wrap=True)


def bullets(items: Sequence[str], *, bullet: str = "- ", styles: Sequence[str | None] | None = None,
            err: bool = False, console=None) -> None:
    """Each item as a bullet with a hanging indent; ``styles`` colours each item's bullet (Rich style names)."""
    from rich.text import Text

    console = console or (err_console() if err else out_console())
    width = _width(console)
    for i, item in enumerate(items):
        style = styles[i] if styles is not None else None
        for k, line in enumerate(wrap(item, width, first=bullet)):
            text = Text(line)
            if k == 0 and style:
                text.stylize(style, 0, len(bullet.rstrip()) or len(bullet))
            console.print(text, highlight=False, soft_wrap=True)


def verbatim(text: str, *, err: bool = False, console=None) -> None:
    """``text`` exactly as it is (a table whose columns must line up): never wrapped, no markup."""
    console = console or (err_console() if err else out_console())
    console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
