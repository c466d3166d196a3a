"""lrscope find end to end through the command line (tiny: digits, mlp), and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_find_cli_writes_json_and_png(cli, tmp_path):
    out = tmp_path / "find"
    proc = cli("find", "--data", "digits", "--model", "mlp", "--num-iter", "30", "--start-lr", "1e-4",
               "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "suggested lr" in proc.stdout and "range" in proc.stdout and "1cycle max_lr" in proc.stdout
    assert "within 1% of the best validation loss expected at" in proc.stdout
    assert "add --confirm" in proc.stdout  # the sweep alone is the weaker answer, and the output says so
    doc = json.loads((out / "finder.json").read_text())
    assert doc["schema"] == "lrscope.finder/1"
    low, high = doc["range"]
    assert 1e-4 <= low < high <= 10.0 and 1e-4 <= doc["suggestion"] <= 10.0
    band_low, band_high = doc["band"]
    assert band_low < doc["suggestion"] < band_high
    assert doc["config"]["model"] == "mlp"
    assert (out / "finder.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["find", "--model", "mlp", "--out", "X"], "needs --data"),
    (["find", "--data", "digits", "--model", "mlp", "--num-iter", "3", "--out", "X"], "num_iter"),
    (["find", "--data", "digits", "--model", "mlp", "--start-lr", "1", "--end-lr", "0.1", "--out", "X"],
     "start_lr must be below end_lr"),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "X").exists()


def test_confirm_trains_five_runs_or_more_around_the_suggestion_and_keeps_the_lowest_validation_loss(cli, tmp_path):
    out = tmp_path / "find"
    proc = cli("find", "--data", "synthetic:n=400", "--model", "mlp", "--num-iter", "30", "--start-lr", "1e-4",
               "--confirm", "--schedule", "onecycle(auto, total=4)", "--epochs", "4", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "add --confirm" not in proc.stdout
    doc = json.loads((out / "finder.json").read_text())
    confirm = doc["confirm"]
    assert confirm["base"] == pytest.approx(float(f"{doc['range'][1]:.3g}"))  # 1cycle's peak is max_lr
    candidates = confirm["candidates"]
    ratios = [round(c["rate"] / confirm["base"], 4) for c in candidates]
    start = ratios.index(0.0316)  # the five offsets, then at most two half-decades past the end the best is at
    assert ratios[start:start + 5] == [0.0316, 0.1, 0.3162, 1.0, 3.1623] and len(ratios) <= 7
    assert ratios == sorted(ratios) and all(b / a == pytest.approx(10 ** 0.5, rel=1e-3)
                                            for a, b in zip(ratios, ratios[1:], strict=False))
    finite = [c for c in candidates if c["val_loss"] is not None]
    assert confirm["chosen"] == min(finite, key=lambda c: c["val_loss"])["rate"]
    at = [c["rate"] for c in candidates].index(confirm["chosen"])
    assert 0 < at < len(candidates) - 1 or len(candidates) == 7  # bracketed, or the extension budget spent
    for c in candidates:  # each candidate is a whole run of the recipe, at its rate
        run = Path(c["run_dir"])
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        epochs = [m for m in metrics if m.get("kind") == "epoch"]
        assert len(epochs) == 4 and epochs[-1]["val_loss"] == pytest.approx(c["val_loss"])
        config = json.loads((run / "config.json").read_text())
        assert config["lr_scale"] == pytest.approx(c["rate"] / confirm["base"], rel=1e-9)
    assert "confirmed by training: lr" in proc.stdout


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "2"], "--epochs set the recipe that --confirm trains"),
    (["--schedule", "constant(auto)"], "--schedule set the recipe that --confirm trains"),
    (["--confirm", "--schedule", "onecycle(0.1, total=2)"], "write auto where the finder's rate goes"),
    (["--confirm", "--schedule", "onecycle(auto, totl=2)"], "no parameter 'totl'"),
    (["--step-unit", "step"], "--step-unit set the recipe that --confirm trains"),
    (["--confirm", "--step-unit", "minute"], "--step-unit"),
])
def test_confirm_recipe_mistakes_are_refused_before_the_sweep(cli, tmp_path, extra, message):
    proc = cli("find", "--data", "digits", "--model", "mlp", "--out", "X", *extra, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "X").exists()


def test_confirm_never_trains_into_a_confirm_folder_already_there(cli, tmp_path):
    kept = tmp_path / "X" / "confirm" / "x1"
    kept.mkdir(parents=True)
    (kept / "notes.txt").write_text("mine")
    proc = cli("find", "--data", "digits", "--model", "mlp", "--confirm", "--out", "X", cwd=tmp_path)
    assert proc.returncode == 2 and "already there" in proc.stderr
    assert (kept / "notes.txt").read_text() == "mine" and not (tmp_path / "X" / "finder.json").exists()


def test_confirm_trains_its_recipe_in_the_step_unit_given(monkeypatch, tmp_path):
    import lrscope.jobs.find as find
    from lrscope.errors import UserError

    trained = []

    def diverge(config, run_dir, **kwargs):  # record the recipe each candidate trains, then stop it cheaply
        trained.append(config)
        raise find.TrainingDiverged("stopped by the test")

    monkeypatch.setattr(find, "train", diverge)
    with pytest.raises(UserError, match="every candidate rate diverged"):
        find.find_job(dict(data="digits", model="mlp"), tmp_path / "f", num_iter=30, start_lr=1e-4, confirm=True,
                      schedule="onecycle(auto, total=40)", epochs=2, step_unit="step")
    assert len(trained) == 5
    assert all(c.step_unit == "step" and c.epochs == 2 and c.schedule.startswith("onecycle(") for c in trained)
