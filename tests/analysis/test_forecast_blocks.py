"""The multi-power law's drop term on blocks of steps against the per-step sum of its definition."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.analysis.forecast.blocks import drop_blocks, exact_loss_drop
from lrscope.analysis.forecast.laws import MultiPowerLaw, Scale, make_run

# constants of the size the public curves fit (rates divided by the peak; C in those units)
B, C, BETA, GAMMA = 0.4, 0.2, 0.6, 0.65


def blocked_loss_drop(rates, warmup, rows, block):
    """LD at ``rows`` through the law's own blocked evaluation (theta with L0 = A = 0)."""
    law = MultiPowerLaw(block)
    scale = Scale(1.0, 1.0)  # internal units = the rates' own and steps: C is then the user's C
    # a logged row t is evaluated after t - 1 updates, so row t + 1 is the state after step t
    run = make_run(rates, warmup, np.asarray(rows) + 1, scale)
    theta = np.array([0.0, 0.0, 1.0, B, np.log(C), BETA, GAMMA])
    return -law.value(theta, law.features(run))


def schedules():
    t = np.arange(1, 6001)
    warm = np.minimum(t / 500, 1.0)
    cosine = np.where(t <= 500, warm, 0.1 + 0.45 * (1 + np.cos(np.pi * (t - 500) / 5500)))
    steps = np.where(t <= 500, warm, np.where(t < 3000, 1.0, np.where(t < 4500, 0.1, 0.01)))
    decay = np.where(t <= 500, warm, np.where(t < 5000, 1.0, 0.1 ** ((t - 5000) / 1000)))
    return {"cosine": cosine, "steps": steps, "exponential cooldown": decay}


@pytest.mark.parametrize("name", ["cosine", "steps", "exponential cooldown"])
def test_blocks_of_32_steps_agree_with_the_per_step_sum(name):
    rates = schedules()[name]
    rows = np.arange(600, 6001, 100)
    exact = exact_loss_drop(rates, 500, rows, B, C, BETA, GAMMA)
    blocked = blocked_loss_drop(rates, 500, rows, 32)
    # measured (of the largest drop): 1e-16 for steps, 5.2e-4 for the cosine, 2.6e-3 for the cooldown, whose
    # response (C = 0.2 a step) is fast next to a 32-step block
    tolerance = {"steps": 1e-12, "cosine": 1e-3, "exponential cooldown": 4e-3}[name]
    assert np.max(np.abs(blocked - exact)) <= tolerance * np.max(np.abs(exact))
    assert np.max(np.abs(exact)) > 0.01  # the term is not trivially small


def test_longer_blocks_cost_accuracy_on_a_smooth_decay():
    rates = schedules()["exponential cooldown"]
    rows = np.arange(5100, 6001, 100)
    exact = exact_loss_drop(rates, 500, rows, B, C, BETA, GAMMA)
    errors = [np.max(np.abs(blocked_loss_drop(rates, 500, rows, b) - exact)) for b in (8, 32, 200)]
    assert errors[0] < errors[1] < errors[2]


def test_blocks_end_at_the_rows_so_none_straddles_one():
    rates = schedules()["cosine"]
    blocks = drop_blocks(rates, np.cumsum(rates), 500, 1000, cuts=np.array([1234, 2345]))
    plain = drop_blocks(rates, np.cumsum(rates), 500, 1000)
    assert blocks.drop.size == plain.drop.size + 2
    np.testing.assert_allclose(blocks.drop.sum(), plain.drop.sum())


def test_a_step_drop_in_a_block_stands_at_its_own_step():
    rates = np.ones(100)
    rates[40:] = 0.25  # steps 41.. use 0.25: the drop is at k = 41
    blocks = drop_blocks(rates, np.cumsum(rates), 0, 32)
    assert blocks.drop.tolist() == [0.75]
    assert blocks.rate.tolist() == [0.25]
    assert blocks.area.tolist() == [40.0]  # S1(k - 1): the area of the 40 steps before the drop


def test_no_drop_gives_no_block_and_no_loss_drop():
    rates = np.ones(300)
    assert drop_blocks(rates, np.cumsum(rates), 0).drop.size == 0
    assert np.all(exact_loss_drop(rates, 0, [100, 200], B, C, BETA, GAMMA) == 0)
