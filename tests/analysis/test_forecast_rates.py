"""The per-step rate rebuilt from a subsampled LR column, from a schedule, and the warm-up before the first row."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.analysis.forecast import rates_from_schedule, step_rates, warmup_end
from lrscope.errors import UserError
from lrscope.schedules import parse_schedule


def test_hold_keeps_each_logged_rate_until_the_next_row():
    rates, note = step_rates([1, 5, 9], [1.0, 1.0, 0.5], how="hold")
    assert rates.tolist() == [1.0] * 8 + [0.5]
    assert "held until the next row" in note


def test_interpolate_ramps_linearly_between_rows():
    rates, _ = step_rates([1, 5, 9], [1.0, 1.0, 0.5], how="interpolate")
    np.testing.assert_allclose(rates, [1, 1, 1, 1, 1, 0.875, 0.75, 0.625, 0.5])


def test_auto_holds_an_isolated_change_and_interpolates_a_rate_that_moves_at_every_row():
    step = [10, 20, 30, 40, 50, 60]
    stepped, note = step_rates(step, [1.0, 1.0, 1.0, 0.1, 0.1, 0.1])
    assert stepped[29:39].tolist() == [1.0] * 10 and stepped[39] == 0.1  # the cut happens at the row showing it
    assert "at 1 isolated change (a step schedule)" in note
    smooth, note = step_rates(step, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5])
    np.testing.assert_allclose(smooth[9:], np.interp(np.arange(10, 61), step, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]))
    assert "interpolated linearly across 5 intervals" in note


def test_auto_treats_a_wsd_column_per_interval():
    # constant, then a decay at every row: the flat part holds, the decay is interpolated
    step = np.arange(100, 1100, 100)
    lr = np.array([1.0] * 6 + [0.8, 0.6, 0.4, 0.2])
    rates, _ = step_rates(step, lr)
    assert np.all(rates[99:500] == 1.0)
    np.testing.assert_allclose(rates[599:], np.interp(np.arange(600, 1001), step, lr))


def test_linear_warmup_before_a_log_that_starts_after_it():
    rates, note = step_rates([2176, 2304], [3e-4, 3e-4], warmup_steps=2160)
    assert rates.size == 2304
    np.testing.assert_allclose(rates[:2160], 3e-4 * np.arange(1, 2161) / 2160)
    assert np.all(rates[2160:] == 3e-4)
    assert "linear warm-up from 0" in note and "1-2160" in note and "held it to step 2175" in note


def test_a_log_that_starts_inside_its_warmup_is_ramped_to_its_first_row():
    rates, note = step_rates([50, 100, 150], [0.5, 1.0, 1.0], how="interpolate", warmup_steps=100)
    np.testing.assert_allclose(rates[:49], 0.5 * np.arange(1, 50) / 50)
    assert rates[49] == 0.5 and rates[99] == 1.0
    assert "inside its 100-step warm-up" in note


def test_without_a_warmup_the_first_rate_is_held_back_to_step_one():
    rates, note = step_rates([10, 20], [0.1, 0.1])
    assert np.all(rates == 0.1) and rates.size == 20
    assert "back to step 1" in note


@pytest.mark.parametrize(
    ("step", "lr", "how", "message"),
    [
        ([1, 2, np.nan], [1, 1, 1], "auto", "NaN"),
        ([1, 3, 2], [1, 1, 1], "auto", "increase"),
        ([0, 1, 2], [1, 1, 1], "auto", "from 1 on"),
        ([1.5, 2, 3], [1, 1, 1], "auto", "whole optimizer steps"),
        ([1, 2, 3], [1, 1], "auto", "one value per row"),
        ([1, 2, 3], [1, -1, 1], "auto", ">= 0"),
        ([1, 2, 3], [1, np.inf, 1], "auto", "NaN or infinite"),
        ([1, 2, 3], [1, 1, 1], "smooth", "how must be one of"),
    ],
)
def test_bad_columns_are_one_line_user_errors(step, lr, how, message):
    with pytest.raises(UserError, match=message) as err:
        step_rates(step, lr, how=how)
    assert "\n" not in str(err.value)


def test_rates_from_a_schedule_are_the_rate_after_t_minus_one_completed_steps():
    schedule = parse_schedule("multistep(0.1, milestones=[3])")
    rates = rates_from_schedule(schedule, 5)
    np.testing.assert_allclose(rates, schedule(np.arange(5)))
    assert rates.tolist() == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(UserError, match="total_steps"):
        rates_from_schedule(schedule, 0)


def test_warmup_end_is_where_the_initial_rise_tops_out():
    ramp = np.concatenate([np.linspace(0.01, 1.0, 100), np.ones(50), np.linspace(1.0, 0.1, 50)])
    assert warmup_end(ramp) == 100
    assert warmup_end(np.ones(10)) == 0
    assert warmup_end(np.linspace(1.0, 0.1, 10)) == 0
