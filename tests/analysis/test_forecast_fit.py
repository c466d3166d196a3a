"""fit(): refusal of a run with nothing to learn from, bad input, the auto choice; forecast()'s band; a Curve
from a RunLog."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.analysis.forecast import REFUSAL, Curve, annealing, curve_from_log, fit, forecast, step_rates
from lrscope.errors import UserError
from lrscope.logs.runlog import build_runlog

from .test_forecast_laws import ROWS, WARMUP, generated, schedule


def constant_run(noise: float = 2e-4) -> Curve:
    curve, _ = generated("power", "constant", noise=noise, seed=7)
    return curve


def test_a_constant_run_is_refused_for_the_schedule_aware_laws():
    curve = constant_run()
    assert not annealing(curve).annealed
    for law in ("auto", "mpl", "tissue"):
        with pytest.raises(UserError) as err:
            fit([curve], law)
        assert str(err.value) == REFUSAL
    fitted = fit([curve], "power")
    assert fitted.law == "power" and fitted.mean_rel_error < 1e-3


def test_a_constant_run_beside_an_annealed_one_is_fitted_with_a_note():
    annealed, _ = generated("mpl", "fit", noise=2e-4, seed=8)
    fitted = fit([constant_run(), annealed], "mpl")
    assert any("power constant has no annealing" in note for note in fitted.notes)
    # leave-one-out has one fold: the constant run predicted from the annealed one
    assert fitted.heldout_rel_error is not None


def good_curve(**changes) -> dict:
    args = {"step": ROWS, "loss": np.linspace(3.0, 2.0, ROWS.size), "rates": schedule("fit"), "warmup_steps": WARMUP}
    args.update(changes)
    return args


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"loss": np.r_[np.linspace(3.0, 2.0, ROWS.size - 1), np.nan]}, "NaN"),
        ({"loss": np.r_[np.linspace(3.0, 2.0, ROWS.size - 1), 0.0]}, "positive loss"),
        ({"loss": np.ones(3)}, "one value per row"),
        ({"rates": schedule("fit")[:1000]}, "rates cover steps 1-1000"),
        ({"rates": np.full(ROWS[-1], np.nan)}, "NaN or infinite"),
        ({"step": ROWS[::-1].copy()}, "increase"),
        ({"warmup_steps": -1}, "warmup_steps"),
    ],
)
def test_bad_curves_are_one_line_user_errors(changes, message):
    with pytest.raises(UserError, match=message) as err:
        Curve(**good_curve(**changes))
    assert "\n" not in str(err.value)


def test_too_few_rows_after_the_warmup_is_a_user_error():
    curve = Curve(ROWS[:6], np.linspace(3.0, 2.5, 6), schedule("fit"), warmup_steps=WARMUP)
    with pytest.raises(UserError, match="at least"):
        fit([curve], "power")


@pytest.mark.parametrize(("kwargs", "message"), [({"law": "spline"}, "law must be one of"),
                                                 ({"loss_kind": "test"}, "loss_kind")])
def test_bad_options_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        fit([constant_run()], **kwargs)


def test_fit_takes_curves_only():
    with pytest.raises(UserError, match="at least one curve"):
        fit([])
    with pytest.raises(UserError, match="Curve objects"):
        fit([{"step": ROWS}])


def test_auto_takes_the_multi_power_law_after_a_sharp_decay_near_the_end():
    curve, _ = generated("mpl", "wsd", noise=2e-4, seed=9)
    assert annealing(curve).sharp
    fitted = fit(curve)
    assert fitted.law == "mpl" and "default after a sharp decay" in fitted.choice
    assert fitted.heldout_rel_error is None and "no rows can be held out" in fitted.choice
    assert set(fitted.by_law) == {"mpl", "tissue"}


def test_auto_takes_tissues_law_after_a_smooth_decay_and_reports_the_held_out_tail():
    curve, _ = generated("tissue", "cosine", noise=2e-4, seed=10)
    assert annealing(curve).annealed and not annealing(curve).sharp
    fitted = fit(curve)
    assert fitted.law == "tissue" and "default after a smooth decay" in fitted.choice
    assert fitted.heldout_rel_error is not None and "held-out errors" in fitted.choice
    assert fitted.params["lambda"] == 0.999  # not identified by a smooth decay: held at the paper's value


def test_auto_chooses_by_leaving_one_run_out_when_given_two():
    first, _ = generated("mpl", "fit", noise=2e-4, seed=11)
    second, _ = generated("mpl", "wsd", noise=2e-4, seed=12)
    fitted = fit([first, second])
    assert "leaving out one run at a time (2 folds)" in fitted.choice
    other = next(f for name, f in fitted.by_law.items() if name != fitted.law)
    assert fitted.heldout_rel_error <= other.heldout_rel_error


def test_the_band_holds_every_laws_forecast_and_the_fit_error():
    curve, _ = generated("mpl", "wsd", noise=2e-4, seed=13)
    fitted = fit(curve)
    target = schedule("cosine")
    loss, low, high = forecast(fitted, target, ROWS, WARMUP)
    np.testing.assert_array_equal(loss, fitted.predict(target, ROWS, WARMUP))
    other = fitted.by_law["tissue"].predict(target, ROWS, WARMUP)
    assert np.all(low <= np.minimum(loss, other)) and np.all(high >= np.maximum(loss, other))
    assert np.all(high - low >= 2 * fitted.mean_rel_error * loss * (1 - 1e-12))
    # a dict centres on its first entry
    loss_tissue, _, _ = forecast({"tissue": fitted.by_law["tissue"], "mpl": fitted}, target, ROWS, WARMUP)
    np.testing.assert_array_equal(loss_tissue, other)
    with pytest.raises(UserError, match="forecast takes"):
        forecast({}, target, ROWS)


def test_a_forecast_needs_rates_up_to_its_last_step():
    curve, _ = generated("mpl", "wsd", noise=2e-4, seed=14)
    fitted = fit(curve, "mpl")
    with pytest.raises(UserError, match="cover steps 1-100"):
        fitted.predict(np.ones(100), [50, 200])


def test_a_curve_from_a_runlog_rebuilds_the_rates_of_every_step():
    step = np.arange(0, 1000, 100, dtype=float)  # counted from 0, as Lightning's global_step
    lr = np.where(step < 500, 0.1, 0.01)
    loss = np.linspace(2.0, 1.0, step.size)
    log = build_runlog({"step": step, "lr": lr, "loss": loss}, path="run.csv", fmt="csv", notes=[])
    curve, notes = curve_from_log(log)
    assert curve.step.tolist() == (step + 1).astype(int).tolist()
    expected, _ = step_rates(step + 1, lr)
    np.testing.assert_array_equal(curve.rates, expected)
    assert any("from 0" in n for n in notes)
    with pytest.raises(UserError, match="no val loss column"):
        curve_from_log(log, loss="val_loss")
    no_step = build_runlog({"epoch": step, "lr": lr, "loss": loss}, path="e.csv", fmt="csv", notes=[])
    with pytest.raises(UserError, match="no step column"):
        curve_from_log(no_step)


def test_a_law_that_misses_the_curves_shape_says_so():
    rates = schedule("fit")
    shape = 0.05 + 2.0 * np.exp(-ROWS / 800) + 5.0 * rates[ROWS - 1]  # exponential, not a power law
    noisy = shape * np.exp(np.random.default_rng(15).normal(0.0, 0.002, ROWS.size))
    fitted = fit(Curve(ROWS, noisy, rates, warmup_steps=WARMUP), "tissue")
    assert any("misses the shape of this curve" in note for note in fitted.notes)
    good, _ = generated("tissue", "fit", noise=2e-3, seed=16)
    assert not any("misses" in note for note in fit(good, "tissue").notes)


def test_a_forecast_never_goes_below_zero():
    curve, _ = generated("mpl", "wsd", noise=2e-4, seed=17)
    fitted = fit(curve, "mpl")
    fitted.theta = fitted.theta.copy()
    fitted.theta[3] *= 1e3  # a drop amplitude no run would fit: the formula goes far below zero
    loss = fitted.predict(schedule("fit"), ROWS, WARMUP)
    assert loss.min() == 0.0 and loss.max() > 0.0


def test_the_packages_example_runs_as_written():
    import doctest

    import lrscope.analysis.forecast as package

    result = doctest.testmod(package)
    assert result.attempted > 0 and result.failed == 0
