"""The noisy quadratic model: closed form vs the recursion, vs simulation; floors; the staircase."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.analysis.noise_floor import floor_excess, predicted_drop
from lrscope.analysis.nqm import (
    Spectrum,
    expected_loss,
    fixed_point,
    floor_loss,
    rates,
    second_moments,
    simulate,
)


def _recursion(lrs, h, c, batch_size, s0):
    s = np.full(h.shape, s0, dtype=np.float64)
    out = [s.copy()]
    for lr in lrs:
        s = (1 - lr * h) ** 2 * s + lr**2 * c / batch_size
        out.append(s.copy())
    return np.array(out)


def test_closed_form_equals_recursion_for_a_staircase():
    spec = Spectrum.power_law(50)
    lrs = np.r_[np.full(300, 0.5), np.full(300, 0.05), np.full(300, 0.005)]
    closed = second_moments(lrs, spec, batch_size=4.0, s0=2.0)
    assert np.allclose(closed, _recursion(lrs, spec.h, spec.c, 4.0, 2.0), rtol=1e-9, atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.0, 1.9]), min_size=1, max_size=60),
    st.floats(0.5, 64),
    st.floats(0.0, 3.0),
)
def test_closed_form_equals_recursion_for_any_rates(lrs, batch_size, s0):
    spec = Spectrum(h=np.array([1.0, 0.3, 0.05]), c=np.array([0.5, 2.0, 1.0]))
    lrs = np.array(lrs)
    closed = second_moments(lrs, spec, batch_size, s0)
    assert np.allclose(closed, _recursion(lrs, spec.h, spec.c, batch_size, s0), rtol=1e-9, atol=1e-12)


def test_closed_form_matches_monte_carlo_sgd():
    spec = Spectrum(h=np.array([1.0, 0.2, 0.04]), c=np.array([1.0, 0.2, 0.04]))
    lrs = np.r_[np.full(100, 0.4), np.full(100, 0.04)]
    sim = simulate(lrs, spec, batch_size=2.0, s0=1.0, replicas=4000, seed=0)
    closed = second_moments(lrs, spec, batch_size=2.0, s0=1.0)
    # E[theta^2] over 4000 replicas: relative standard error about sqrt(2/4000) = 2.2 %
    assert np.allclose(sim[-50:], closed[-50:], rtol=0.12)
    assert np.allclose(sim[95:105], closed[95:105], rtol=0.12)


def test_fixed_point_and_floor_formula():
    h, c = np.array([1.0, 0.1]), np.array([0.7, 0.2])
    star = fixed_point(0.3, h, c, 8.0)
    assert np.allclose((1 - 0.3 * h) ** 2 * star + 0.3**2 * c / 8.0, star)
    assert fixed_point(2.5, h, c, 8.0)[0] == np.inf
    spec = Spectrum.power_law(200)
    small = 1e-3  # alpha h << 1: L* ~ alpha tr(C) / (4B), the floor of analysis/noise_floor.py with momentum 0
    assert floor_loss(small, spec, 16.0) == pytest.approx(
        float(floor_excess(small, spec.c.sum(), 16.0)), rel=1e-3
    )


def test_staircase_appears_and_drop_matches_floor_prediction():
    spec = Spectrum(h=np.geomspace(1.0, 0.05, 40), c=np.geomspace(1.0, 0.05, 40))
    lr1, lr2, batch = 0.2, 0.02, 4.0
    lrs = np.r_[np.full(2000, lr1), np.full(2000, lr2)]
    loss = expected_loss(lrs, spec, batch, s0=1.0)
    # flat at the first floor before the cut
    assert loss[1900] == pytest.approx(floor_loss(lr1, spec, batch), rel=1e-3)
    assert abs(loss[2000] - loss[1800]) / loss[2000] < 1e-3
    # a sharp fall right after: most of the gap closes within 100 steps
    # (tau = 1 / (2 alpha2 h) = 25 steps for h = 1)
    gap = loss[2000] - floor_loss(lr2, spec, batch)
    assert loss[2000] - loss[2100] > 0.5 * gap
    # and the total fall is the floor difference, close to (alpha1 - alpha2) tr(C) / (4B)
    assert loss[2000] - loss[-1] == pytest.approx(
        floor_loss(lr1, spec, batch) - floor_loss(lr2, spec, batch), rel=1e-2
    )
    assert loss[2000] - loss[-1] == pytest.approx(
        float(predicted_drop(lr1, lr2, spec.c.sum(), batch)), rel=0.1
    )


def test_rates_take_schedules_and_momentum():
    from lrscope.schedules import parse_schedule

    r = rates(parse_schedule("multistep(0.1, milestones=[3])"), 5, momentum=0.9)
    assert np.allclose(r, [1.0, 1.0, 1.0, 0.1, 0.1])
    assert np.allclose(rates(lambda t: 0.5, 3), 0.5)
