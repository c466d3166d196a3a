"""explain's forecast sentence: on a step-schedule log the law fits well, what a stage half again as long gives;
silence where the fit is poor, the rate never falls, or the log has no step axis."""

from __future__ import annotations

import numpy as np
from tests.jobs.test_forecast_cli import write_log

from lrscope.analysis.explain import explain
from lrscope.logs.read import read_log


def step_log(path, **options):
    return write_log(path, noise=0.004, response=1000, **options)


def forecasts(path):
    return [f.text for f in explain(read_log(path)).findings if f.kind == "forecast"]


def test_a_well_fitted_step_run_gets_a_sentence_per_stage_before_a_cut(tmp_path):
    (text,) = forecasts(step_log(tmp_path / "run.csv"))
    assert text.startswith("Forecast (the multi-power law")
    assert "had stage 1 (steps 1-4099, LR 0.1) run 2000 more steps" in text and "the end of stage 2" in text


def test_the_stage_is_lengthened_in_the_logs_own_x_unit(tmp_path):
    (text,) = forecasts(step_log(tmp_path / "run.csv", columns=("epoch", "step", "lr", "loss")))
    assert "run 20 more epochs" in text and "(epochs 1-40" in text


def test_silence_without_a_cut_a_step_axis_or_a_good_fit(tmp_path):
    assert forecasts(step_log(tmp_path / "flat.csv", cut=0)) == []
    assert forecasts(step_log(tmp_path / "epochs.csv", columns=("epoch", "lr", "loss"))) == []
    noisy = write_log(tmp_path / "noisy.csv")
    rows = noisy.read_text().splitlines()
    rng = np.random.default_rng(0)
    jumbled = [rows[0]] + [",".join([*r.split(",")[:2], f"{float(r.split(',')[2]) * rng.uniform(0.7, 1.3):.6g}"])
                           for r in rows[1:]]
    noisy.write_text("\n".join(jumbled) + "\n")
    assert forecasts(noisy) == []
