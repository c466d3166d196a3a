"""lrscope find end to end through the command line (tiny: digits, mlp), and its bad input."""

from __future__ import annotations

import json

import pytest


def test_find_cli_writes_json_and_png(cli, tmp_path):
    out = tmp_path / "find"
    proc = cli("find", "--data", "digits", "--model", "mlp", "--num-iter", "30", "--start-lr", "1e-4",
               "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "suggested lr" in proc.stdout and "range" in proc.stdout and "1cycle max_lr" in proc.stdout
    assert "within 1% of the best validation loss expected at" in proc.stdout
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
