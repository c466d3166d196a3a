"""``lrscope sweep``: one 4-trial sweep on a local Ray instance (a diverging trial among them), the comparison
it writes, and bad input (a Ray address that does not answer)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from lrscope.jobs.sweep import write_sweep
from lrscope.train.sweep import SWEEP_SCHEMA, Trial

pytest.importorskip("ray")


def test_a_run_directory_the_driver_cannot_see_is_reported(tmp_path):
    trial = Trial(name="t", schedule="constant(0.1)", seed=0, lr_scale=1.0, batch_size=64,
                  run_dir=str(tmp_path / "elsewhere"), config={})
    doc = json.loads(write_sweep(tmp_path, [trial], {"t": {"status": "ok", "error": None}}).read_text())
    assert doc["trials"][0]["status"] == "error" and "shares" in doc["trials"][0]["error"]
    assert not (tmp_path / "compare.md").exists()


def test_four_trials_on_a_local_ray_instance_one_of_them_diverging(cli, tmp_path):
    out = tmp_path / "s"
    result = cli("sweep", "--schedule", "multistep(0.1, milestones=[1])", "--schedule", "constant(1e4)",
                 "--seed", "0", "--seed", "1", "--data", "synthetic:n=300,dim=8,classes=3", "--model", "mlp",
                 "--epochs", "2", "--batch-size", "32", "--out", out, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)  # Ray's own output stays off stdout
    assert doc == json.loads((out / "sweep.json").read_text())
    assert doc["schema"] == SWEEP_SCHEMA and len(doc["trials"]) == 4
    by = {(t["schedule"], t["seed"]): t for t in doc["trials"]}
    for seed in (0, 1):
        good, bad = by[("multistep(0.1, milestones=[1])", seed)], by[("constant(1e4)", seed)]
        assert good["status"] == "ok" and good["error"] is None
        assert good["final"]["epoch"] == 2 and 0.0 <= good["best"]["val_acc"] <= 1.0
        assert Path(good["run_dir"]).is_absolute() and (Path(good["run_dir"]) / "metrics.jsonl").is_file()
        assert bad["status"] == "error" and "diverged" in bad["error"] and bad["final"] is None
    assert by[("multistep(0.1, milestones=[1])", 0)]["final"] != by[("multistep(0.1, milestones=[1])", 1)]["final"]
    compare = json.loads((out / "compare.json").read_text())
    assert len(compare["runs"]) == 2 and (out / "compare.png").stat().st_size > 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare.md", "compare.png", "runs",
                                                      "sweep.json"]


def test_an_address_that_does_not_answer_is_one_line_and_writes_nothing(cli, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = cli("sweep", "--schedule", "constant(0.1)", "--data", "digits", "--model", "mlp", "--epochs", "1",
                 "--out", tmp_path / "s", "--address", f"127.0.0.1:{port}")
    assert result.returncode == 2 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("lrscope:")]
    assert len(errors) == 1 and f"cannot reach the Ray cluster at 127.0.0.1:{port}" in errors[0]
    assert "Traceback" not in result.stderr and not (tmp_path / "s").exists()
