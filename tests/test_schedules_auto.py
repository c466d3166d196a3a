"""``auto`` in a schedule spec: each placeholder filled with the range test's number for its parameter."""

from __future__ import annotations

import pytest

from lrscope.errors import UserError
from lrscope.schedules import check_spec, fill_auto, has_auto, parse_schedule


def test_fill_auto_picks_the_number_by_parameter():
    assert fill_auto("onecycle(auto, total=60)", 0.1, 0.01, 0.3) == "onecycle(0.3, total=60)"
    assert fill_auto("triangular(auto, auto, 8)", 0.1, 0.01, 0.3) == "triangular(0.01, 0.3, 8)"
    assert (
        fill_auto("triangular(base_lr=auto, max_lr=auto, step_size=8)", 0.1, 0.01, 0.3)
        == "triangular(base_lr=0.01, max_lr=0.3, step_size=8)"
    )
    assert fill_auto("warmup(5, cosine(auto, total=50))", 0.123456, 0.01, 0.3) == "warmup(5, cosine(0.123, total=50))"
    assert has_auto("onecycle(auto, total=6)") and not has_auto("onecycle(0.4, total=6)")
    with pytest.raises(UserError):
        fill_auto("onecycle(auto, total=", 0.1, 0.01, 0.3)


def test_a_floor_gets_the_low_end_and_anything_else_the_suggestion():
    assert fill_auto("cosine(auto, total=10, min_lr=auto)", 0.1, 0.01, 0.3) == "cosine(0.1, total=10, min_lr=0.01)"
    assert fill_auto("sgdr(auto, period=5, min_lr=auto)", 0.1, 0.01, 0.3) == "sgdr(0.1, period=5, min_lr=0.01)"
    assert fill_auto("linear(auto, 0.001, total=20)", 0.1, 0.01, 0.3) == "linear(0.1, 0.001, total=20)"
    assert fill_auto("piecewise([auto, 0.01], [10])", 0.1, 0.01, 0.3) == "piecewise([0.1, 0.01], [10])"
    assert (
        fill_auto("join([constant(auto), onecycle(auto, total=9)], [3])", 0.1, 0.01, 0.3)
        == "join([constant(0.1), onecycle(0.3, total=9)], [3])"
    )
    assert fill_auto("auto", 0.1, 0.01, 0.3) == "0.1"  # a bare number means constant(number)


def test_numbers_keep_three_significant_digits_and_the_text_is_written_as_python_would():
    assert fill_auto("constant(auto)", 0.000123456, 0.0, 1.0) == "constant(0.000123)"
    assert fill_auto("onecycle(auto,total=60)", 0.1, 0.01, 0.31415) == "onecycle(0.314, total=60)"
    assert fill_auto("cosine(0.1,total=5)", 0.2, 0.01, 0.3) == "cosine(0.1, total=5)"
    filled = fill_auto("warmup(5, onecycle(auto, total=95))", 0.1, 0.01, 0.3)
    assert parse_schedule(filled).spec == "warmup(5, onecycle(0.3, total=95))"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cosin(auto, total=5)", "did you mean cosine?"),
        ("onecycle(auto, total=1+2)", "arithmetic"),
        ("triangular(auto, auto, 8, mode='auto')", "mode must be one of"),
        ("onecycle(auto, totl=60)", "did you mean total?"),
        ("(" * 40 + "auto" + ")" * 40, "nested more than 32 deep"),
        ("constant(auto)" + " " * 30_000 + "+1", "too long"),
        ("", "empty schedule spec"),
    ],
)
def test_fill_auto_refuses_what_parse_schedule_refuses(spec, message):
    with pytest.raises(UserError, match=message):
        fill_auto(spec, 0.1, 0.01, 0.3)


def test_parse_schedule_still_asks_for_a_number_where_auto_stands():
    with pytest.raises(UserError, match="only numbers, quoted strings"):
        parse_schedule("onecycle(auto, total=60)")


def test_has_auto_looks_for_the_whole_word():
    assert has_auto("auto") and has_auto("triangular(auto, auto, 8)")
    assert not has_auto("") and not has_auto(None)  # type: ignore[arg-type]
    assert not has_auto("autos(1)") and not has_auto("cosine(0.1, total=5)")


AUTO_IN_EVERY_RATE = [
    "constant(auto)",
    "step(auto, 10)",
    "multistep(auto, [10, 20])",
    "piecewise([auto, auto], [10])",
    "exponential(auto, 0.9)",
    "linear(auto, auto, total=20)",
    "poly(auto, 20)",
    "cosine(auto, total=20, min_lr=auto)",
    "wsd(auto, 20, warmup=2, min_lr=auto)",
    "sgdr(auto, period=5, min_lr=auto)",
    "triangular(auto, auto, 8)",
    "onecycle(auto, total=20)",
    "warmup(3, cosine(auto, total=20, min_lr=auto))",
    "join([constant(auto), onecycle(auto, total=9)], [3])",
]
FINDER_NUMBERS = [(0.1, 0.01, 0.1), (3e-4, 1e-5, 1e-2), (2.0, 0.5, 8.0), (1e-6, 1e-8, 1e-6)]


@pytest.mark.parametrize("spec", AUTO_IN_EVERY_RATE)
def test_check_spec_reads_auto_as_every_finder_result_would(spec):
    # check_spec reads auto with stand-in numbers; it must accept exactly what the real numbers would give, so
    # a schedule that came to check relations between its rates (min_lr < lr ...) would show here first.
    check_spec(spec)
    for numbers in FINDER_NUMBERS:
        parse_schedule(fill_auto(spec, *numbers))
    with pytest.raises(UserError, match="only numbers"):  # and a word that is not auto is still refused
        check_spec(spec.replace("auto", "autoo", 1))
