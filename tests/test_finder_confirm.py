"""confirm_lr: the candidates around the finder's rate, the choice by validation loss, and what it reports."""

from __future__ import annotations

import doctest
import math

import pytest

from lrscope.analysis import finder_confirm
from lrscope.analysis.finder_confirm import CONFIRM_OFFSETS, choose_confirmed, confirm_lr, confirm_rates


def test_doctests():
    assert doctest.testmod(finder_confirm).failed == 0


def test_candidates_are_the_rate_times_ten_to_each_offset_lowest_first():
    rates = confirm_rates(0.2, offsets=(0.5, -1.0, 0.0))
    assert rates == pytest.approx([0.02, 0.2, 0.2 * 10 ** 0.5])
    assert len(confirm_rates(1.0)) == len(CONFIRM_OFFSETS) and 1.0 in confirm_rates(1.0)


@pytest.mark.parametrize("rate", [0.0, -0.1, math.nan, math.inf, "0.1"])
def test_a_rate_that_is_not_a_positive_number_is_refused(rate):
    with pytest.raises(ValueError, match="positive number"):
        confirm_rates(rate)


def test_the_lowest_finite_loss_wins_and_a_diverged_run_never_does():
    assert choose_confirmed([0.5, math.nan, 0.4, math.inf, 0.45]) == 2
    assert choose_confirmed([math.nan, 3.0]) == 1
    assert choose_confirmed([0.4, 0.4]) == 0  # equals: the first (the lower rate)
    with pytest.raises(ValueError, match="every candidate rate diverged"):
        choose_confirmed([math.nan, math.inf])


def test_confirm_trains_each_candidate_once_and_keeps_what_it_returned():
    seen = []

    def train_at(lr):
        seen.append(lr)
        if lr > 0.5:
            return {"val_loss": math.nan, "run_dir": f"runs/{lr:.3g}"}
        return {"val_loss": abs(math.log10(lr / 0.03)), "val_acc": 0.9, "run_dir": f"runs/{lr:.3g}"}

    result = confirm_lr(train_at, 0.3)  # the best rate of this recipe is 0.03, ten times below
    assert seen == result.rates == confirm_rates(0.3)
    assert result.chosen == pytest.approx(0.03) and result.factor == pytest.approx(0.1)
    doc = result.to_json()
    assert doc["schema"] == "lrscope.finder-confirm/1"
    assert [c["rate"] for c in doc["candidates"]] == pytest.approx(result.rates)
    assert doc["candidates"][-1]["val_loss"] is None  # 0.95 diverged: JSON has no NaN
    assert doc["candidates"][0]["run_dir"] == "runs/0.00949" and doc["candidates"][0]["val_acc"] == 0.9
    assert "val_loss" not in result.details[0]


@pytest.mark.parametrize("returned, message", [
    ({"loss": 0.3}, "without 'val_loss'"),
    ("low", "as a number"),
    (None, "as a number"),
])
def test_a_train_at_that_returns_no_loss_is_named(returned, message):
    with pytest.raises(ValueError, match=message):
        confirm_lr(lambda lr: returned, 0.1)

