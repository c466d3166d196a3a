"""The schedule spec parser under hostile input: whatever the text, ``parse_schedule`` returns a Schedule or raises
UserError (never RecursionError, MemoryError, OverflowError, ValueError, SyntaxError, ...), with one line that
names the position where one applies; and the CLI refuses such a spec in one line with exit 2, also where the
spec would not be used (``explain --schedule`` on a log with its own lr column)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety import assert_clean_refusal, run_cli

from lrscope.errors import UserError
from lrscope.schedules import SCHEDULES, Schedule, parse_schedule
from lrscope.schedules.spec import MAX_DEPTH, MAX_SPEC_CHARS


def _refused(text) -> str:
    with pytest.raises(UserError) as info:
        parse_schedule(text)
    message = str(info.value)
    assert "\n" not in message and len(message) < 1000, message
    return message


# (spec, the phrase its refusal must hold): every class of the audit, each through its own guard
HOSTILE = {
    # deep or long trees: bounded by the scan before ast.parse
    "sum of 6,000 terms": ("+".join(["1"] * 6000), "position"),
    "sum inside a call": ("cosine(0.1, total=" + "+".join(["1"] * 3000) + ")", "position"),
    "9,000 nots": ("not " * 9000 + "1", "too long"),
    "3,000 nots": ("not " * 3000 + "1", "position"),
    "attribute chain": ("a" + ".b" * 6000, "position"),
    "spaced attribute chain": ("a" + " . b" * 4000, "position"),
    "short attribute chain": ("cosine" + ".b" * 40, "position"),
    "call chain": ("f" + "()" * 6000, "position"),
    "19,000 minus signs": ("-" * 19000 + "1", "position"),
    "minus signs in an argument": ("cosine(" + "-" * 5000 + "0.1, total=10)", "position"),
    "double minus": ("cosine(--0.1, total=10)", "position"),
    "top-level double minus": ("--5", "position"),
    "nested lists": ("[" * 5000 + "]" * 5000, "position"),
    "nested calls": ("warmup(1, " * (MAX_DEPTH + 1) + "constant(0.1)" + ")" * (MAX_DEPTH + 1), "position"),
    "nested lambdas split by commas": ("lambda a, b: " * 1000 + "1", "position"),
    "conditional chain": ("1 if 1 else " * 1500 + "1", "position"),
    "too long": ("constant(0.1)" + " " * MAX_SPEC_CHARS + ",", "too long"),
    # huge numbers
    "hexadecimal of 10,000 digits": ("0x" + "F" * 10000, "position"),
    "hexadecimal in an argument": ("cosine(0.1, total=0x" + "F" * 10000 + ")", "position"),
    "decimal of 5,000 digits": ("9" * 5000, "position"),
    "decimal of 90 digits": ("cosine(0.1, total=" + "9" * 90 + ")", "position"),
    "float overflow": ("cosine(0.1, total=1e400)", "position"),
    "float near the limit": ("constant(1e301)", "position"),
    "integer beyond 10**15 in a list": ("multistep(0.1, milestones=[10, 10000000000000000])", "position"),
    "float too large for an int parameter": ("cosine(0.1, total=1e20)", "total"),
    "complex": ("cosine(1j, total=10)", "position"),
    # what the grammar does not allow
    "empty": ("", "empty"),
    "blank": ("   \t\n ", "empty"),
    "non-ASCII name": ("cosíne(0.1, total=10)", "position 4"),
    "non-ASCII minus": ("constant(\u22120.1)", "position"),
    "NUL byte": ("cosine(0.1,\x00 total=10)", "position 12"),
    "trailing NUL": ("cosine(0.1, total=10)\x00", "position"),
    "byte order mark": ("\ufeffcosine(0.1, total=10)", "position 1"),
    "lone surrogate": ("cosine(0.1, total=\udcff)", "position"),
    "lambda": ("lambda: 1", "position 1"),
    "lambda argument": ("warmup(5, lambda t: 0.1)", "position"),
    "import": ("__import__('os')", "position"),
    "import and call": ("__import__('os').system('true')", "position"),
    "attribute": ("cosine(0.1, total=10).__class__", "position"),
    "dunder in an argument": ("cosine(().__class__, total=10)", "position"),
    "comprehension": ("[x for x in [1, 2]]", "position"),
    "comprehension in an argument": ("piecewise([0.1 for _ in [1, 2]], [5])", "position"),
    "generator": ("constant(x for x in [1])", "position"),
    "f-string": ("f'{1}'", "position"),
    "f-string argument": ("triangular(0.1, 1, 5, mode=f'{triangular2}')", "position"),
    "bytes": ("triangular(0.1, 1, 5, mode=b'triangular2')", "position"),
    "triple quotes": ("triangular(0.1, 1, 5, mode='''triangular2''')", "position"),
    "backslash in a string": ("triangular(0.1, 1, 5, mode='tri\\x61ngular2')", "position"),
    "unterminated string": ("triangular(0.1, 1, 5, mode='triangular2)", "position"),
    "starred": ("step(*[0.1, 2])", "position"),
    "double starred": ("cosine(0.1, **{'total': 10})", "position"),
    "keyword with a dunder name": ("cosine(0.1, total=10, __class__=1)", "position"),
    "keyword with a private name": ("cosine(0.1, total=10, _lr=1)", "position"),
    "keyword twice": ("cosine(0.1, total=10, total=20)", "position"),
    "dict literal": ("{'cosine': 1}", "position"),
    "dict argument": ("cosine({'lr': 0.1}, total=10)", "position"),
    "set literal": ("cosine({0.1}, total=10)", "position"),
    "subscript": ("cosine(0.1, total=10)[0]", "position"),
    "arithmetic": ("cosine(0.1, total=10 * 10)", "position"),
    "power": ("cosine(0.1, total=10**100000)", "position"),
    "comparison": ("cosine(0.1 < 1, total=10)", "position"),
    "walrus": ("cosine((x := 0.1), total=10)", "position"),
    "boolean operators": ("cosine(0.1, total=10) or 1", "position"),
    "comment": ("cosine(0.1, total=10)  # and then", "position"),
    "semicolon": ("cosine(0.1, total=10); 1", "position"),
    "None": ("cosine(None, total=10)", "position"),
    "Ellipsis": ("cosine(..., total=10)", "position"),
    "unknown name": ("open('x')", "position"),
    "bare name": ("cosine", "position"),
    "unquoted string": ("triangular(0.1, 1, 5, mode=triangular2)", "position"),
    "unbalanced": ("cosine(0.1, total=10", "position"),
    "extra bracket": ("cosine(0.1, total=10))", "position"),
    "tuple at the top": ("cosine(0.1, total=10), 1", "position"),
    "list at the top": ("[1, 2]", "position"),
    "huge list in a piecewise": ("piecewise([" + "0.1, " * 1_000_000 + "0.1], [1])", "too long"),
    "piecewise of a thousand stages that do not match": (
        "piecewise([" + ", ".join(["0.1"] * 1000) + "], [" + ", ".join(map(str, range(1, 1000))) + ", 2000])",
        "position",
    ),
}


@pytest.mark.parametrize("text, phrase", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_spec_is_one_clean_user_error(text, phrase):
    message = _refused(text)
    assert phrase in message, message


def test_positions_point_at_the_offence():
    assert "position 23:" in _refused("cosine(0.1, total=100).x")  # the '.'
    assert "position 22:" in _refused("cosine(0.1, total=10 + 5)")  # the '+'
    assert "position 19:" in _refused("cosine(0.1, total=1e400)")  # the number
    assert "position 23:" in _refused("cosine(0.1, total=10, __class__=1)")  # the keyword
    assert "position 22:" in _refused("  cosine(0.1, total=a.b)")  # counted in the text as given, from 1
    assert "position 21:" in _refused("cosine(0.1,\n total=a.b)")  # a newline is one character
    assert "attribute access is not allowed" in _refused("__import__('os').system('true')")


def test_sane_specs_still_parse():
    assert parse_schedule("constant(-0.0)").lr == 0.0  # one sign on a number is fine
    assert parse_schedule("cosine(0.1, total=0x10)").total == 16
    assert parse_schedule("constant(1e300)").lr == 1e300
    assert parse_schedule("cosine(0.1, total=1000000000000000)").total == 10**15
    assert parse_schedule("step(0.1, step_size=1_000, gamma=+0.5)").step_size == 1000
    assert parse_schedule("cosine(0.1,\n   total=10,\n)").total == 10
    deep = "warmup(1, " * (MAX_DEPTH - 1) + "constant(0.1)" + ")" * (MAX_DEPTH - 1)
    assert parse_schedule(deep)(MAX_DEPTH) == 0.1
    many = "piecewise([" + ", ".join(["0.1", "0.01"] * 500) + "], [" + ", ".join(map(str, range(1, 1000))) + "])"
    assert len(parse_schedule(many).boundaries) == 999


# ---------------------------------------------------------------------------------------- fuzzing

TOKENS = [
    *SCHEDULES, "lr", "total", "min_lr", "milestones", "gamma", "mode", "boundaries", "period", "mult",
    "(", ")", "[", "]", "{", "}", ",", "=", "-", "+", "*", "**", "/", ".", ":", ";", "~", "<", "==", "@", "!",
    "'", '"', "#", "\\", " ", "\n", "\t", "\x00", "\u00e9", "\u2212", "\ufeff",
    "0", "1", "-1", "0.1", "1e-3", "1e400", "-1e400", "1e308", "0x" + "f" * 40, "9" * 30, "1_0", "1j", "0b1",
    "True", "False", "None", "not", "lambda", "if", "else", "for", "in", "and", "or", "__import__", "os",
    "'triangular2'", "'cos'", "f'", "b'", "...",
]


def _check(text: str) -> None:
    try:
        schedule = parse_schedule(text)
    except UserError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 1000, message
        return
    assert isinstance(schedule, Schedule)
    assert parse_schedule(schedule.spec) == schedule  # what parses writes back to an equal value
    with np.errstate(all="ignore"):
        try:
            schedule(np.arange(50.0))
            len(schedule.events(0, 50))
        except UserError:
            pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_any_text(text):
    _check(text)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=80), st.sampled_from(["", " "]))
def test_fuzz_token_soup(tokens, glue):
    _check(glue.join(tokens))


GOOD = [
    "cosine(0.1, total=100, min_lr=0.001)",
    "warmup(5, join([constant(0.1), step(0.1, 10)], boundaries=[5]), start_factor=0.1)",
    "triangular(0.001, 0.1, step_size=10, mode='exp_range', gamma=0.99)",
    "piecewise([0.1, 0.01, 0.001], [30, 60])",
    "onecycle(0.4, total=1000, anneal='linear', three_phase=True)",
    "sgdr(0.1, period=10, mult=2, min_lr=0.0)",
]


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(GOOD),
    st.lists(st.tuples(st.integers(0, 120), st.integers(0, 3), st.sampled_from(TOKENS)), max_size=4),
)
def test_fuzz_mutated_good_specs(spec, edits):
    for at, cut, token in edits:  # replace `cut` characters at `at` with a token
        at = min(at, len(spec))
        spec = spec[:at] + token + spec[at + cut :]
    _check(spec)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["(", "[", "-", "not ", "a.", "f()", "1+", "~", "lambda: "]), st.integers(1, 6000))
def test_fuzz_repetition(piece, times):
    _check(piece * times + "1")
    _check("cosine(" + piece * times + "0.1, total=10)")


# ---------------------------------------------------------------------------------------- the CLI


def test_cli_refuses_a_deep_spec_in_one_line():
    result = run_cli("schedule", "not " * 3000 + "1", "--steps", "5", timeout=120)
    line = assert_clean_refusal(result, expect="position")
    assert line.startswith("lrscope: error: schedule spec: position")
    assert result.stdout == ""


@pytest.mark.parametrize("spec", ["-" * 19000 + "1", "0x" + "F" * 10000, "f" + "()" * 6000, "+".join(["1"] * 6000)])
def test_cli_refuses_each_hostile_class(spec):
    result = run_cli("schedule", "--steps", "5", "--", spec, timeout=120)  # '--': a spec may start with '-'
    assert_clean_refusal(result, expect="schedule spec: position")


def test_explain_refuses_a_bad_spec_even_with_an_lr_column(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,lr,train_loss\n1,0.1,2.0\n2,0.1,1.5\n3,0.01,1.0\n4,0.01,0.9\n")
    before = log.read_bytes()
    line = assert_clean_refusal(run_cli("explain", log, "--schedule", "cosine(", timeout=120), expect="schedule spec")
    assert "cannot parse" in line
    assert_clean_refusal(run_cli("explain", log, "--schedule", "cosine(0.1, total=10).x", timeout=120),
                         expect="position")
    assert log.read_bytes() == before
    ok = run_cli("explain", log, "--schedule", "cosine(0.1, total=4)", timeout=120)  # a good one is still fine
    assert ok.returncode == 0, ok.stderr
