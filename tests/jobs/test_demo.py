"""The demo (run once for the module): the staircase criteria of issue 2 (check A3), the noise-floor
prediction of its first decay (check E1), its files, its directory rules."""

from __future__ import annotations

import json

import pytest

from lrscope.errors import UserError
from lrscope.jobs.demo import MARKER, decay_table, prepare_out
from lrscope.logs.rundir import read_metrics


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from lrscope.jobs.demo import demo_job

    out = tmp_path_factory.mktemp("demo") / "d"
    demo_job(out)
    return out


def staircase(rows):
    """A3's arithmetic: (variation over 5 epochs before the first decay, fall within 2 epochs after)."""
    k = next(i for i in range(1, len(rows)) if rows[i]["lr"] < rows[i - 1]["lr"] * 0.999)
    tl = [r["train_loss"] for r in rows]
    pre = tl[k - 5 : k]
    variation = (max(pre) - min(pre)) / (sum(pre) / 5)
    before = sum(tl[k - 3 : k]) / 3
    return k, variation, 1 - min(tl[k : k + 2]) / before


def test_step_run_shows_the_staircase_with_margin(demo_dir):
    rows = sorted(read_metrics(demo_dir / "step", "epoch"), key=lambda r: r["epoch"])
    k, variation, drop = staircase(rows)
    assert k >= 5
    assert variation < 0.15 * 0.8, f"not flat enough before the first decay: {variation:.0%}"
    assert drop >= 0.25 * 1.2, f"the first decay's fall is too small: {drop:.0%}"


def test_noise_floor_predicts_the_first_decay(demo_dir):
    """E1's criterion: the prediction is within a factor 1.5 of the what-if drop and of the run's own drop."""
    from lrscope.jobs.predict import predict_job
    from lrscope.probes.whatif import whatif

    rows = sorted(read_metrics(demo_dir / "step", "epoch"), key=lambda r: r["epoch"])
    k, _, _ = staircase(rows)
    at, lr_to = rows[k - 1]["epoch"], rows[k]["lr"]
    predicted = predict_job(demo_dir / "step", lr_to, at).predicted_drop
    observed = whatif(demo_dir / "step", lr_to, at, steps=50).observed_drop
    own = rows[k - 1]["train_loss"] - rows[k]["train_loss"]
    assert observed > 0 and own > 0
    for name, value in (("what-if", observed), ("run's own", own)):
        assert 1 / 1.5 <= predicted / value <= 1.5, f"predicted {predicted:.4f}, {name} {value:.4f}"


def test_explanation_states_the_noise_floor_at_the_decay(demo_dir):
    doc = json.loads((demo_dir / "step" / "explain.json").read_text())
    decays = [f for f in doc["findings"] if f["kind"] == "noise_floor_decay"]
    assert decays and "noise floor shrinking" in decays[0]["text"]
    assert any(f["kind"] == "noise_floor_gain" for f in doc["findings"])


def test_both_runs_have_config_metrics_and_the_same_budget(demo_dir):
    configs = {}
    for run in ("step", "onecycle"):
        assert (demo_dir / run / "metrics.jsonl").is_file()
        configs[run] = json.loads((demo_dir / run / "config.json").read_text())
    assert configs["step"]["epochs"] == configs["onecycle"]["epochs"]
    assert configs["step"]["batch_size"] == configs["onecycle"]["batch_size"]
    assert configs["onecycle"]["schedule"].startswith("onecycle(")
    steps = read_metrics(demo_dir / "onecycle", "step")
    assert len(steps) == configs["onecycle"]["data_info"]["steps_per_epoch"] * configs["onecycle"]["epochs"]
    assert (demo_dir / MARKER).is_file()


def test_step_run_records_gradient_noise(demo_dir):
    config = json.loads((demo_dir / "step" / "config.json").read_text())
    assert config["noise_every"] > 0
    measured = [r for r in read_metrics(demo_dir / "step", "step") if "noise_trace" in r]
    assert measured and all(r["step"] % config["noise_every"] == 0 for r in measured)


def test_rerun_replaces_only_demo_output(demo_dir, tmp_path):
    (demo_dir / "stale.txt").write_text("old")
    prepare_out(demo_dir)  # recognised: emptied, marker kept
    assert sorted(p.name for p in demo_dir.iterdir()) == [MARKER]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "data.csv").write_text("keep me")
    with pytest.raises(UserError, match="not lrscope demo output"):
        prepare_out(foreign)
    assert (foreign / "data.csv").read_text() == "keep me"


def test_decay_table_marks_the_first_epoch_at_each_new_rate():
    rows = [{"epoch": i + 1, "lr": lr} for i, lr in enumerate([1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01])]
    table = decay_table(rows, around=2)
    assert [r["epoch"] for r in table] == [3, 4, 5, 6, 7, 8, 9]
    assert [r["epoch"] for r in table if r["decay"]] == [5, 8]
