"""Readers: each supported format (synthetic files in the shapes other tools write), roles, sniffing,
run dirs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrscope.errors import UserError
from lrscope.logs.read import read_log
from lrscope.logs.roles import assign_roles, normalise


def staircase(n=60, cut=(30, 45)):
    epoch = np.arange(n)
    lr = np.where(epoch < cut[0], 0.1, np.where(epoch < cut[1], 0.01, 0.001))
    floor = np.where(epoch < cut[0], 0.6, np.where(epoch < cut[1], 0.25, 0.18))
    loss = floor + 1.5 * np.exp(-epoch / 6)
    return epoch, lr, loss


def test_keras_csvlogger(tmp_path):
    e, lr, loss = staircase()
    p = tmp_path / "training.log"
    lines = ["epoch,accuracy,loss,lr,val_accuracy,val_loss"]
    lines += [
        f"{i},{1 - a / 3:.4f},{a:.5f},{r},{1 - a / 2.5:.4f},{a * 1.1:.5f}"
        for i, a, r in zip(e, loss, lr, strict=True)
    ]
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p)
    assert log.format == "delimited" and log.rows == 60 and log.x_name == "epoch"
    assert (
        log.roles["lr"] == "lr" and log.roles["train_loss"] == "loss" and log.roles["val_loss"] == "val_loss"
    )
    assert log.roles["train_acc"] == "accuracy" and log.roles["val_acc"] == "val_accuracy"
    assert log.lower_is_better["loss"] and not log.lower_is_better["accuracy"]


def test_lightning_sparse_rows_merge_on_epoch(tmp_path):
    e, lr, loss = staircase(20, (10, 15))
    rows = ["epoch,lr-SGD,step,train_loss_epoch,val_loss,val_acc"]
    step = 0
    for i in range(20):
        step += 50
        rows.append(f"{i},{lr[i]},{step - 50},,,")  # LearningRateMonitor line
        rows.append(f"{i},,{step - 1},,{loss[i] * 1.2:.5f},{1 - loss[i] / 3:.4f}")  # validation line
        rows.append(f"{i},,{step - 1},{loss[i]:.5f},,")  # training epoch line
    p = tmp_path / "metrics.csv"
    p.write_text("\n".join(rows) + "\n")
    log = read_log(p)
    assert log.x_name == "epoch" and log.rows == 20
    assert log.roles["lr"] == "lr-SGD" and log.roles["train_loss"] == "train_loss_epoch"
    assert np.isfinite(log.columns["val_loss"]).all() and np.isfinite(log.columns["lr-SGD"]).all()
    assert any("merged" in n for n in log.notes)


def test_wandb_export(tmp_path):
    e, lr, loss = staircase()
    head = [
        '"Step"',
        '"run-7 - train/loss"',
        '"run-7 - train/loss__MIN"',
        '"run-7 - train/loss__MAX"',
        '"run-7 - learning_rate"',
    ]
    lines = [",".join(head)] + [
        f"{i * 100},{a},{a * 0.9},{a * 1.1},{r}" for i, a, r in zip(e, loss, lr, strict=True)
    ]
    p = tmp_path / "wandb_export.csv"
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p)
    assert log.x_name == "Step" and log.roles["train_loss"] == "run-7 - train/loss"
    assert log.roles["lr"] == "run-7 - learning_rate"


def test_whitespace_table_with_percent_and_trailing_delimiters(tmp_path):
    p = tmp_path / "log.txt"
    p.write_text(
        "Epoch  LR  TrainLoss  ValAcc\n"
        + "".join(f"{i} 0.1 {2 / (i + 1):.4f} {50 + i}%  \n" for i in range(12))
    )
    log = read_log(p)
    assert log.rows == 12 and log.roles["val_acc"] == "ValAcc"
    assert log.columns["ValAcc"][3] == 53.0


def test_tab_trailing_tab_bearpaw_like(tmp_path):
    p = tmp_path / "log.txt"
    p.write_text(
        "Learning Rate\tTrain Loss\tValid Loss\tTrain Acc.\tValid Acc.\t\n"
        + "".join(f"0.1\t{1 / (i + 1):.4f}\t{1.2 / (i + 1):.4f}\t{50 + i}\t{45 + i}\t\n" for i in range(9))
    )
    log = read_log(p)
    assert log.rows == 9 and log.x_name == "epoch" and log.columns["epoch"][0] == 1
    assert set(log.roles) >= {"lr", "train_loss", "val_loss", "train_acc", "val_acc"}


def test_list_cells_summarised_with_warning(tmp_path):
    p = tmp_path / "log.tsv"
    p.write_text(
        "Epoch\tTrain Loss\tLearning Rate\n"
        + "".join(f"{i}\t{1 / (i + 1)}\t[{0.1 / (1 + i)}, {0.3 / (1 + i)}]\n" for i in range(6))
    )
    log = read_log(p)
    assert log.columns["Learning Rate"][0] == pytest.approx(0.2)
    assert any("lists" in n for n in log.notes)


def test_repeated_x_keeps_last_with_warning(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss\n1,1.0\n2,0.9\n3,0.8\n2,0.5\n3,0.4\n4,0.3\n")
    log = read_log(p)
    assert log.rows == 4
    assert list(log.columns["loss"]) == [1.0, 0.5, 0.4, 0.3]
    assert any("resumed" in n for n in log.notes)


def test_json_stats_prefix_and_constant_lr_option(tmp_path):
    lines = ["{", "  learningRate : 0.1", "}", "==> loading data"]
    for i in range(1, 31):
        lr = 0.1 if i < 20 else 0.02
        lines.append(
            "json_stats: "
            + json.dumps(
                {"epoch": i, "learningRate": 0.1, "lr": lr, "loss": 1 / i, "test_acc": 50 + i, "model": "wrn"}
            )
            + "\t"
        )
    p = tmp_path / "log.txt"
    p.write_text("\n".join(lines) + '\njson_stats: {"epoch": 31, "lr"')
    log = read_log(p)
    assert log.format == "jsonlines" and log.rows == 30 and log.roles["lr"] == "lr"
    assert log.roles["val_acc"] == "test_acc"
    assert any("torn" in n for n in log.notes)


def test_utf16_bom(tmp_path):
    p = tmp_path / "log.csv"
    p.write_bytes("epoch,lr,loss\n1,0.1,2.0\n2,0.1,1.5\n3,0.1,1.2\n".encode("utf-16"))
    log = read_log(p)
    assert log.rows == 3 and log.roles["train_loss"] == "loss"


def test_tensorboard_event_dir_with_train_and_validation_runs(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    for sub, scale in (("train", 1.0), ("validation", 1.2)):
        w = EventFileWriter(str(tmp_path / sub))
        for step in range(10):
            vals = [summary_pb2.Summary.Value(tag="epoch_loss", simple_value=scale / (step + 1))]
            if sub == "train":
                vals.append(summary_pb2.Summary.Value(tag="epoch_learning_rate", simple_value=0.1))
            w.add_event(event_pb2.Event(step=step, summary=summary_pb2.Summary(value=vals)))
        w.close()
    log = read_log(tmp_path)
    assert log.format == "tensorboard" and log.rows == 10
    assert log.roles["train_loss"] == "train/epoch_loss" and log.roles["val_loss"] == "validation/epoch_loss"
    assert log.roles["lr"] == "train/epoch_learning_rate"


def test_tensorboard_written_by_torch_summarywriter(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    w = tb.SummaryWriter(str(tmp_path))
    for step in range(20):
        w.add_scalar("train/loss", 1.0 / (step + 1), step)
        w.add_scalar("lr", 0.1 if step < 10 else 0.01, step)
    w.close()
    log = read_log(tmp_path)
    assert log.rows == 20 and log.roles["lr"] == "lr" and log.roles["train_loss"] == "train/loss"


def test_run_directory(tmp_path):
    from lrscope.logs.recorder import Recorder

    rec = Recorder(tmp_path / "run", config={"model": "x"})
    for ep in range(1, 11):
        rec.epoch(epoch=ep, lr=0.1 if ep < 6 else 0.01, train_loss=1 / ep, val_loss=1.1 / ep, val_acc=0.5)
    rec.close()
    log = read_log(tmp_path / "run")
    assert log.format == "run" and log.rows == 10 and log.x_name == "epoch" and log.roles["lr"] == "lr"


def test_overrides_and_unknown_column(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("t,rate,objective_value\n0,0.1,3\n1,0.1,2\n2,0.01,1\n")
    log = read_log(p, lr="rate", loss="objective_value", x="t")
    assert log.roles["lr"] == "rate" and log.roles["train_loss"] == "objective_value" and log.x_name == "t"
    with pytest.raises(UserError, match="no column named"):
        read_log(p, lr="nope")


@pytest.mark.parametrize(
    "name,role",
    [
        ("Learning Rate", "lr"),
        ("lr-AdamW/pg1", "lr"),
        ("train_loss", "train_loss"),
        ("Valid Loss", "val_loss"),
        ("test_acc", "val_acc"),
        ("Valid Acc.", "val_acc"),
        ("val/top1", "val_acc"),
        ("Train Acc.", "train_acc"),
    ],
)
def test_role_names(name, role):
    cols = {name: np.linspace(1, 2, 5), "other": np.zeros(5)}
    roles, *_ = assign_roles(cols)
    assert roles.get(role) == name


def test_error_metric_is_lower_is_better():
    cols = {"loss": np.linspace(2, 1, 5), "top1_err": np.linspace(40, 20, 5)}
    roles, lower, *_ = assign_roles(cols)
    assert roles["val_acc"] == "top1_err" and lower["top1_err"]


def test_constant_lr_column_loses_to_changing_one():
    cols = {
        "learningRate": np.full(6, 0.1),
        "lr": np.array([0.1, 0.1, 0.1, 0.01, 0.01, 0.01]),
        "loss": np.linspace(2, 1, 6),
    }
    roles, *_ = assign_roles(cols)
    assert roles["lr"] == "lr"


def test_normalise_strips_wandb_prefix():
    assert normalise("run-3 - train/loss") == ["train", "loss"]
