"""lrscope compare end to end through the command line (tiny: digits, mlp, 2 epochs), and its bad input."""

from __future__ import annotations

import json

import pytest

from lrscope.analysis.comparison import summarise_runs
from lrscope.jobs.compare import write_comparison


def test_compare_end_to_end(cli, tmp_path):
    out = tmp_path / "cmp"
    proc = cli("compare", "constant(0.05)", "onecycle(auto, total=4)", "--data", "digits", "--model", "mlp",
               "--epochs", "2", "--out", out, "--target-acc", "0.5")
    assert proc.returncode == 0, proc.stderr
    for name in ("compare.json", "compare.md", "compare.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((out / "compare.json").read_text())
    assert doc["schema"] == "lrscope.compare/1"
    assert [r["name"] for r in doc["runs"]] == ["constant-0.05", "onecycle-auto-total-4"]
    for row in doc["runs"]:
        assert row["epochs"] == 2
        assert 0.0 < row["final_val_acc"] <= row["best_val_acc"] <= 1.0
        assert row["best_val_loss"] <= row["final_val_loss"]
        assert row["epochs_to_target"] in (1, 2)  # digits + mlp passes 50 % within two epochs
        assert (out / row["name"] / "config.json").exists()
    auto_row = doc["runs"][1]
    assert "auto" not in auto_row["schedule"] and auto_row["schedule"].startswith("onecycle(")
    assert "auto: range test suggests" in proc.stderr
    assert "| `constant(0.05)` | 2 |" in proc.stdout
    assert (out / "compare.md").read_text() in proc.stdout

    # the reusable core gives the same rows from the run directories alone
    rows = summarise_runs([out / "constant-0.05"], target_acc=0.5)
    assert rows[0]["final_val_acc"] == doc["runs"][0]["final_val_acc"]
    paths = write_comparison(tmp_path / "again", rows, target_acc=0.5)
    assert paths["md"].read_text().count("\n") == 3


@pytest.mark.parametrize("args, message", [
    (["compare", "constant(0.1)", "--data", "digits", "--model", "mlp", "--epochs", "1", "--out", "X",
      "--target-acc", "5"], "target-acc"),
    (["compare", "nonsense(0.1)", "--data", "digits", "--model", "mlp", "--epochs", "1", "--out", "X"],
     "nonsense"),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "X").exists()
