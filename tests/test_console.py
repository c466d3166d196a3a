"""lrscope.console: the progress bar (drawn on a terminal, absent elsewhere) and the wrapping helper (breaks only
at spaces, never inside a number, a path, "a .. b" or "a -> b")."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from lrscope.console import bullets, progress, say, track, words, wrap

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal(width: int = 100) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=width, color_system="standard"), buffer


def pipe(width: int = 100) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=width), buffer


# ---------------------------------------------------------------- progress


def test_a_bar_on_a_terminal_shows_its_label_count_status_and_labelled_time():
    console, buffer = terminal()
    with track("landscape plane", console=console) as tick:
        for done in range(1, 6):
            tick(done, 5, f"point {done}")
    text = ESCAPE.sub("", buffer.getvalue())
    assert "landscape plane" in text
    assert "5/5" in text and "point 5" in text
    assert "took 0:0" in text  # the finished bar's time column says what the time is
    assert ESCAPE.search(buffer.getvalue())  # drawn with terminal controls


def test_the_time_column_is_labelled_while_running_and_when_done():
    console, _ = terminal()
    bar = progress(console)
    task = bar.add_task("find", total=10, status="")
    bar.update(task, completed=3)
    column = bar.columns[-1]
    assert column.render(bar.tasks[0]).plain.startswith("elapsed 0:00 left ")
    bar.update(task, completed=10)
    assert column.render(bar.tasks[0]).plain.startswith("took 0:0")


def test_no_bar_when_the_stream_is_not_a_terminal():
    console, buffer = pipe()
    with track("find", console=console) as tick:
        for done in range(1, 4):
            tick(done, 3, "status")
    assert buffer.getvalue() == ""


def test_a_bar_that_never_ticks_draws_nothing():
    console, buffer = terminal()
    with track("sharpness", console=console):
        pass
    assert "sharpness" not in ESCAPE.sub("", buffer.getvalue())


def test_total_none_keeps_the_last_total():
    console, buffer = terminal()
    with track("forecast", console=console) as tick:
        tick(1, 4, "")
        tick(4, None, "done")
    assert "4/4" in ESCAPE.sub("", buffer.getvalue())


# ---------------------------------------------------------------- wrapping

NUMBER = st.builds(lambda v, fmt: format(v, fmt), st.floats(1e-9, 1e9, allow_nan=False),
                   st.sampled_from([".3g", ".4g", "g", ".2%", ".6f", ".3e"]))
PATH = st.lists(st.text("abcdefghij-_.0123456789", min_size=1, max_size=12), min_size=2, max_size=6).map(
    lambda parts: "/".join(parts) + ".npz")
WORD = st.text("abcdefghijklmnopqrstuvwxyz()%:;,", min_size=1, max_size=10)
RANGE = st.builds(lambda a, b, sep: f"{a} {sep} {b}", NUMBER, NUMBER, st.sampled_from(["..", "->"]))


@st.composite
def sentences(draw):
    pieces = draw(st.lists(st.one_of(NUMBER, PATH, WORD, RANGE), min_size=1, max_size=30))
    return pieces, " ".join(pieces)


@settings(max_examples=300, deadline=None)
@given(sentences(), st.integers(min_value=8, max_value=140), st.sampled_from(["", "- ", "note: "]))
def test_wrapping_never_breaks_a_number_a_path_or_a_range(drawn, width, bullet):
    pieces, text = drawn
    lines = wrap(text, width, first=bullet)
    assert lines[0].startswith(bullet)
    hang = " " * len(bullet)
    assert all(line.startswith(hang) for line in lines[1:])  # the hanging indent
    kept = [line[len(bullet):] for line in lines]
    # every piece is whole on one line: a line is a run of whole pieces joined by single spaces
    assert " ".join(kept).split(" ") == text.split(" ")
    flat = [line.strip() for line in kept]
    for piece in pieces:
        if " " not in piece:  # a number, a path or a word
            assert any(piece in line.split(" ") for line in flat), (piece, lines)
        else:  # a range or a change "a .. b", "a -> b"
            assert any(piece in line for line in flat), (piece, lines)
    for line in lines:  # too long only when one unbreakable piece alone fills it
        if len(line) > width:
            body = line[len(bullet):].strip()
            assert body in words(text), (line, width)


def test_a_path_longer_than_the_line_stands_whole_on_its_own_line():
    path = "runs/a-very-long-directory-name/probes/landscape-trajectory.npz"
    lines = wrap(f"data written to {path} and the plot beside it", 30, first="- ")
    assert "  " + path in lines
    assert all("landsca" not in line or path in line for line in lines)


def test_the_issue_examples_stay_whole():
    text = "suggested lr 0.19; range 0.22 .. 0.258; loss fell 0.162 -> 0.0808 in the epoch after"
    for width in range(10, 60):
        joined = "\n".join(wrap(text, width, first="- "))
        assert "0.22 .. 0.258" in joined and "0.162 -> 0.0808" in joined


def test_a_line_keeps_its_own_indent_on_its_continuations():
    lines = wrap("    cosine(0.1, total=6000): 2.345 and some more words here", 24)
    assert lines[0].startswith("    cosine(") and all(line.startswith("    ") for line in lines[1:])


def test_say_and_bullets_wrap_on_a_terminal_with_a_hanging_indent():
    console, buffer = terminal(width=40)
    bullets(["The training loss fell 50% (0.162 -> 0.0808) in the epoch after the LR went from 0.1 to 0.01"],
            console=console, styles=["green"])
    text = ESCAPE.sub("", buffer.getvalue()).splitlines()
    assert len(text) > 1 and text[0].startswith("- The") and all(line.startswith("  ") for line in text[1:])
    assert all(len(line) <= 40 for line in text)
    assert "0.162 -> 0.0808" in "\n".join(text)


def test_nothing_is_wrapped_or_coloured_when_the_stream_is_not_a_terminal():
    console, buffer = pipe(width=20)
    long = "a finding of many words with 0.22 .. 0.258 and runs/x/probes/landscape-trajectory.npz in it"
    bullets([long], console=console, styles=["red"])
    say("second line\nthird line", console=console)
    assert buffer.getvalue() == f"- {long}\nsecond line\nthird line\n"
