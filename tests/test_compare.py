"""lrscope compare and lrscope find end to end through the command line (tiny: digits, mlp, 2 epochs)."""

from __future__ import annotations

import json

import pytest

from lrscope.errors import UserError
from lrscope.train.compare import fill_auto, has_auto, run_name, summarise_runs, write_comparison


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


def test_find_cli_writes_json_and_png(cli, tmp_path):
    out = tmp_path / "find"
    proc = cli("find", "--data", "digits", "--model", "mlp", "--num-iter", "30", "--start-lr", "1e-4",
               "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "suggested lr" in proc.stdout and "range" in proc.stdout
    doc = json.loads((out / "finder.json").read_text())
    assert doc["schema"] == "lrscope.finder/1"
    low, high = doc["range"]
    assert 1e-4 <= low < high <= 10.0 and 1e-4 <= doc["suggestion"] <= 10.0
    assert doc["config"]["model"] == "mlp"
    assert (out / "finder.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["find", "--model", "mlp", "--out", "X"], "needs --data"),
    (["find", "--data", "digits", "--model", "mlp", "--num-iter", "3", "--out", "X"], "num_iter"),
    (["find", "--data", "digits", "--model", "mlp", "--start-lr", "1", "--end-lr", "0.1", "--out", "X"],
     "start_lr must be below end_lr"),
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


def test_fill_auto_picks_the_number_by_parameter():
    assert fill_auto("onecycle(auto, total=60)", 0.1, 0.01, 0.3) == "onecycle(0.3, total=60)"
    assert fill_auto("triangular(auto, auto, 8)", 0.1, 0.01, 0.3) == "triangular(0.01, 0.3, 8)"
    assert fill_auto("triangular(base_lr=auto, max_lr=auto, step_size=8)", 0.1, 0.01, 0.3) == \
        "triangular(base_lr=0.01, max_lr=0.3, step_size=8)"
    assert fill_auto("warmup(5, cosine(auto, total=50))", 0.123456, 0.01, 0.3) == \
        "warmup(5, cosine(0.123, total=50))"
    assert has_auto("onecycle(auto, total=6)") and not has_auto("onecycle(0.4, total=6)")
    with pytest.raises(UserError):
        fill_auto("onecycle(auto, total=", 0.1, 0.01, 0.3)


def test_run_names_are_safe():
    assert run_name("multistep(0.1, milestones=[30,45])") == "multistep-0.1-milestones-30-45"
    assert run_name("../../etc") == "etc"
    assert "/" not in run_name("a/b(1)")
