"""TensorBoard event files: a cosine run (simple_value scalars) and a Keras TF2 run (float tensors), x = step."""

from __future__ import annotations

from ._checks import NO_LR_NEAR, all_text, assert_smooth, describe, lr_close, single

COSINE = "simpleclassification-resnet18-cosine.tfevents"
ECG = "keras-ecg-resnet-reducelr-epoch_lr.tfevents"


def test_cosine_has_no_step_event_and_blames_nothing_on_one(explain):
    """Warm-up then cosine decay from 0.05 to 1e-4: smooth, no step decay, no drop blamed on a step change."""
    d = single(explain(COSINE), COSINE)
    assert_smooth(d, COSINE)
    assert d["schedule"]["kind"] == "smooth" or any(f["kind"] == "smooth_schedule" for f in d["findings"]), d[
        "schedule"
    ]


def test_cosine_never_says_no_rate_change_is_near(explain):
    """The rate changes on every row, so "no learning-rate change is near it" is false wherever it is said."""
    d = single(explain(COSINE), COSINE)
    assert NO_LR_NEAR not in all_text(d)


def test_cosine_roles(explain):
    cols = single(explain(COSINE), COSINE)["source"]["columns"]
    assert cols.get("lr") == "lr" and cols.get("train_loss") == "train_ce_loss", cols
    assert cols.get("val_acc") == "test_acc" and cols.get("train_acc") == "train_acc", cols


def test_keras_ecg_float_tensors_are_read(explain):
    """TF2 Keras callback: the values are float tensors, not simple_value; tags epoch_loss and epoch_lr, 19 steps."""
    d = single(explain(ECG), ECG)
    cols = d["source"]["columns"]
    assert cols.get("lr") == "epoch_lr" and cols.get("train_loss") == "epoch_loss", cols
    assert d["source"]["rows"] == 19, d["source"]


def test_keras_ecg_one_event_at_step_17(explain):
    """epoch_lr is 0.001 for steps 0-16 and 0.0001 from step 17 (row 18), 10x, the only change."""
    d = single(explain(ECG), ECG)
    assert [e["x"] for e in d["events"]] == [17], describe(d)
    e = d["events"][0]
    assert lr_close(e["lr_before"], 0.001) and lr_close(e["lr_after"], 0.0001), e


def test_keras_ecg_no_distinct_decay_drop_is_claimed(explain):
    """The training loss falls -22 % and -27 % after the cut, continuing its pace before it (-42 %, -19 % per epoch):
    no distinct decay drop can be claimed."""
    d = single(explain(ECG), ECG)
    sharp = [x for x in d["drops"] if x["metric"] == "train_loss" and x["sharp"] and abs(x["x"] - 17) <= 2]
    assert not sharp, f"a sharp training-loss drop is claimed at the cut: {sharp}"
