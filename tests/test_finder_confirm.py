"""confirm_lr: the candidates around the finder's rate, the choice by validation loss, and what it reports."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from lrscope.analysis import finder_confirm
from lrscope.analysis.finder_confirm import (
    CONFIRM_EXTEND,
    CONFIRM_OFFSETS,
    beyond_end,
    choose_confirmed,
    confirm_lr,
    confirm_rates,
    refine_rate,
)


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


def test_beyond_an_end_steps_by_the_end_ratio_and_stops_once_bracketed():
    assert beyond_end([0.01, 0.03, 0.1], [0.9, 0.8, 0.7]) == pytest.approx(0.1 * 0.1 / 0.03)
    assert beyond_end([0.01, 0.03, 0.1], [0.6, 0.8, 0.7]) == pytest.approx(0.01 * 0.01 / 0.03)
    assert beyond_end([0.01, 0.03, 0.1], [0.9, 0.7, 0.8]) is None
    assert beyond_end([0.01, 0.03, 0.1], [0.9, 0.7, math.nan]) is None  # a diverged top brackets the best
    assert beyond_end([0.1], [0.5]) is None


def test_a_best_at_the_top_trains_past_it_until_a_worse_rate_brackets_it():
    seen = []

    def train_at(lr):  # the best rate of this recipe is 10x above the finder's, one decade past the top offset
        seen.append(lr)
        return abs(math.log10(lr / 1.0))

    result = confirm_lr(train_at, 0.1)
    # 1.0 is the best and again the top, so one more step (3.16) brackets it
    assert len(seen) == len(CONFIRM_OFFSETS) + 2 and seen[-2:] == pytest.approx([1.0, 10 ** 0.5])
    assert result.chosen == pytest.approx(1.0) and result.rates == sorted(result.rates)
    assert len(result.val_losses) == len(result.details) == len(result.rates) == len(seen)


def test_extension_stops_at_its_budget_and_when_it_diverges():
    far = confirm_lr(lambda lr: -math.log10(lr), 0.1)  # ever better upwards: only CONFIRM_EXTEND more runs
    assert len(far.rates) == len(CONFIRM_OFFSETS) + CONFIRM_EXTEND
    assert far.chosen == pytest.approx(0.1 * 10 ** (max(CONFIRM_OFFSETS) + 0.5 * CONFIRM_EXTEND))
    down = confirm_lr(lambda lr: lr, 0.1, extend=0)  # ever better downwards, no budget: the lowest offset
    assert len(down.rates) == len(CONFIRM_OFFSETS) and down.chosen_index == 0
    blown = confirm_lr(lambda lr: math.nan if lr > 0.5 else -lr, 0.1)  # the step past the top diverges
    assert len(blown.rates) == len(CONFIRM_OFFSETS) + 1 and blown.chosen == pytest.approx(0.1 * 10 ** 0.5)
    with pytest.raises(ValueError, match="whole number"):
        confirm_lr(lambda lr: lr, 0.1, extend=-1)


@pytest.mark.parametrize("seed", range(5))
def test_the_refined_rate_is_the_parabola_vertex_clipped_to_the_limit(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 0, 3))
    y = np.array([1.0, 0.2, 0.6]) + rng.uniform(0, 0.1, 3)  # the middle is the lowest: a minimum between
    a, b, _ = np.polyfit(x, y, 2)
    vertex = -b / (2 * a)
    got = math.log10(refine_rate(list(10 ** x), list(y), limit=10.0))
    assert got == pytest.approx(vertex, abs=1e-9)
    clipped = math.log10(refine_rate(list(10 ** x), list(y), limit=0.05))
    assert clipped == pytest.approx(x[1] + float(np.clip(vertex - x[1], -0.05, 0.05)), abs=1e-9)


def test_the_refined_rate_stays_at_the_best_run_without_a_bracket():
    assert refine_rate([0.01, 0.1, 1.0], [0.9, 0.8, 0.7]) == 1.0  # best at the top: no vertex beyond it
    assert refine_rate([0.01, 0.1, 1.0], [math.inf, 0.5, 0.6]) == 0.1
    assert refine_rate([0.1], [0.5]) == 0.1
    result = confirm_lr(lambda lr: (math.log10(lr) + 1.9) ** 2, 0.1)  # best at 10^-2 (an offset), vertex -1.9
    assert result.chosen == pytest.approx(0.01)
    assert math.log10(result.refined) == pytest.approx(-1.9) and result.to_json()["refined"] == result.refined


@pytest.mark.parametrize("returned, message", [
    ({"loss": 0.3}, "without 'val_loss'"),
    ("low", "as a number"),
    (None, "as a number"),
])
def test_a_train_at_that_returns_no_loss_is_named(returned, message):
    with pytest.raises(ValueError, match=message):
        confirm_lr(lambda lr: returned, 0.1)

