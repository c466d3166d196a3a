"""lrscope predict / whatif on a tiny run: JSON schemas, bad input (exit 2), the run directory left alone."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from lrscope.analysis.noise_floor import noise_findings
from lrscope.errors import UserError
from lrscope.jobs.predict import predict_job


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from lrscope.probes.hooks import hooks_for
    from lrscope.train.config import TrainConfig
    from lrscope.train.loop import train

    base = tmp_path_factory.mktemp("runs")
    common = dict(
        data="synthetic:n=240,dim=8,classes=3",
        model="mlp",
        epochs=3,
        batch_size=16,
        seed=0,
        threads=1,
        schedule="multistep(0.1, milestones=[2])",
    )
    noisy_config = TrainConfig(**common, noise_every=2)
    noisy = train(noisy_config, base / "noisy", hooks=hooks_for(noisy_config))
    quiet = train(TrainConfig(**{**common, "epochs": 1}), base / "quiet")
    return noisy, quiet


def _digest(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_predict_json(runs, cli):
    noisy, _ = runs
    result = cli("predict", str(noisy), "--at", "2", "--to", "0.01", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "lrscope.predict/1"
    assert doc["epoch"] == 2 and doc["lr_from"] == pytest.approx(0.1) and doc["lr_to"] == 0.01
    expected = 0.09 * doc["noise_trace"] / (4 * 16 * (1 - 0.9))
    assert doc["predicted_drop"] == pytest.approx(expected)
    assert doc["predicted_loss_after"] == pytest.approx(doc["loss_now"] - doc["predicted_drop"])
    low, high = doc["band"]
    assert low <= doc["predicted_drop"] <= high
    # default epoch: the last checkpoint (epoch 3, rate 0.01)
    assert predict_job(noisy, 0.001).epoch == 3


def test_whatif_json_and_run_dir_untouched(runs, cli):
    noisy, _ = runs
    before = _digest(noisy)
    result = cli("whatif", str(noisy), "--at", "1", "--to", "0.01", "--steps", "6", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "lrscope.whatif/1"
    for key in ("loss_before", "loss_after", "observed_drop", "predicted_drop"):
        assert isinstance(doc[key], float)
    assert doc["observed_drop"] == pytest.approx(doc["loss_before"] - doc["loss_after"])
    assert len(doc["new_rate_losses"]) == 6 and doc["window"] == 3
    # the first step's loss is taken before any update: same on both sides
    assert doc["new_rate_losses"][0] == doc["old_rate_losses"][0]
    after = _digest(noisy)
    added = set(after) - set(before)
    assert {k: after[k] for k in before} == before
    assert added and all(k.startswith("probes/") for k in added)


def test_bad_input_exits_2(runs, cli, tmp_path):
    noisy, quiet = runs
    r = cli("predict", str(quiet), "--to", "0.01")
    assert r.returncode == 2 and "--noise-every" in r.stderr and "Traceback" not in r.stderr
    r = cli("predict", str(noisy), "--at", "1", "--to", "0.5")
    assert r.returncode == 2 and "decays, not" in r.stderr
    r = cli("whatif", str(noisy), "--at", "1", "--to", "0.2", "--steps", "4")
    assert r.returncode == 2 and "decays, not" in r.stderr
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "metrics.jsonl"):
        shutil.copy(noisy / name, bare / name)
    r = cli("whatif", str(bare), "--to", "0.001", "--steps", "4")
    assert r.returncode == 2 and "no checkpoints" in r.stderr and "--keep" in r.stderr
    r = cli("predict", str(noisy), "--at", "9", "--to", "0.001")
    assert r.returncode == 2 and "epoch 9" in r.stderr
    r = cli("predict", str(tmp_path / "nowhere"), "--to", "0.001")
    assert r.returncode == 2


def test_noise_findings_from_columns(runs):
    import numpy as np

    from lrscope.logs.rundir import read_metrics

    noisy, quiet = runs
    rows = read_metrics(noisy, "epoch")
    cols = {
        k: np.array([r.get(k, np.nan) for r in rows], dtype=float)
        for k in ("epoch", "lr", "train_loss", "noise_trace")
    }
    found = noise_findings(cols, batch_size=16, momentum=0.9)
    decay = [f for f in found if f["kind"] == "noise_floor_decay"]
    assert len(decay) == 1 and decay[0]["row"] == 2 and "noise floor shrinking" in decay[0]["text"]
    assert decay[0]["predicted_drop"] == pytest.approx(0.09 * cols["noise_trace"][1] / (4 * 16 * 0.1))
    assert found[-1]["kind"] == "noise_floor_gain" and found[-1]["gain"] > 0
    assert noise_findings({"lr": cols["lr"], "train_loss": cols["train_loss"]}) == []
    with pytest.raises(UserError):
        predict_job(quiet, 0.01)


def test_measurements_pool_over_the_plateau_and_stop_where_it_ends():
    """Back over epochs at the same rate: the first 3 epochs until 8 measurements, then only while the training
    loss stays within 10 % of this epoch's (up to 32); never across a rate change."""
    from lrscope.analysis.noise_floor import noise_measurements

    losses = {1: 2.0, 2: 1.2, 3: 1.04, 4: 1.03, 5: 1.02, 6: 1.01, 7: 1.0, 8: 1.0}
    epochs = [{"epoch": e, "lr": 0.1, "train_loss": v} for e, v in losses.items()]
    steps = [{"epoch": e - 0.5 + k / 10, "noise_trace": float(e)} for e in losses for k in range(3)]
    values, used = noise_measurements(steps, epochs, 8, lr=0.1)
    assert used == [3, 4, 5, 6, 7, 8] and len(values) == 18  # epoch 2 (loss 1.2) is off the plateau
    epochs[4]["lr"] = 0.5  # epoch 5 ran at another rate
    values, used = noise_measurements(steps, epochs, 8, lr=0.1)
    assert used == [6, 7, 8] and len(values) == 9
    few = [{"epoch": e, "lr": 0.1, "train_loss": 3.0 - e / 4} for e in range(1, 9)]  # still falling
    assert noise_measurements(steps, few, 8, lr=0.1)[1] == [6, 7, 8]
