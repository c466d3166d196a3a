"""Stage verdicts from the x column, with their evidence: tail slopes per epoch or per step, their noise, and a
number of more epochs to flatten only when an exponential fit supports it (issue 16, "did I train long enough?")."""

from __future__ import annotations

import math

import numpy as np

from lrscope.analysis.smooth import Series
from lrscope.analysis.stages import PLATEAU_FALL, fit_stage


def series(y, role="train_loss"):
    y = np.asarray(y, dtype=np.float64)
    return Series(role, role, np.arange(len(y)), y, np.log(y), True, False)


def test_slope_is_per_x_unit_when_rows_are_far_apart():
    """Rows 115 steps apart, loss falling 0.1 % per step: tail_change is per step, not per row."""
    x = 115.0 * np.arange(40)
    st = fit_stage(series(np.exp(-0.001 * x)), x, 0, 39)
    assert st.judged and not st.plateaued
    assert math.isclose(st.tail_change, math.expm1(-0.001), rel_tol=1e-6)
    assert st.spacing == 115.0 and math.isclose(st.tail_x, 115.0 * 12 + 115.0)  # 13 points, one interval each


def test_flatten_estimate_brackets_the_truth_of_an_exponential_approach():
    """g = 0.2 + exp(-x / 60) on epochs 0-99: flat (< 3 % over a quarter of the stage, 25 epochs) at
    x = 60 ln(25 / (60 ln(1/0.97))) = 157, i.e. about 58 more epochs."""
    rng = np.random.default_rng(0)
    x = np.arange(100, dtype=float)
    g = 0.2 + np.exp(-x / 60) + rng.normal(0, 0.002, 100)
    st = fit_stage(series(np.exp(g)), x, 0, 99)
    assert not st.plateaued and st.flatten is not None, st
    truth = 60 * math.log(25 / (60 * math.log(1 / (1 - PLATEAU_FALL)))) - 99
    mid, lo, hi = st.flatten
    assert lo <= truth <= hi and abs(mid - truth) < 0.2 * truth, (st.flatten, truth)


def test_a_straight_fall_gives_no_number_to_flatten():
    """A fall that does not slow down: the fit cannot say when it flattens, so no number is given."""
    x = np.arange(60, dtype=float)
    st = fit_stage(series(np.exp(-0.02 * x)), x, 0, 59)
    assert not st.plateaued and st.flatten is None and st.rows_to_flatten is None


def test_noise_is_reported_with_the_slope():
    rng = np.random.default_rng(1)
    x = np.arange(90, dtype=float)
    y = 0.3 * np.exp(rng.normal(0, 0.05, 90))
    st = fit_stage(series(y), x, 0, 89)
    assert st.plateaued and not st.rising
    assert 0.0005 < st.tail_se < 0.002 and st.tail_points == 30  # about 0.05 / sqrt(sum (x - mean)^2)


def test_a_rising_tail_is_rising_not_falling():
    x = np.arange(50, dtype=float)
    y = np.concatenate([np.exp(-x[:25] / 5), np.exp(-5) * np.exp(0.03 * (x[25:] - 25))])
    st = fit_stage(series(y), x, 0, 49)
    assert st.rising and st.plateaued and st.tail_change > 0 and st.flatten is None


def test_a_stage_of_three_points_is_not_judged():
    x = np.arange(10, dtype=float)
    st = fit_stage(series(np.linspace(1, 0.5, 10)), x, 7, 9)
    assert not st.judged and st.points == 3 and st.flatten is None


def test_a_tail_that_falls_to_zero_is_worded_not_a_crash():
    """A loss that falls to 1e-320 makes the tail's relative change -1 (log -inf); the fuzz found the crash."""
    import json

    import numpy as np

    from lrscope.analysis.explain import explain
    from lrscope.logs.runlog import build_runlog

    log = build_runlog({"loss": np.array([1.0, 1.0, 1.0, 1e-320])}, path="t.csv", fmt="delimited", notes=[])
    doc = explain(log).to_json()
    json.dumps(doc, allow_nan=False)
    assert doc["stages"][0]["tail_change"] >= -1.0
    assert any(f["kind"] == "stage" for f in doc["findings"])
