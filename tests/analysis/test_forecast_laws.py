"""Each law, fitted to a noisy curve generated from known constants, recovers them and the curve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrscope.analysis.forecast import Curve, fit
from lrscope.analysis.forecast.fit import fit_law, scale_of
from lrscope.analysis.forecast.laws import MultiPowerLaw, PowerLaw, TissueLaw, make_run

TOTAL, WARMUP, PEAK = 6000, 200, 0.1
T = np.arange(1, TOTAL + 1)
ROWS = np.arange(250, TOTAL + 1, 50)


def schedule(kind: str) -> np.ndarray:
    rates = np.where(T <= WARMUP, PEAK * T / WARMUP, PEAK)
    if kind == "fit":  # a step, then a linear decay: both kinds of annealing in one run
        rates = np.where(T > 3000, 0.3 * PEAK, rates)
        rates = np.where(T > 4500, 0.3 * PEAK * (1 - 0.9 * (T - 4500) / 1500), rates)
    elif kind == "cosine":
        rates = np.where(T > WARMUP, PEAK * (0.01 + 0.495 * (1 + np.cos(np.pi * (T - WARMUP) / (TOTAL - WARMUP)))),
                         rates)
    elif kind == "wsd":
        rates = np.where(T > 5000, PEAK * 0.1 ** ((T - 5000) / 1000), rates)
    return rates


# internal constants (rates / peak, steps / horizon); see lrscope.analysis.forecast.laws
TRUTHS = {
    "mpl": (MultiPowerLaw, np.array([2.0, 0.5, 0.5, 0.3, math.log(120.0), 0.6, 0.6])),
    "tissue": (TissueLaw, np.array([2.0, 0.5, 0.5, 3.0, math.log(0.05)])),
    "power": (PowerLaw, np.array([2.0, 0.5, 0.5, 0.05])),
}


def generated(name: str, kind: str, noise: float = 0.0, seed: int = 0) -> tuple[Curve, np.ndarray]:
    """A curve of law ``name`` under schedule ``kind`` (with multiplicative noise), and its noise-free loss."""
    law_type, theta = TRUTHS[name]
    law = law_type()
    rates = schedule(kind)
    scale = scale_of([Curve(ROWS, np.ones(ROWS.size), schedule("fit"), warmup_steps=WARMUP)])
    truth = law.value(theta, law.features(make_run(rates, WARMUP, ROWS, scale)))
    loss = truth * np.exp(np.random.default_rng(seed).normal(0.0, noise, truth.size))
    return Curve(ROWS, loss, rates, name=f"{name} {kind}", warmup_steps=WARMUP), truth


@pytest.mark.parametrize("name", ["mpl", "tissue", "power"])
def test_a_law_recovers_its_curve_and_constants_from_noisy_data(name):
    curve, truth = generated(name, "fit", noise=2e-4, seed=1)
    law_type, theta = TRUTHS[name]
    fitted = fit_law([curve], law_type())
    assert np.mean(np.abs(fitted.predict(curve.rates, ROWS, WARMUP) - truth) / truth) < 1e-4
    # and under schedules it never saw
    for kind in ("cosine", "wsd"):
        other, other_truth = generated(name, kind)
        assert np.mean(np.abs(fitted.predict(other.rates, ROWS, WARMUP) - other_truth) / other_truth) < 1e-4
    np.testing.assert_allclose(fitted.theta[:3], theta[:3], rtol=0.02)  # L0, A, alpha
    assert fitted.mean_rel_error < 3e-4  # the noise, not a misfit


def test_tissue_reports_lambda_in_the_users_steps():
    curve, _ = generated("tissue", "fit", noise=2e-4, seed=2)
    fitted = fit_law([curve], TissueLaw())
    assert fitted.params["lambda"] == pytest.approx(1 - 1 / (0.05 * TOTAL), abs=2e-4)  # a 300-step memory


def test_constants_are_in_the_users_units_and_forecasts_do_not_depend_on_the_rate_scale():
    curve, _ = generated("mpl", "fit", noise=2e-4, seed=3)
    scaled = Curve(curve.step, curve.loss, curve.rates * 1000.0, warmup_steps=WARMUP)
    a, b = fit_law([curve], MultiPowerLaw()), fit_law([scaled], MultiPowerLaw())
    target = schedule("cosine")
    np.testing.assert_allclose(a.predict(target, ROWS, WARMUP), b.predict(target * 1000.0, ROWS, WARMUP), rtol=1e-6)
    alpha, gamma = a.params["alpha"], a.params["gamma"]
    assert b.params["A"] == pytest.approx(a.params["A"] * 1000.0**alpha, rel=1e-4)
    assert b.params["B"] == pytest.approx(a.params["B"] / 1000.0, rel=1e-4)
    assert b.params["C"] == pytest.approx(a.params["C"] * 1000.0 ** (gamma - 1), rel=1e-3)


def test_runs_fitted_jointly_share_one_set_of_constants():
    first, truth_first = generated("mpl", "fit", noise=2e-4, seed=4)
    second, truth_second = generated("mpl", "wsd", noise=2e-4, seed=5)
    fitted = fit([first, second], "mpl")
    assert fitted.curves == ("mpl fit", "mpl wsd")
    for curve, truth in ((first, truth_first), (second, truth_second)):
        assert np.mean(np.abs(fitted.predict(curve.rates, ROWS, WARMUP) - truth) / truth) < 1e-4
    assert fitted.rows == 2 * ROWS.size
