"""``lrscope forecast``: the document, spec and log targets, --longer, --best, the plot, and bad input (one line,
exit 2).  The laws themselves are tested in tests/analysis/test_forecast_*.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.conftest import ROOT, run_cli

CURVES = ROOT.parent / "shared" / "data" / "schedule-curves"


def write_log(path, cut=4000, total=6000, every=100, rate=0.1, low=0.01, columns=("step", "lr", "loss"), noise=0.0,
              response=300):
    """A step-decay run whose loss follows a power law in the rate's area and drops after the cut (times
    1 + ``noise`` * a standard normal, seeded)."""
    step = np.arange(every, total + 1, every)
    lr = np.where(step <= cut, rate, low) if cut else np.full(step.size, rate)
    area = np.cumsum(np.where(np.arange(1, total + 1) <= (cut or total + 1), rate, low))[step - 1]
    loss = 2 + 3 * area ** -0.5 - (0.4 * (1 - np.exp(-np.clip(step - cut, 0, None) / response)) if cut else 0)
    loss = loss * (1 + noise * np.random.default_rng(0).standard_normal(step.size))
    table = {"step": step, "epoch": step / 100, "lr": lr, "loss": loss}
    lines = [",".join(columns)] + [",".join(f"{table[c][i]:.10g}" for c in columns) for i in range(step.size)]
    path.write_text("\n".join(lines) + "\n")
    return path


def forecast(*args, cwd=None):
    return run_cli("forecast", *map(str, args), cwd=cwd)


@pytest.mark.skipif(not CURVES.is_dir(), reason="../shared/data/schedule-curves not beside the project")
def test_the_acceptance_forecast_holds_its_measured_error():
    wsd, cosine = CURVES / "mpl-100" / "wsd_20000_24000.csv", CURVES / "mpl-100" / "cosine_72000.csv"
    done = forecast(wsd, "--to", cosine, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "lrscope.forecast/1" and doc["law"] == "mpl"
    assert {"rows", "mean_rel_error", "heldout_rel_error"} <= set(doc["fit"])
    (target,) = doc["targets"]
    logged = np.genfromtxt(cosine, delimiter=",", names=True)
    assert target["step"] == logged["step"].tolist()  # predicted at the target log's own steps
    assert {"name", "step", "loss", "low", "high", "final_loss"} <= set(target)
    assert target["mean_rel_error"] < 0.0016 and target["max_rel_error"] < 0.004  # measured 0.127 % / 0.298 %
    assert all(lo <= v <= hi for lo, v, hi in zip(target["low"], target["loss"], target["high"], strict=True))
    assert "extrapolation" in done.stderr  # 72,000 steps from a 24,000-step fit


def test_a_spec_target_is_predicted_every_k_steps_to_its_total(tmp_path):
    log = write_log(tmp_path / "run.csv")
    done = forecast(log, "--to", "cosine(0.1, total=6000)", "--every", "500", "--json")
    assert done.returncode == 0, done.stderr
    (target,) = json.loads(done.stdout)["targets"]
    assert target["step"][-1] == 6000 and all(s % 500 == 0 for s in target["step"])
    assert target["spec"] == "cosine(0.1, total=6000)" and len(target["lr"]) == len(target["step"])
    text = forecast(log, "--to", "cosine(0.1, total=6000)", "--to", "constant(0.1)")
    assert text.returncode == 0 and "final train loss" in text.stdout and "constant(0.1)" in text.stdout
    # annealing helps: the constant rate ends higher than the cosine
    finals = [float(line.split("final train loss ")[1].split()[0]) for line in text.stdout.splitlines()
              if "final train loss" in line]
    assert finals[0] < finals[1]


def test_longer_stage_one_gives_a_lower_loss_after_the_next_decay(tmp_path):
    log = write_log(tmp_path / "run.csv")
    done = forecast(log, "--longer", "1:1000", "--json")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["longer"]
    assert entry["stage"] == 1 and entry["more_steps"] == 1000 and entry["at_step"] == 7000
    assert entry["loss"] < entry["without"]["fitted"]  # more steps at the high rate: a lower loss after the cut
    assert entry["low"] <= entry["loss"] <= entry["high"]
    text = forecast(log, "--longer", "1:1000")
    assert "Had stage 1" in text.stdout and "the end of stage 2" in text.stdout


def test_longer_counts_the_logs_own_x_unit(tmp_path):
    log = write_log(tmp_path / "run.csv", columns=("epoch", "step", "lr", "loss"))  # 100 steps per epoch
    done = forecast(log, "--longer", "1:5", "--json")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["longer"]
    assert entry["unit"] == "epoch" and entry["more_steps"] == 500


def test_best_ranks_a_family_by_predicted_final_loss(tmp_path):
    log = write_log(tmp_path / "run.csv")
    done = forecast(log, "--best", "wsd(0.1, total=6000, decay_frac={0.05, 0.2, 0.5})", "--json")
    assert done.returncode == 0, done.stderr
    best = json.loads(done.stdout)["best"]
    finals = [c["final_loss"] for c in best["candidates"]]
    assert len(finals) == 3 and finals == sorted(finals) and best["best"] == best["candidates"][0]["spec"]


def test_the_plot_is_written(tmp_path):
    log = write_log(tmp_path / "run.csv")
    done = forecast(log, "--to", "cosine(0.1, total=6000)", "--plot", tmp_path / "f.png")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("make, args, words", [
    (lambda p: write_log(p, columns=("epoch", "lr", "loss")), ["--to", "constant(0.1)"], "no step column"),
    (lambda p: write_log(p, cut=0), ["--to", "cosine(0.1, total=6000)"], "no annealing in this run"),
    (write_log, ["--to", "cosine(0.1, totl=6000)"], "schedule spec"),
    (write_log, ["--to", "cosine(0.1, total=100000)"], "not trusted beyond 10x"),
    (write_log, ["--longer", "one:5"], "--longer takes STAGE:N"),
    (write_log, ["--longer", "3:5"], "has 2 stages"),
    (write_log, ["--best", "wsd(0.1, total=6000)"], "alternatives in braces"),
    (write_log, [], "nothing to forecast"),
    (write_log, ["--to", "missing/log.csv"], "no such file"),
    (write_log, ["--to", "constant(0.1)", "--law", "magic"], "--law must be one of"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, make, args, words):
    log = make(tmp_path / "run.csv")
    before = log.read_bytes()
    done = forecast(log, *args)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("note:")]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in done.stderr
    assert log.read_bytes() == before


def test_the_plot_may_not_replace_the_log(tmp_path):
    log = write_log(tmp_path / "run.csv")
    done = forecast(log, "--to", "constant(0.1)", "--plot", log)
    assert done.returncode == 2 and log.read_text().startswith("step,lr,loss")


def test_two_logs_are_fitted_jointly_and_a_constant_run_joins_a_decayed_one(tmp_path):
    decayed, flat = write_log(tmp_path / "a.csv"), write_log(tmp_path / "b.csv", cut=0)
    done = forecast(decayed, flat, "--to", "cosine(0.1, total=6000)", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [r["name"] for r in doc["fit"]["runs"]] == ["a.csv", "b.csv"] or len(doc["fit"]["runs"]) == 2
    assert "leave" in doc["fit"]["choice"] or "held-out" in doc["fit"]["choice"]  # two runs: chosen by held-out error
    alone = forecast(flat, "--to", "cosine(0.1, total=6000)", "--law", "area", "--json")
    assert alone.returncode == 0 and json.loads(alone.stdout)["law"] == "area"  # the area law needs no decay
