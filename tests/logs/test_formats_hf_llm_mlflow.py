"""The Hugging Face Trainer, LLM (llm.c, modded-nanogpt, nanoGPT) and MLflow readers: real logs, and small logs
written here in each line style."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrscope.errors import UserError
from lrscope.logs.formats import hf, llm, mlflow
from lrscope.logs.read import read_log

HF_STATE = "hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json"
LLMC = "llmc-fineweb-gpt2small-adamw-warmdown-no-lr-field.log"
NANOGPT = "nanogpt-fineweb-gpt2small-modernarch-warmdown.txt"


def finite(values) -> np.ndarray:
    values = np.asarray(values)
    return values[np.isfinite(values)]


# ------------------------------------------------------------------------------------------------ Hugging Face


def test_hf_trainer_state_real(real_logs):
    log = read_log(real_logs / HF_STATE)
    assert log.format == "hf" and log.x_name == "step"
    assert log.roles["lr"] == "learning_rate" and log.roles["train_loss"] == "loss"
    assert log.roles["val_loss"] == "eval_loss" and log.roles["val_acc"] == "eval_wer"
    assert log.lower_is_better["eval_wer"]
    # 200 training records; the 5 evaluations share their steps; the summary is no row
    assert log.rows == 200 and log.x[0] == 25 and log.x[-1] == 5000
    assert len(finite(log.columns["eval_loss"])) == 5
    assert log.columns["loss"][-1] == pytest.approx(0.0002)  # not the summary's average train_loss 0.0189
    assert not any(k for k in log.columns if "runtime" in k or "per_second" in k or "flos" in k)
    assert "train_loss" not in log.columns
    assert any("summary" in n and "0.0189" in n for n in log.notes)
    assert any("best_metric 0.7432" in n and "checkpoint-3000" in n for n in log.notes)


def test_hf_trainer_state_real_cli(cli, real_logs):
    proc = cli("explain", real_logs / HF_STATE, "--json")
    assert proc.returncode == 0, proc.stderr
    source = json.loads(proc.stdout)["source"]
    assert source["format"] == "hf" and source["x_name"] == "step"
    columns = source["columns"]
    assert (columns["lr"], columns["train_loss"], columns["val_loss"]) == ("learning_rate", "loss", "eval_loss")
    assert columns["val_acc"] == "eval_wer"


def _state(history, **extra) -> str:
    return json.dumps({"best_metric": 0.91, "global_step": 40, **extra, "log_history": history}, indent=2)


def test_hf_trainer_state_with_accuracy(tmp_path):
    history = []
    for step in range(10, 110, 10):
        history.append({"epoch": step / 50, "learning_rate": 1e-3 * (1 - step / 200), "loss": 2 / step, "step": step})
        if step % 50 == 0:
            history.append(
                {
                    "epoch": step / 50,
                    "eval_loss": 1.5 / step,
                    "eval_accuracy": 0.5 + step / 400,
                    "eval_runtime": 3.2,
                    "eval_samples_per_second": 100.0,
                    "step": step,
                }
            )
    history.append({"epoch": 2.0, "step": 100, "train_loss": 0.3, "train_runtime": 60.0, "total_flos": 1e15})
    p = tmp_path / "trainer_state.json"
    p.write_text(_state(history))
    assert hf.sniff(p.read_text())
    log = read_log(p)
    assert log.format == "hf" and log.x_name == "step" and log.rows == 10
    assert log.roles["val_acc"] == "eval_accuracy" and not log.lower_is_better["eval_accuracy"]
    assert log.roles["train_loss"] == "loss" and "train_loss" not in log.columns
    assert "eval_runtime" not in log.columns and "eval_samples_per_second" not in log.columns
    assert list(finite(log.columns["eval_accuracy"])) == pytest.approx([0.625, 0.75])


def test_hf_json_without_log_history_is_refused(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"global_step": 10, "best_metric": 0.5, "epoch": 1.0}))
    assert not hf.sniff(p.read_text())
    assert "log_history" in hf.hint(p.read_text())
    with pytest.raises(UserError, match='no "log_history" list') as info:
        read_log(p, format="hf")
    assert "\n" not in str(info.value)


PRINTED = """\
***** Running training *****
  Num examples = 1000
  0%|          | 0/250 [00:00<?, ?it/s]
  4%|▍   | 10/250 [00:05<02:00]{'loss': 1.2734, 'grad_norm': 3.1, 'learning_rate': 4.9e-05, 'epoch': 0.4}
{'loss': 1.0012, 'grad_norm': 2.5, 'learning_rate': 4.5e-05, 'epoch': 0.8}
 40%|████      | 100/250 [00:50<01:15,  2.00it/s]
{'eval_loss': 0.9, 'eval_accuracy': 0.61, 'eval_runtime': 2.1, 'eval_samples_per_second': 47.6, 'epoch': 1.0}
{'loss': 0.8, 'grad_norm': tensor(2.0, device='cuda:0'), 'learning_rate': 4.0e-05, 'epoch': 1.2}
{'loss': nan, 'grad_norm': nan, 'learning_rate': 3.5e-05, 'epoch': 1.6}
{'eval_loss': 0.85, 'eval_accuracy': 0.66, 'eval_runtime': 2.0, 'epoch': 2.0}
{'train_runtime': 120.5, 'train_samples_per_second': 16.6, 'train_steps_per_second': 2.07, 'train_loss': 0.95, \
'epoch': 2.0}
100%|██████████| 250/250 [02:00<00:00,  2.07it/s]
"""


def test_hf_printed_dicts(tmp_path):
    assert hf.sniff(PRINTED)
    p = tmp_path / "train.out"
    p.write_text(PRINTED)
    log = read_log(p)
    assert log.format == "hf" and log.x_name == "epoch"
    assert list(log.x) == pytest.approx([0.4, 0.8, 1.0, 1.2, 1.6, 2.0])
    assert log.roles["lr"] == "learning_rate" and log.roles["train_loss"] == "loss"
    assert log.roles["val_loss"] == "eval_loss" and log.roles["val_acc"] == "eval_accuracy"
    loss = log.columns["loss"]
    assert loss[0] == pytest.approx(1.2734) and loss[3] == pytest.approx(0.8)  # the tensor(...) line too
    assert np.isnan(loss[4]) and log.columns["learning_rate"][4] == pytest.approx(3.5e-05)  # nan is kept
    assert "train_loss" not in log.columns and "eval_runtime" not in log.columns
    assert any("summary" in n and "0.95" in n for n in log.notes)


def test_hf_printed_dicts_without_epoch_count_records():
    text = "\n".join(f"{{'loss': {1 / (i + 1):.4f}, 'learning_rate': 0.001}}" for i in range(5))
    parsed = hf.read(text, "out.txt", notes := [])
    assert parsed.x == "record" and list(parsed.columns["record"]) == [1, 2, 3, 4, 5]
    assert any("no epoch" in n for n in notes)


def test_hf_other_dicts_are_not_trainer_records():
    text = "{'a': 1, 'b': 2}\n{'a': 3, 'b': 4}\n"
    assert not hf.sniff(text)
    with pytest.raises(UserError, match="is not a hf log"):
        hf.read(text, "x.txt", [])


# ------------------------------------------------------------------------------------------------ LLM logs


def test_llmc_real(real_logs):
    parsed = llm.read((real_logs / LLMC).read_text(), LLMC, [])
    step, train, val = parsed.columns["step"], parsed.columns["train_loss"], parsed.columns["val_loss"]
    assert parsed.x == "step" and parsed.roles == {"train_loss": "train_loss", "val_loss": "val_loss"}
    assert len(step) == 9537 and step[0] == 0 and step[-1] == 9536 and np.all(np.diff(step) == 1)
    assert len(finite(train)) == 9536 and len(finite(val)) == 76
    assert val[0] == pytest.approx(10.968871) and train[0] == pytest.approx(10.965596)  # one row for step 0
    assert np.isnan(train[-1]) and val[-1] == pytest.approx(3.275959)
    assert val[128] == pytest.approx(6.034447)


def test_nanogpt_real_skips_the_script_source(real_logs):
    text = (real_logs / NANOGPT).read_text()
    assert llm.sniff(text)
    parsed = llm.read(text, NANOGPT, [])
    step, train, val = parsed.columns["step"], parsed.columns["train_loss"], parsed.columns["val_loss"]
    assert len(step) == 5101 and step[0] == 0 and step[-1] == 5100
    assert len(finite(train)) == 5100 and len(finite(val)) == 42
    assert np.isnan(train[0]) and val[0] == pytest.approx(16.0058)  # step 0: a val loss, no train loss
    assert train[1] == pytest.approx(16.0026) and val[-1] == pytest.approx(3.2741)
    assert set(parsed.columns) == {"step", "train_loss", "val_loss"}  # train_time:...ms is a timing


@pytest.mark.parametrize("name", [LLMC, NANOGPT])
def test_llm_real_cli(cli, real_logs, name):
    proc = cli("explain", real_logs / name, "--json")
    assert proc.returncode == 0, proc.stderr
    source = json.loads(proc.stdout)["source"]
    assert source["format"] == "llm" and source["x_name"] == "step"
    assert source["columns"]["train_loss"] == "train_loss" and source["columns"]["val_loss"] == "val_loss"


def test_llmc_lines_with_lr_and_norm(tmp_path):
    lines = []
    for s in range(30):
        if s % 10 == 0:
            lines.append(f"s:{s} tel:{4 - s / 20:.4f}")
        lines.append(f"s:{s} trl:{4 - s / 25:.6f} lr:{6e-4 * (1 - s / 60):.6f} norm:{1 + s / 100:.2f}")
    lines.append("s:30 eval:0.2950")
    p = tmp_path / "main.log"
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p)
    assert log.format == "llm" and log.x_name == "step" and log.rows == 31
    assert log.roles["lr"] == "lr" and log.roles["train_loss"] == "train_loss"
    assert log.roles["val_loss"] == "val_loss" and log.roles["val_acc"] == "eval_acc"
    assert log.columns["lr"][10] == pytest.approx(6e-4 * (1 - 10 / 60), abs=1e-6)
    assert log.columns["grad_norm"][29] == pytest.approx(1.29)
    assert list(finite(log.columns["val_loss"])) == pytest.approx([4.0, 3.5, 3.0])


def test_llmc_fast_and_general_paths_agree():
    """A key that appears only mid-log (unseen by the sample the numpy path takes) and a value with a unit send
    the parser down its general path: the columns must be the same as the fast path gives."""
    plain = [f"s:{s} trl:{3 + 1 / (s + 1):.6f} lr:0.001" for s in range(6000)]
    rare = list(plain)
    rare[3000] = "s:3000 trl:3.000333 lr:0.001 spike:9.5"
    fast = llm.read("\n".join(plain), "a", [])
    general = llm.read("\n".join(rare), "b", [])
    assert set(general.columns) == {"step", "train_loss", "lr", "spike"}
    for name in ("step", "train_loss", "lr"):
        np.testing.assert_array_equal(fast.columns[name], general.columns[name])
    assert general.columns["spike"][3000] == 9.5 and len(finite(general.columns["spike"])) == 1
    timed = [line + f" dt:{s}ms" if s == 3000 else line for s, line in enumerate(plain)]
    with_unit = llm.read("\n".join(timed), "c", [])
    assert set(with_unit.columns) == {"step", "train_loss", "lr"}
    np.testing.assert_array_equal(fast.columns["train_loss"], with_unit.columns["train_loss"])


def test_modded_nanogpt_lines_with_prefix_and_source():
    text = "\n".join(
        [
            "import torch",
            "    print(f'step:{step}/{args.num_iterations} val_loss:{val_loss:.4f} train_time:{t:.0f}ms')",
            "[rank0]: step:0/3 val_loss:10.9 train_time:0ms step_avg:nanms",
            "[rank0]: step:1/3 train_loss:10.8 train_time:100ms step_avg:nanms",
            "[rank0]: step:2/3 train_loss:9.1 train_time:200ms step_avg:100.00ms",
            "[rank0]: step:3/3 train_loss:8.5 train_time:300ms step_avg:100.00ms",
            "[rank0]: step:3/3 val_loss:8.7 train_time:300ms step_avg:100.00ms",
        ]
    )
    parsed = llm.read(text, "log.txt", [])
    assert list(parsed.columns["step"]) == [0, 1, 2, 3]
    assert list(parsed.columns["val_loss"][[0, 3]]) == [10.9, 8.7] and np.isnan(parsed.columns["train_loss"][0])
    assert list(parsed.columns["train_loss"][1:]) == [10.8, 9.1, 8.5]


def test_llmc_printed_step_lines_and_val_loss():
    text = "\n".join(
        [
            "num_parameters: 124475904",
            "val loss 11.0125",
            "step    1/40 | train loss 11.010 | norm 15.4321 | lr 6.00e-06 | 50.10 ms | 40.1% bf16 MFU | 100 tok/s",
            "step    2/40 | train loss 10.500 | norm 12.0000 | lr 1.20e-05 | 50.10 ms | 40.1% bf16 MFU | 100 tok/s",
            "val loss 10.3000",
            "HellaSwag: 2500/10042 = 0.248955",
            "step    3/40 | train loss 10.100 | norm 9.0000 | lr 1.80e-05 | (50.10 ms | 100 tok/s)",
        ]
    )
    assert llm.sniff(text)
    parsed = llm.read(text, "out.txt", [])
    assert list(parsed.columns["step"]) == [0, 1, 2, 3]
    val = parsed.columns["val_loss"]
    assert val[0] == pytest.approx(11.0125) and val[2] == pytest.approx(10.3) and np.isnan(val[1])
    assert list(parsed.columns["train_loss"][1:]) == pytest.approx([11.01, 10.5, 10.1])
    assert parsed.columns["lr"][3] == pytest.approx(1.8e-05) and parsed.columns["grad_norm"][1] == pytest.approx(
        15.4321
    )
    assert parsed.roles["lr"] == "lr" and not any("ms" in k or "tok" in k for k in parsed.columns)


def test_nanogpt_iter_and_eval_lines():
    lines = []
    for it in range(0, 21):
        if it % 10 == 0:
            lines.append(f"step {it}: train loss {4 - it / 10:.4f}, val loss {4.1 - it / 10:.4f}")
            if it:
                lines.append(f"saving checkpoint to out-{it}")
        lines.append(f"iter {it}: loss {4.05 - it / 10:.4f}, time 12.34ms, mfu 30.00%")
    parsed = llm.read("\n".join(lines), "train.log", notes := [])
    assert list(parsed.columns["step"]) == list(range(21))
    assert parsed.roles["train_loss"] == "train_loss"
    assert parsed.columns["train_loss"][20] == pytest.approx(2.05)  # the iter line
    assert parsed.columns["train_loss_estimate"][20] == pytest.approx(2.0)
    assert list(finite(parsed.columns["val_loss"])) == pytest.approx([4.1, 3.1, 2.1])
    assert any("estimate" in n for n in notes)


def test_old_llmc_val_loss_comes_before_its_step_line():
    text = "\n".join(
        [
            "val loss 5.30",
            "step 0: train loss 5.35 (took 1055.8 ms)",
            "step 1: train loss 4.98 (took 1040.1 ms)",
            "val loss 4.80",
            "step 2: train loss 4.75 (took 1041.0 ms)",
        ]
    )
    parsed = llm.read(text, "out.txt", [])
    assert list(parsed.columns["step"]) == [0, 1, 2]
    assert parsed.columns["val_loss"][0] == 5.30 and parsed.columns["val_loss"][2] == 4.80
    assert list(parsed.columns["train_loss"]) == [5.35, 4.98, 4.75]


def test_llm_appended_run_keeps_file_order():
    first = [f"s:{s} trl:{5 - s / 10:.3f}" for s in range(10)]
    second = ["s:0 tel:5.2"] + [f"s:{s} trl:{4.5 - s / 10:.3f}" for s in range(5)]
    parsed = llm.read("\n".join(first + second), "two.log", [])
    assert list(parsed.columns["step"]) == list(range(10)) + list(range(5))
    assert parsed.columns["train_loss"][10] == pytest.approx(4.5) and parsed.columns["val_loss"][10] == 5.2


def test_llm_forced_on_a_csv_is_refused(cli, tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("epoch,train_loss,val_loss\n1,0.9,1.0\n2,0.8,0.9\n")
    assert not llm.sniff(p.read_text())
    proc = cli("explain", p, "--format", "llm")
    assert proc.returncode == 2
    message = proc.stderr.strip()
    assert "not an llm log" in message and "s:N trl:X" in message and len(message.splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_llm_hint_when_lines_are_near_misses():
    text = "epoch 1 trl: n/a\nepoch 2 trl: n/a\n"
    assert not llm.sniff(text)
    assert "LLM training log" in llm.hint(text)
    assert llm.hint("a,b\n1,2\n") is None


# ------------------------------------------------------------------------------------------------ MLflow


def _metric(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{1_700_000_000_000 + 1000 * i} {v!r} {s}\n" for i, (v, s) in enumerate(rows)))


def test_mlflow_single_metric_file(tmp_path):
    p = tmp_path / "mlruns" / "0" / "abc123" / "metrics" / "val_loss"
    _metric(p, [(1.0 / (s + 1), s * 100) for s in range(20)])
    assert mlflow.sniff(p.read_text())
    log = read_log(p)
    assert log.format == "mlflow" and log.x_name == "step" and log.roles["val_loss"] == "val_loss"
    assert log.rows == 20 and log.x[-1] == 1900 and log.columns["val_loss"][1] == pytest.approx(0.5)


def test_mlflow_nested_name_comes_from_the_label():
    text = "1700000000000 0.5 0\n1700000000100 0.4 1\n"
    parsed = mlflow.read(text, "mlruns/1/r/metrics/train/loss", [])
    assert set(parsed.columns) == {"step", "train/loss"} and parsed.x == "step"


def test_mlflow_sniff_needs_ms_timestamps():
    assert not mlflow.sniff("1700000000 0.5 0\n1700000001 0.4 1\n")  # seconds, not milliseconds
    assert not mlflow.sniff("1700000000000 0.5\n")  # two fields
    assert not mlflow.sniff("1700000000000 0.5 0\nepoch loss acc\n")
    assert mlflow.sniff("1700000000000 nan 0\n1700000000001 -1.5e-3 7\n")


def test_mlflow_bad_line_is_refused_with_its_number(tmp_path):
    with pytest.raises(UserError, match="line 2") as info:
        mlflow.read("1700000000000 0.5 0\n1700000000100 oops 1\n", "metrics/loss", [])
    assert "timestamp(ms) value step" in str(info.value)
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(UserError, match="not an MLflow metric file"):
        read_log(p, format="mlflow")


def test_mlflow_run_metrics_align_on_step(tmp_path):
    metrics = tmp_path / "mlruns" / "0" / "run1" / "metrics"
    _metric(metrics / "loss", [(2.0 - s / 100, s) for s in range(100)])
    _metric(metrics / "learning_rate", [(0.1 if s < 50 else 0.01, s) for s in range(100)])
    _metric(metrics / "val" / "accuracy", [(0.5 + s / 400, s) for s in range(9, 100, 10)] + [(0.77, 99)])
    _metric(metrics / "train_loss", [(0.9, 99)])  # HF's end-of-training summary: one value
    _metric(metrics / "system" / "cpu_utilization_percentage", [(50.0, s) for s in range(5)])
    notes: list[str] = []
    parsed = mlflow.read_run_metrics(metrics, notes)
    assert parsed.x == "step" and set(parsed.columns) == {"step", "loss", "learning_rate", "val/accuracy"}
    assert list(parsed.columns["step"]) == list(range(100))
    acc = parsed.columns["val/accuracy"]
    assert len(finite(acc)) == 10 and acc[9] == pytest.approx(0.5 + 9 / 400) and acc[99] == 0.77  # last wins
    assert parsed.columns["learning_rate"][50] == 0.01
    assert any("train_loss" in n and "once" in n for n in notes)
    assert any("system" in n for n in notes)


def test_mlflow_run_metrics_without_steps_use_record_numbers(tmp_path):
    metrics = tmp_path / "metrics"
    _metric(metrics / "loss", [(1.0 / (i + 1), 0) for i in range(30)])
    _metric(metrics / "val_loss", [(1.2 / (i + 1), 0) for i in range(30)])
    notes: list[str] = []
    parsed = mlflow.read_run_metrics(metrics, notes)
    assert list(parsed.columns["step"]) == list(range(30))
    assert parsed.columns["val_loss"][2] == pytest.approx(0.4)
    assert any("record number" in n for n in notes)


def test_mlflow_run_metrics_refuses_an_empty_directory(tmp_path):
    (tmp_path / "metrics").mkdir()
    with pytest.raises(UserError, match="no MLflow metric files"):
        mlflow.read_run_metrics(tmp_path / "metrics", [])
