"""The one-run and 3-run errors measured on the public schedule curves (bench/bench_forecast_curves.py) hold.

Bounds sit a little above the measured figures (bench/RESULTS.md), so a change that makes a forecast worse
fails here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from lrscope.analysis.forecast import REFUSAL, Curve, fit, step_rates
from lrscope.errors import UserError

DATA = Path(os.environ.get("LRSCOPE_SCHEDULE_CURVES",
                           Path(__file__).resolve().parents[2].parent / "shared" / "data" / "schedule-curves"))
RUNS = ("constant_24000", "constant_72000", "cosine_24000", "cosine_72000", "wsd_20000_24000",
        "wsdld_20000_24000", "wsdcon_3", "wsdcon_9", "wsdcon_18")
H24 = ("constant_24000", "cosine_24000", "wsd_20000_24000", "wsdld_20000_24000")


@pytest.fixture(scope="module")
def curves():
    if not DATA.is_dir():
        pytest.skip(f"schedule curves not found at {DATA} (set LRSCOPE_SCHEDULE_CURVES)")
    out = {}
    for model in ("mpl-25", "mpl-100"):
        for run in RUNS:
            table = np.genfromtxt(DATA / model / f"{run}.csv", delimiter=",", names=True)
            rates, _ = step_rates(table["step"], table["lr"], warmup_steps=2160)
            out[model, run] = Curve(table["step"], table["loss"], rates, name=run, warmup_steps=2160)
    return out


def scores(fitted, curves, model, fitted_names):
    """Mean and worst relative error over the other runs' rows after the warm-up; Spearman of final losses
    among the 24,000-step runs."""
    errors, finals = [], {}
    for run in RUNS:
        c = curves[model, run]
        keep = c.after_warmup
        pred = fitted.predict(c.rates, c.step[keep], c.warmup)
        finals[run] = pred[-1]
        if run not in fitted_names:
            errors.append(np.abs(pred - c.loss[keep]) / c.loss[keep])
    errors = np.concatenate(errors)
    rho = spearmanr([finals[r] for r in H24], [curves[model, r].loss[-1] for r in H24]).statistic
    return errors.mean(), errors.max(), rho


# measured (mean %, worst %): mpl-25 0.108 / 1.025, mpl-100 0.131 / 0.736
@pytest.mark.parametrize(("model", "mean", "worst"), [("mpl-25", 0.0012, 0.011), ("mpl-100", 0.0015, 0.0085)])
def test_one_wsd_run_forecasts_the_other_schedules(curves, model, mean, worst):
    fitted = fit([curves[model, "wsd_20000_24000"]])
    assert fitted.law == "mpl"
    got_mean, got_worst, rho = scores(fitted, curves, model, ("wsd_20000_24000",))
    assert got_mean <= mean and got_worst <= worst
    # measured 1.0 and 0.8: the 25M wsd and wsdld runs end 0.001 apart (0.03 %), about one row's noise
    assert rho >= (0.9 if model == "mpl-100" else 0.79)


# measured: mpl-25 0.290 / 1.037, mpl-100 0.249 / 1.306 (Tissue's law, the default after a smooth decay)
@pytest.mark.parametrize(("model", "mean", "worst"), [("mpl-25", 0.0032, 0.0115), ("mpl-100", 0.0028, 0.0145)])
def test_one_cosine_run_forecasts_the_other_schedules(curves, model, mean, worst):
    fitted = fit([curves[model, "cosine_24000"]])
    assert fitted.law == "tissue"
    got_mean, got_worst, rho = scores(fitted, curves, model, ("cosine_24000",))
    assert got_mean <= mean and got_worst <= worst and rho >= 0.9


def test_the_papers_three_runs_forecast_the_other_six(curves):
    # Leaving one run out, the two laws nearly tie (held-out 0.069 % against 0.073 %), so which one wins
    # flips with the platform's floating point: measured Tissue's law 0.179 % mean / 0.947 % worst, the
    # multi-power law 0.227 % / 0.803 %.  Either must forecast the other six this well.
    names = ("cosine_24000", "constant_24000", "wsdcon_9")
    fitted = fit([curves["mpl-100", n] for n in names])
    assert "leaving out one run at a time" in fitted.choice and fitted.law in ("tissue", "mpl")
    got_mean, got_worst, _ = scores(fitted, curves, "mpl-100", names)
    assert got_mean <= 0.0025 and got_worst <= 0.0105


def test_the_acceptance_forecast_wsd_to_a_three_times_longer_cosine(curves):
    # measured: 0.123 % mean, 0.289 % worst relative error over cosine_72000's rows
    fitted = fit([curves["mpl-100", "wsd_20000_24000"]])
    target = curves["mpl-100", "cosine_72000"]
    keep = target.after_warmup
    error = np.abs(fitted.predict(target.rates, target.step[keep], target.warmup) - target.loss[keep])
    error /= target.loss[keep]
    assert error.mean() <= 0.0014 and error.max() <= 0.0033


@pytest.mark.parametrize("law", ["auto", "mpl", "tissue"])
def test_a_constant_run_alone_is_refused(curves, law):
    with pytest.raises(UserError) as err:
        fit([curves["mpl-100", "constant_24000"]], law)
    assert str(err.value) == REFUSAL
