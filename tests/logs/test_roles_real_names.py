"""Column roles on the names other projects' training scripts write: small tables in each naming scheme, and
the roles every real log in ../shared/data/real-logs must get."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.errors import UserError
from lrscope.logs.read import read_log
from lrscope.logs.roles import assign_roles, choose_x, normalise

N = 12


def ramp(a: float = 2.0, b: float = 1.0, n: int = N) -> np.ndarray:
    return np.linspace(a, b, n)


def sparse(values: np.ndarray, every: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[::every] = values[::every]
    return out


def roles_of(cols: dict, **kw):
    return assign_roles({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}, **kw)


# ------------------------------------------------------------------------------------------ names


def test_normalise_splits_camel_case_map_and_keeps_decimals():
    assert normalise("top1Accuracy") == ["top1", "accuracy"]
    assert normalise("metrics/mAP_0.5:0.95") == ["metrics", "map", "0.5", "0.95"]
    assert normalise("metrics/mAP50-95(B)") == ["metrics", "map", "50", "95", "b"]
    assert normalise("               train/box_loss") == ["train", "box", "loss"]
    assert normalise("lr-SGD/pg1") == ["lr", "sgd", "pg1"]


# ------------------------------------------------------------------------------------------ YOLO


def yolo_v5(lr1_equals_lr2: bool = True) -> dict:
    lr0 = np.r_[0.07, 0.04, 0.009, np.linspace(0.00865, 0.001, N - 3)]
    lr1 = np.r_[0.0033, 0.0064, 0.0091, np.linspace(0.00865, 0.001, N - 3)]
    lr2 = lr1.copy() if lr1_equals_lr2 else lr1 * 1.5
    return {
        "epoch": np.arange(N),
        "train/box_loss": ramp(0.09, 0.03),
        "train/obj_loss": ramp(0.04, 0.02),
        "train/cls_loss": ramp(0.03, 0.005),
        "metrics/precision": ramp(0.5, 0.9),
        "metrics/recall": ramp(0.3, 0.8),
        "metrics/mAP_0.5": ramp(0.2, 0.85),
        "metrics/mAP_0.5:0.95": ramp(0.08, 0.45),
        "val/box_loss": ramp(0.06, 0.034),
        "val/obj_loss": ramp(0.026, 0.02),
        "val/cls_loss": ramp(0.017, 0.004),
        "x/lr0": lr0,
        "x/lr1": lr1,
        "x/lr2": lr2,
    }


def test_yolov5_roles_and_notes():
    roles, lower, percent, notes = roles_of(yolo_v5(), x="epoch")
    assert roles["lr"] == "x/lr1"
    assert roles["train_loss"] == "train/box_loss" and roles["val_loss"] == "val/box_loss"
    assert roles["val_acc"] == "metrics/mAP_0.5"
    assert not lower["metrics/mAP_0.5"] and not percent["metrics/mAP_0.5"]  # a fraction, higher is better
    assert "train_acc" not in roles
    lr_note = [n for n in notes if "learning-rate columns" in n]
    assert len(lr_note) == 1 and "3 learning-rate columns" in lr_note[0] and "'x/lr1'" in lr_note[0]
    parts = [n for n in notes if "parts" in n]
    assert len(parts) == 1 and "train/obj_loss" in parts[0] and "'train/box_loss'" in parts[0]


def test_yolov5_groups_that_all_differ_use_the_first_weight_group():
    roles, *_, notes = roles_of(yolo_v5(lr1_equals_lr2=False), x="epoch")
    assert roles["lr"] == "x/lr1"
    assert any("first weight group" in n for n in notes)


def test_yolov8_spellings():
    cols = {
        "epoch": np.arange(N),
        "train/box_loss": ramp(),
        "train/cls_loss": ramp(),
        "train/dfl_loss": ramp(),
        "metrics/precision(B)": ramp(0.5, 0.9),
        "metrics/recall(B)": ramp(0.4, 0.8),
        "metrics/mAP50(B)": ramp(0.3, 0.8),
        "metrics/mAP50-95(B)": ramp(0.1, 0.5),
        "val/box_loss": ramp(),
        "val/cls_loss": ramp(),
        "val/dfl_loss": ramp(),
        "lr/pg0": ramp(0.07, 0.001),
        "lr/pg1": ramp(0.003, 0.001),
        "lr/pg2": ramp(0.003, 0.001),
    }
    roles, lower, *_ = roles_of(cols, x="epoch")
    assert roles["val_acc"] == "metrics/mAP50(B)" and not lower["metrics/mAP50(B)"]
    assert roles["train_loss"] == "train/box_loss" and roles["val_loss"] == "val/box_loss"
    assert roles["lr"] == "lr/pg1"


def test_a_total_loss_beats_its_parts_and_needs_no_note():
    cols = {"train/box_loss": ramp(), "train/cls_loss": ramp(), "train/total_loss": ramp(3, 2)}
    roles, *_, notes = roles_of(cols)
    assert roles["train_loss"] == "train/total_loss"
    assert not any("parts" in n for n in notes)


def test_yolo_results_csv_with_padded_header_is_split(tmp_path):
    names = list(yolo_v5())
    rows = [",".join(f"{n:>20}" for n in names)]
    data = yolo_v5()
    for i in range(N):
        rows.append(",".join(f"{data[n][i]:>20.6g}" for n in names))
    p = tmp_path / "results.csv"
    p.write_text("\n".join(rows) + "\n")
    log = read_log(p)
    assert log.x_name == "epoch" and log.rows == N
    assert log.roles["lr"] == "x/lr1" and log.roles["val_acc"] == "metrics/mAP_0.5"


# ------------------------------------------------------------------------------------------ parameter groups


def test_lightning_groups_that_differ_use_the_first():
    cols = {"lr-AdamW": ramp(1e-3, 1e-4), "lr-AdamW/pg1": ramp(1e-4, 1e-5), "train_loss": ramp()}
    roles, *_, notes = roles_of(cols)
    assert roles["lr"] == "lr-AdamW"
    assert any("2 learning-rate columns" in n for n in notes)


def test_the_group_most_others_agree_with():
    shared = ramp(0.01, 0.001)
    cols = {"lr-SGD": ramp(0.1, 0.001), "lr-SGD/pg1": shared, "lr-SGD/pg2": shared.copy(), "loss": ramp()}
    roles, *_ = roles_of(cols)
    assert roles["lr"] == "lr-SGD/pg1"


def test_float32_noise_is_no_change():
    noise = np.full(N, float(np.float32(0.001)))
    noise[::2] = 0.001  # 0.001 and 0.0010000000474974513 alternate: the same rate
    cols = {"lr": noise, "scheduled_lr": np.r_[np.full(6, 0.1), np.full(6, 0.01)], "loss": ramp()}
    roles, *_, notes = roles_of(cols)
    assert roles["lr"] == "scheduled_lr"
    assert any("never changes" in n for n in notes)


def test_keras_learning_rate_column_of_float32_values():
    lr = np.array([np.float32(v) for v in [0.001] * 9 + [0.0002] * 3], dtype=np.float64)
    cols = {
        "epoch": np.arange(N),
        "accuracy": ramp(0.7, 0.99),
        "dice_coef": ramp(0.1, 0.8),
        "learning_rate": lr,
        "loss": ramp(),
        "val_accuracy": ramp(0.9, 0.99),
        "val_dice_coef": ramp(0.2, 0.7),
        "val_loss": ramp(),
    }
    roles, lower, *_ = roles_of(cols, x="epoch")
    assert roles["lr"] == "learning_rate" and roles["train_loss"] == "loss" and roles["val_loss"] == "val_loss"
    assert roles["train_acc"] == "accuracy" and roles["val_acc"] == "val_accuracy"


def test_dice_coefficient_is_a_score_not_a_loss():
    cols = {"epoch": np.arange(N), "lr": np.full(N, 0.001), "dice_coef": ramp(0.1, 0.8), "val_dice_coef": ramp()}
    roles, lower, *_ = roles_of(cols, x="epoch")
    assert "train_loss" not in roles and "val_loss" not in roles
    assert roles["train_acc"] == "dice_coef" and roles["val_acc"] == "val_dice_coef"
    assert not lower["dice_coef"] and not lower["val_dice_coef"]


# ------------------------------------------------------------------------------------------ detectors


def test_detectron2_metrics_json_names():
    cols = {
        "data_time": ramp(0.01, 0.02),
        "eta_seconds": ramp(2000, 0),
        "fast_rcnn/cls_accuracy": ramp(0.5, 0.95),
        "fast_rcnn/false_negative": ramp(0.7, 0.1),
        "fast_rcnn/fg_cls_accuracy": ramp(0.1, 0.9),
        "iteration": np.arange(19, 20 * N, 20),
        "loss_box_reg": ramp(0.9, 0.2),
        "loss_cls": ramp(2.6, 0.1),
        "loss_rpn_cls": ramp(1.0, 0.01),
        "lr": ramp(2e-5, 1e-3),
        "roi_head/num_fg_samples": np.full(N, 16.0),
        "time": np.full(N, 1.19),
        "total_loss": ramp(4.6, 0.4),
        "bbox/AP": sparse(ramp(30, 64), 4),
        "bbox/AP50": sparse(ramp(60, 96), 4),
        "bbox/AP-0": sparse(ramp(20, 70), 4),
        "bbox/APs": sparse(ramp(10, 40), 4),
    }
    assert choose_x(cols) == "iteration"
    roles, lower, percent, _ = roles_of(cols, x="iteration")
    assert roles["train_loss"] == "total_loss" and roles["lr"] == "lr"
    assert roles["val_acc"] == "bbox/AP" and percent["bbox/AP"] and not lower["bbox/AP"]
    assert "train_acc" not in roles  # a detector head's own accuracy is not the model's
    assert not {"data_time", "eta_seconds", "time"} & set(roles.values())


def test_detr_log_names():
    cols = {
        "train_lr": np.r_[np.full(8, 1e-4), np.full(4, 1e-5)],
        "train_class_error": ramp(60, 10),
        "train_loss": ramp(18, 8),
        "train_loss_ce": ramp(),
        "train_loss_bbox_0": ramp(),
        "train_class_error_unscaled": ramp(60, 10),
        "train_cardinality_error_unscaled": ramp(5, 1),
        "test_class_error": ramp(50, 12),
        "test_loss": ramp(16, 7.7),
        "test_loss_ce": ramp(),
        "test_coco_eval_bbox": ramp(0.1, 0.3),  # a list the reader summarised: not AP itself
        "epoch": np.arange(N),
        "n_parameters": np.full(N, 43e6),
    }
    roles, lower, *_ = roles_of(cols, x="epoch")
    assert roles["lr"] == "train_lr" and roles["train_loss"] == "train_loss" and roles["val_loss"] == "test_loss"
    assert roles["val_acc"] == "test_class_error" and lower["test_class_error"]
    assert roles["train_acc"] == "train_class_error" and lower["train_class_error"]
    assert "n_parameters" not in roles.values()
    # a scalar AP column wins over the class error
    roles, lower, *_ = roles_of({**cols, "test_AP": ramp(0.3, 0.42)}, x="epoch")
    assert roles["val_acc"] == "test_AP" and not lower["test_AP"]


# ------------------------------------------------------------------------------------------ Keras, Lightning


def test_keras_tensorboard_tags():
    cols = {
        "step": np.arange(N),
        "train/epoch_loss": ramp(),
        "train/epoch_lr": np.full(N, 1e-3),
        "train/epoch_accuracy": ramp(0.5, 0.9),
        "validation/epoch_loss": ramp(),
        "validation/epoch_accuracy": ramp(0.4, 0.8),
    }
    roles, *_ = roles_of(cols, x="step")
    assert roles["lr"] == "train/epoch_lr" and roles["train_loss"] == "train/epoch_loss"
    assert roles["val_loss"] == "validation/epoch_loss" and roles["val_acc"] == "validation/epoch_accuracy"
    assert roles["train_acc"] == "train/epoch_accuracy"
    roles, *_ = roles_of({"step": np.arange(N), "epoch_loss": ramp(), "epoch_lr": np.full(N, 1e-3)}, x="step")
    assert roles["train_loss"] == "epoch_loss" and roles["lr"] == "epoch_lr"


def lightning(step_every: int = 2) -> dict:
    n = 40
    test = np.full(n, np.nan)
    test[-1] = 0.9
    return {
        "lr-SGD": sparse(np.linspace(0.004, 0.1, n), step_every),
        "step": np.arange(n) * 50,
        "train_loss_step": sparse(np.linspace(2, 0.1, n), step_every),
        "train_acc_step": sparse(np.linspace(0.3, 0.99, n), step_every),
        "epoch": np.arange(n) // 3,
        "valid_loss": sparse(np.linspace(2, 0.4, n), 3),
        "valid_acc": sparse(np.linspace(0.3, 0.9, n), 3),
        "train_loss_epoch": sparse(np.linspace(2, 0.05, n), 3),
        "train_acc_epoch": sparse(np.linspace(0.3, 0.99, n), 3),
        "test_loss": np.where(np.isfinite(test), 0.4, np.nan),
        "test_acc": test,
    }


def test_lightning_takes_the_loss_with_more_values_and_ignores_the_test_row():
    roles, *_, notes = roles_of(lightning(step_every=2), x="step")
    assert roles["lr"] == "lr-SGD" and roles["val_loss"] == "valid_loss" and roles["val_acc"] == "valid_acc"
    assert roles["train_loss"] == "train_loss_step" and roles["train_acc"] == "train_acc_step"
    assert not {"test_loss", "test_acc"} & set(roles.values())
    assert any("'train_loss_step'" in n and "more values" in n for n in notes)
    roles, *_ = roles_of(lightning(step_every=5), x="step")  # sparser step-level records
    assert roles["train_loss"] == "train_loss_epoch"


def test_test_columns_with_enough_values_stand_in_for_validation():
    roles, *_ = roles_of({"epoch": np.arange(N), "train_loss": ramp(), "test_loss": ramp(), "test_acc": ramp()})
    assert roles["val_loss"] == "test_loss" and roles["val_acc"] == "test_acc"


def test_validation_beats_test():
    cols = {"train_loss": ramp(), "val_loss": ramp(), "test_loss": ramp(), "val_acc": ramp(), "test_acc": ramp()}
    roles, *_ = roles_of(cols)
    assert roles["val_loss"] == "val_loss" and roles["val_acc"] == "val_acc"


# ------------------------------------------------------------------------------------------ accuracy-only tables


def test_dawnbench_accuracy_only_table(tmp_path):
    p = tmp_path / "entry.tsv"
    rows = ["\ufeffepoch\thours\ttop1Accuracy\ttop5Accuracy"]
    rows += [f"{i}\t{0.1 * i:.4f}\t{min(95.0, 10 + 6 * i):.2f}\t{min(99.0, 30 + 6 * i):.2f}" for i in range(20)]
    p.write_bytes(("\r\n".join(rows) + "\r\n").encode())
    log = read_log(p)
    assert log.x_name == "epoch"
    assert log.roles["val_acc"] == "top1Accuracy" and log.percent["top1Accuracy"]
    assert not log.lower_is_better["top1Accuracy"]
    assert "train_loss" not in log.roles and "hours" not in log.roles.values()


@pytest.mark.parametrize("name", ["accuracy", "top1", "val_acc", "Valid Acc.", "acc@1"])
def test_an_accuracy_alone_is_never_a_loss(name):
    roles, lower, *_ = roles_of({"epoch": np.arange(N), name: ramp(0.1, 0.9)}, x="epoch")
    assert "train_loss" not in roles and "val_loss" not in roles
    assert name in (roles.get("train_acc"), roles.get("val_acc")) and not lower[name]


@pytest.mark.parametrize("name", ["top1_err", "error", "val_error", "err-top1", "wer"])
def test_an_error_alone_is_an_accuracy_role_lower_is_better(name):
    roles, lower, *_ = roles_of({"epoch": np.arange(N), name: ramp(40, 20)}, x="epoch")
    assert "train_loss" not in roles
    assert name in (roles.get("train_acc"), roles.get("val_acc")) and lower[name]


# ------------------------------------------------------------------------------------------ other naming schemes


def test_hf_trainer_names():
    loss = ramp(0.3, 0.01)
    summary = np.full(N, np.nan)
    summary[-1] = 0.02
    cols = {
        "epoch": np.linspace(0.1, 3, N),
        "step": np.arange(25, 25 * N + 1, 25),
        "learning_rate": ramp(1e-5, 1e-8),
        "loss": loss,
        "grad_norm": ramp(3, 1),
        "train_loss": summary,
        "train_runtime": summary * 1e5,
        "eval_loss": sparse(ramp(0.32, 0.42), 3),
        "eval_wer": sparse(ramp(0.79, 0.74), 3),
        "eval_runtime": sparse(ramp(600, 610), 3),
        "eval_samples_per_second": sparse(ramp(1, 1.1), 3),
        "total_flos": summary * 1e18,
    }
    roles, lower, percent, _ = roles_of(cols, x="step")
    assert roles["train_loss"] == "loss" and roles["lr"] == "learning_rate" and roles["val_loss"] == "eval_loss"
    assert roles["val_acc"] == "eval_wer" and lower["eval_wer"] and not percent["eval_wer"]
    assert not {"grad_norm", "eval_runtime", "eval_samples_per_second", "total_flos"} & set(roles.values())
    roles, lower, *_ = roles_of({**cols, "eval_accuracy": sparse(ramp(0.5, 0.8), 3)}, x="step")
    assert roles["val_acc"] == "eval_accuracy" and not lower["eval_accuracy"]


def test_mlflow_like_names():
    roles, *_ = roles_of({"step": np.arange(N), "train/loss": ramp(), "val/loss": ramp(), "val_acc": ramp(0.1, 1)})
    assert roles["train_loss"] == "train/loss" and roles["val_loss"] == "val/loss" and roles["val_acc"] == "val_acc"


def test_timm_summary_csv():
    cols = {
        "epoch": np.arange(N),
        "train_loss": ramp(),
        "eval_loss": ramp(),
        "eval_top1": ramp(30, 80),
        "eval_top5": ramp(60, 95),
        "lr": ramp(0.1, 0.001),
    }
    roles, lower, percent, _ = roles_of(cols, x="epoch")
    assert roles["val_acc"] == "eval_top1" and percent["eval_top1"] and not lower["eval_top1"]
    assert roles["train_loss"] == "train_loss" and roles["val_loss"] == "eval_loss" and roles["lr"] == "lr"


def test_fairseq_names_perplexity_is_lower_is_better():
    cols = {
        "epoch": np.arange(N),
        "train_loss": ramp(),
        "train_nll_loss": ramp(),
        "train_ppl": ramp(400, 20),
        "train_wps": ramp(1e4, 1e4),
        "train_ups": np.full(N, 3.0),
        "train_wpb": np.full(N, 4000.0),
        "train_bsz": np.full(N, 100.0),
        "train_num_updates": np.arange(N) * 1000.0,
        "train_lr": ramp(5e-4, 1e-4),
        "train_gnorm": ramp(2, 1),
        "train_loss_scale": np.full(N, 8.0),
        "train_wall": ramp(100, 5000),
        "valid_loss": ramp(),
        "valid_nll_loss": ramp(),
        "valid_ppl": ramp(300, 25),
    }
    roles, lower, percent, _ = roles_of(cols, x="epoch")
    assert roles["train_loss"] == "train_loss" and roles["val_loss"] == "valid_loss"
    assert roles["lr"] == "train_lr"
    assert roles["val_acc"] == "valid_ppl" and lower["valid_ppl"] and not percent["valid_ppl"]
    assert roles.get("train_acc") == "train_ppl" and lower["train_ppl"]
    ignored = {"train_wps", "train_ups", "train_wpb", "train_bsz", "train_gnorm", "train_loss_scale", "train_wall"}
    assert not ignored & set(roles.values())
    roles, lower, *_ = roles_of({**cols, "valid_bleu": ramp(10, 30)}, x="epoch")
    assert roles["val_acc"] == "valid_bleu" and not lower["valid_bleu"]


@pytest.mark.parametrize("name,lower_better", [("wer", True), ("cer", True), ("bleu", False)])
def test_speech_and_translation_metrics(name, lower_better):
    roles, lower, *_ = roles_of({"step": np.arange(N), "loss": ramp(), name: ramp(0.5, 0.3)}, x="step")
    assert roles["val_acc"] == name and lower[name] is lower_better and roles["train_loss"] == "loss"


@pytest.mark.parametrize("name", ["perplexity", "ppl", "val_ppl"])
def test_perplexity_is_never_an_accuracy(name):
    roles, lower, *_ = roles_of({"step": np.arange(N), name: ramp(300, 30)}, x="step")
    assert name in roles.values() and lower[name]


NEVER = [
    "hours",
    "time",
    "eta_seconds",
    "data_time",
    "grad_norm",
    "n_parameters",
    "epoch_step",
    "samples",
    "tokens",
    "memory",
    "throughput",
    "train_samples_per_second",
    "max_memory_allocated",
    "tokens_seen",
]


def test_times_counts_and_norms_are_never_metrics():
    cols = {name: ramp(1, 100) for name in NEVER}
    roles, *_ = roles_of({**cols, "epoch": np.arange(N), "loss": ramp(), "lr": ramp(0.1, 0.01)}, x="epoch")
    assert not set(NEVER) & set(roles.values())
    assert roles["train_loss"] == "loss" and roles["lr"] == "lr"
    roles, *_ = roles_of({**cols, "epoch": np.arange(N)}, x="epoch")
    assert not {"train_loss", "val_loss", "train_acc", "val_acc", "lr"} & set(roles)


def test_settings_are_not_rates_and_options_are_not_metrics():
    cols = {
        "epoch": np.arange(N),
        "lr": np.r_[np.full(6, 0.1), np.full(6, 0.02)],
        "learningRate": np.full(N, 0.1),
        "learningRateDecay": np.zeros(N),
        "max_epoch": np.full(N, 200.0),
        "loss": ramp(),
        "test_acc": ramp(50, 90),
    }
    roles, *_ = roles_of(cols, x="epoch")
    assert roles["lr"] == "lr" and roles["val_acc"] == "test_acc" and roles["train_loss"] == "loss"
    assert "max_epoch" not in roles.values()


# ------------------------------------------------------------------------------------------ precedence


def test_flags_beat_fixed_beat_recognition():
    cols = {"loss": ramp(), "total": ramp(), "acc": ramp(0.1, 0.9), "miss": ramp(40, 20), "lr": ramp(0.1, 0.01)}
    roles, lower, *_ = roles_of(cols, fixed={"val_err": "miss", "train_loss": "total"})
    assert roles["val_acc"] == "miss" and lower["miss"] and roles["train_loss"] == "total"
    roles, lower, *_ = roles_of(cols, fixed={"val_err": "miss"}, acc="acc", loss="total")
    assert roles["val_acc"] == "acc" and not lower["acc"] and roles["train_loss"] == "total"
    assert "miss" not in roles.values()


# ------------------------------------------------------------------------------------------ real logs


READERS = {"caffe": "caffe", "gluoncv": "gluoncv", "nanogpt": "llm", "llmc": "llm", "hf": "hf"}


def read_real(real_logs, name: str):
    path = real_logs / name
    try:
        return read_log(path)
    except UserError as err:
        fmt = READERS.get(name.split("-")[0])
        if fmt is not None:
            try:
                read_log(path, format=fmt)
            except UserError as forced:
                if "not written yet" in str(forced):
                    pytest.skip(f"the {fmt} reader is not written yet")
        raise err


def check(log, want: dict, absent=(), lower=(), higher=(), percent=()):
    for role, name in want.items():
        assert log.roles.get(role) == name, (role, log.roles)
    for role in absent:
        assert role not in log.roles, (role, log.roles)
    for role in lower:
        assert log.lower_is_better[log.roles[role]], role
    for role in higher:
        assert not log.lower_is_better[log.roles[role]], role
    for role in percent:
        assert log.percent[log.roles[role]], role


BEARPAW = {
    "lr": "Learning Rate",
    "train_loss": "Train Loss",
    "val_loss": "Valid Loss",
    "train_acc": "Train Acc.",
    "val_acc": "Valid Acc.",
}


@pytest.mark.parametrize("name", ["bearpaw-cifar10-resnet110.tsv", "bearpaw-cifar100-preresnet110-truncated.tsv"])
def test_real_bearpaw(real_logs, name):
    check(read_real(real_logs, name), BEARPAW, higher=("val_acc", "train_acc"), percent=("val_acc",))


def test_real_bearpaw_geolr(real_logs):
    log = read_real(real_logs, "bearpaw-cifar10-resnet110-geolr-perbatch-lr-list.tsv")
    check(log, {**BEARPAW, "epoch": "Epoch"})
    assert "Time" not in log.roles.values()


def test_real_bearpaw_header_only(real_logs):
    with pytest.raises(UserError, match="no data"):
        read_log(real_logs / "bearpaw-cifar100-resnet1202-header-only.tsv")


def test_real_szagoruyko(real_logs):
    log = read_real(real_logs, "szagoruyko-cifar10-wrn40-4-json_stats.log")
    check(log, {"lr": "lr", "train_loss": "loss", "val_acc": "test_acc"}, higher=("val_acc",))
    assert not {"learningRate", "n_parameters", "epoch_step", "train_time", "test_time"} & set(log.roles.values())


def test_real_simpleclassification_tfevents(real_logs):
    log = read_real(real_logs, "simpleclassification-resnet18-cosine.tfevents")
    check(log, {"lr": "lr", "train_loss": "train_ce_loss", "train_acc": "train_acc", "val_acc": "test_acc"})


@pytest.mark.parametrize(
    "name", ["caffe-superconv-cifar10-resnet20-multistep.log", "caffe-superconv-cifar10-resnet56-clr-triangular.log"]
)
def test_real_caffe(real_logs, name):
    log = read_real(real_logs, name)
    assert log.x_name == "iteration"
    check(log, {}, lower=("train_loss", "val_loss"), higher=("val_acc",))
    assert log.has("lr")


def test_real_gluoncv_cifar(real_logs):
    log = read_real(real_logs, "gluoncv-cifar10-resnet56v1-step.log")
    check(log, {}, absent=("lr", "val_loss"), lower=("train_loss",), higher=("train_acc", "val_acc"))


def test_real_gluoncv_imagenet_errors(real_logs):
    log = read_real(real_logs, "gluoncv-imagenet-vgg19-step-perbatch-lr.log")
    check(log, {}, lower=("val_acc", "train_acc"))
    assert log.has("lr")


@pytest.mark.parametrize(
    "name",
    ["nanogpt-fineweb-gpt2small-modernarch-warmdown.txt", "llmc-fineweb-gpt2small-adamw-warmdown-no-lr-field.log"],
)
def test_real_llm_logs(real_logs, name):
    log = read_real(real_logs, name)
    assert log.x_name == "step"
    check(log, {}, absent=("lr", "train_acc", "val_acc"), lower=("train_loss", "val_loss"))


def test_real_hf_trainer_state(real_logs):
    log = read_real(real_logs, "hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json")
    assert log.x_name == "step" and log.has("lr")
    check(log, {}, lower=("train_loss", "val_loss", "val_acc"))
    # the training curve, not the one-value summary record
    assert np.isfinite(log.role("train_loss")).sum() >= 100


def test_real_detectron2_watermeter(real_logs):
    log = read_real(real_logs, "detectron2-watermeter-digits-fasterrcnn-multistep-metrics.json")
    assert log.x_name == "iteration"
    check(
        log,
        {"lr": "lr", "train_loss": "total_loss", "val_acc": "bbox/AP"},
        absent=("train_acc", "val_loss"),
        higher=("val_acc",),
        percent=("val_acc",),
    )


def test_real_detectron2_appended(real_logs):
    log = read_real(real_logs, "detectron2-mine-maskrcnn-appended-runs-metrics.json")
    assert log.x_name == "iteration"
    check(log, {"lr": "lr", "train_loss": "total_loss"}, absent=("train_acc",))
    assert not {"eta_seconds", "data_time", "time"} & set(log.roles.values())


@pytest.mark.parametrize(
    "name", ["detr-coco-conditional-detr-swin-t-lrdrop40-log.jsonl", "detr-ecg-two-runs-appended-steplr-log.jsonl"]
)
def test_real_detr(real_logs, name):
    log = read_real(real_logs, name)
    assert log.x_name == "epoch"
    check(
        log,
        {"lr": "train_lr", "train_loss": "train_loss", "val_loss": "test_loss", "val_acc": "test_class_error"},
        lower=("val_acc", "train_acc"),
    )
    assert not {"n_parameters", "n_params"} & set(log.roles.values())


def test_real_yolov5(real_logs):
    log = read_real(real_logs, "yolov5-driving-yolov5s-linear-22ep-results.csv")
    assert log.x_name == "epoch" and log.rows == 22
    check(
        log,
        {"lr": "x/lr1", "train_loss": "train/box_loss", "val_loss": "val/box_loss", "val_acc": "metrics/mAP_0.5"},
        absent=("train_acc",),
        higher=("val_acc",),
    )
    assert not log.percent["metrics/mAP_0.5"]
    assert any("3 learning-rate columns" in n and "'x/lr1'" in n for n in log.notes)
    assert any("parts" in n and "'train/box_loss'" in n for n in log.notes)


def test_real_keras_brats(real_logs):
    log = read_real(real_logs, "keras-brats-unet-reducelr-learning_rate-column.csv")
    check(
        log,
        {
            "lr": "learning_rate",
            "train_loss": "loss",
            "val_loss": "val_loss",
            "train_acc": "accuracy",
            "val_acc": "val_accuracy",
        },
    )


def test_real_keras_carbrands(real_logs):
    log = read_real(real_logs, "keras-carbrands-cnn-constant-lr-no-lr-column.csv")
    check(
        log,
        {"train_loss": "loss", "val_loss": "val_loss", "train_acc": "accuracy", "val_acc": "val_accuracy"},
        absent=("lr",),
    )


def test_real_keras_ecg_tfevents(real_logs):
    log = read_real(real_logs, "keras-ecg-resnet-reducelr-epoch_lr.tfevents")
    check(log, {"lr": "epoch_lr", "train_loss": "epoch_loss"}, absent=("val_loss",))


@pytest.mark.parametrize(
    "name",
    ["dawnbench-cifar10-kervresnet34-multistep-bom-crlf.tsv", "dawnbench-imagenet-resnet50-tpu-tf111-epoch0-row.tsv"],
)
def test_real_dawnbench(real_logs, name):
    log = read_real(real_logs, name)
    assert log.x_name == "epoch"
    check(
        log,
        {"val_acc": "top1Accuracy"},
        absent=("train_loss", "val_loss", "train_acc", "lr"),
        higher=("val_acc",),
        percent=("val_acc",),
    )


def test_real_lightning(real_logs):
    log = read_real(real_logs, "lightning-cifar10-resnet18-onecycle-lr-SGD-metrics.csv")
    assert log.x_name == "step"
    check(
        log,
        {"lr": "lr-SGD", "train_loss": "train_loss_step", "val_loss": "valid_loss", "val_acc": "valid_acc"},
        higher=("val_acc",),
    )
    assert not {"test_loss", "test_acc"} & set(log.roles.values())


def test_eta_is_a_rate_only_when_it_looks_like_one():
    roles, *_ = roles_of({"eta": ramp(0.1, 0.01), "loss": ramp()})
    assert roles["lr"] == "eta"
    roles, *_ = roles_of({"eta": ramp(3600, 10), "loss": ramp()})
    assert "lr" not in roles and "eta" not in roles.values()


def test_duplicate_spellings_are_no_step_epoch_choice():
    roles, *_, notes = roles_of({"Train Loss": ramp(), "train_loss": ramp()})
    assert roles["train_loss"] == "Train Loss" and not any("more values" in n for n in notes)


@pytest.mark.parametrize("name", ["accumulation_steps", "cost_time", "mse_seconds", "grad_accum"])
def test_words_that_only_look_like_metrics(name):
    roles, *_ = roles_of({"epoch": np.arange(N), name: ramp(), "val_loss": ramp()}, x="epoch")
    assert name not in roles.values()
