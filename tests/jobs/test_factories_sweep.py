"""lrscope sweep with your own model and data: the factories are checked before Ray starts, and every trial's
worker (in a directory of its own) finds the module in the directory the sweep was started from."""

from __future__ import annotations

import json

import pytest

from lrscope.errors import UserError

from .test_factories_cli import MODULE

pytest.importorskip("ray")


def test_a_failing_factory_is_one_line_before_ray_starts(tmp_path, monkeypatch):
    from lrscope.jobs import sweep

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweepmods_bad.py").write_text("def make():\n    raise RuntimeError('no such width')\n")
    monkeypatch.setattr(sweep, "ray_session", lambda *a, **k: pytest.fail("Ray was started"))
    with pytest.raises(UserError, match="raised RuntimeError: no such width"):
        sweep.sweep_job(["constant(0.1)"], data="digits", model="sweepmods_bad:make", epochs=1,
                        out_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_trial_trains_the_users_model_on_the_users_data(cli, tmp_path):
    (tmp_path / "sweepmods.py").write_text(MODULE)
    result = cli("sweep", "--schedule", "constant(0.1)", "--data", "sweepmods:load", "--model", "sweepmods:make",
                 "--epochs", "1", "--batch-size", "16", "--out", "s", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (trial,) = json.loads(result.stdout)["trials"]
    assert trial["status"] == "ok", trial["error"]
    config = json.loads((tmp_path / "s" / "runs" / trial["name"] / "config.json").read_text())
    assert config["model"] == "sweepmods:make" and config["data_info"]["n_train"] == 80
