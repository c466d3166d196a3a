"""MXNet/gluoncv text logs (dmlc/web-data), x = epoch N (from 0)."""

from __future__ import annotations

from ._checks import (
    NO_LR_NEAR,
    close,
    describe,
    event_at,
    findings_text,
    lr_close,
    single,
    tied,
    unexplained_near,
)

CIFAR = "gluoncv-cifar10-resnet56v1-step.log"
IMAGENET = "gluoncv-imagenet-vgg19-step-perbatch-lr.log"


# --- CIFAR: `[Epoch N] train=ACC val=ACC loss=L`, no LR field; 0.1, x0.1 when epochs 100 and 150 start ---


def test_cifar_rows_and_roles(explain):
    """200 `[Epoch N]` rows; train= and val= are accuracies, loss= the training loss; no validation loss, no LR."""
    d = single(explain(CIFAR), CIFAR)
    cols = d["source"]["columns"]
    assert d["source"]["rows"] == 200, d["source"]
    assert {"train_acc", "val_acc", "train_loss"} <= set(cols), cols
    assert "val_loss" not in cols and "lr" not in cols, cols
    assert "train" in cols["train_acc"].lower() and "val" in cols["val_acc"].lower(), cols


def test_cifar_decays_found_at_epochs_100_and_150(explain):
    """No LR logged: both decays (the loss falls exactly there) within +-2 epochs, and no decay anywhere else."""
    d = single(explain(CIFAR), CIFAR)
    xs = [e["x"] for e in d["events"]]
    for truth in (100, 150):
        assert any(abs(x - truth) <= 2 for x in xs), f"no decay found near epoch {truth}: {describe(d)}"
    assert all(min(abs(x - 100), abs(x - 150)) <= 2 for x in xs), describe(d)
    assert all(e["source"] != "logged" for e in d["events"]), d["events"]


def test_cifar_first_decay_halves_the_training_loss(explain):
    """Row 101: training loss 0.151922 -> 0.077477 (-49%) -> 0.053021 (row 102), still falling after."""
    d = single(explain(CIFAR), CIFAR)
    k = event_at(d, 100, 2)
    assert k is not None, describe(d)
    drops = tied(d, "train_loss", k)
    assert drops, f"no training-loss fall tied to the decay near epoch 100: {describe(d)}"
    assert close(drops[0]["before"], 0.151922) and 0.02 <= drops[0]["after"] <= 1.1 * 0.077477, drops[0]


def test_cifar_first_decay_validation_accuracy_rises(explain):
    """Row 101: val accuracy 0.8923 -> 0.9227 -> 0.9274."""
    d = single(explain(CIFAR), CIFAR)
    k = event_at(d, 100, 2)
    assert k is not None, describe(d)
    drops = tied(d, "val_acc", k)
    assert drops and drops[0]["after"] > drops[0]["before"], describe(d)
    assert close(drops[0]["before"], 0.8923) and close(drops[0]["after"], 0.9227), drops[0]


def test_cifar_second_decay_brings_no_validation_gain(explain):
    """Row 151: val accuracy 0.9326 -> 0.9327 (best 0.9348 before, 0.9356 after): no gain to claim."""
    d = single(explain(CIFAR), CIFAR)
    gains = [
        x for x in d["drops"] if x["metric"] == "val_acc" and abs(x["x"] - 150) <= 3 and x["after"] > 1.01 * x["before"]
    ]
    assert not gains, gains


def test_cifar_no_unexplained_drop_at_the_decays(explain):
    d = single(explain(CIFAR), CIFAR)
    for x in (100, 150):
        assert not unexplained_near(d, "train_loss", x, 2), unexplained_near(d, "train_loss", x, 2)
    for f in d["findings"]:
        if NO_LR_NEAR in f["text"].lower():
            assert all(abs(f["row"] - r) > 3 for r in (100, 150)), f["text"]


def test_cifar_no_overfitting(explain):
    """Val accuracy stays flat near 0.93 in stages 2 and 3: no overfitting trend."""
    d = single(explain(CIFAR), CIFAR)
    assert not findings_text(d, ("overfitting",)), findings_text(d, ("overfitting",))


# --- ImageNet: per-batch lines with lr=, per-epoch training/validation err-top1 (errors, lower is better) ---


def test_imagenet_events_at_epochs_50_and_80(explain):
    """lr=0.001000 from `Epoch[50] Batch [49]` and lr=0.000100 from `Epoch[80] Batch [49]` (logged)."""
    d = single(explain(IMAGENET), IMAGENET)
    assert len(d["events"]) == 2, describe(d)
    a, b = d["events"]
    assert 50 <= a["x"] < 51 and 80 <= b["x"] < 81, describe(d)
    assert lr_close(a["lr_before"], 0.01) and lr_close(a["lr_after"], 0.001), a
    assert lr_close(b["lr_before"], 0.001) and lr_close(b["lr_after"], 0.0001), b


def test_imagenet_err_top1_columns_are_errors(explain):
    """`err-top1` values are errors: they play accuracy roles, lower is better, and are worded as errors."""
    d = single(explain(IMAGENET), IMAGENET)
    cols = d["source"]["columns"]
    assert "val_acc" in cols and "err" in cols["val_acc"].lower(), cols
    assert "train_acc" in cols and "err" in cols["train_acc"].lower(), cols
    assert "val_loss" not in cols, cols
    text = " ".join(findings_text(d)).lower()
    assert "validation accuracy" not in text and "training accuracy" not in text, text[:400]


def test_imagenet_first_decay_validation_error_falls(explain):
    """Row 51: val err-top1 0.328205 -> 0.290064."""
    d = single(explain(IMAGENET), IMAGENET)
    k = event_at(d, 50, 1)
    assert k is not None, describe(d)
    drops = tied(d, "val_acc", k)
    assert drops and drops[0]["after"] < drops[0]["before"], describe(d)
    assert close(drops[0]["before"], 0.328205) and close(drops[0]["after"], 0.290064), drops[0]


def test_imagenet_first_decay_training_error_falls(explain):
    """Row 51: train err-top1 0.413938 -> 0.359234."""
    d = single(explain(IMAGENET), IMAGENET)
    k = event_at(d, 50, 1)
    assert k is not None, describe(d)
    drops = tied(d, "train_acc", k)
    assert drops and drops[0]["after"] < drops[0]["before"], describe(d)
    assert close(drops[0]["before"], 0.413938) and close(drops[0]["after"], 0.359234), drops[0]


def test_imagenet_per_epoch_sawtooth_is_not_a_series_of_drops(explain):
    """The batch lines' running error restarts every epoch (a saw at each of the 100 boundaries): not drops."""
    d = single(explain(IMAGENET), IMAGENET)
    loose = [x for x in d["drops"] if x["event"] is None]
    assert len(loose) <= 3, f"{len(loose)} unexplained drops: {loose[:5]}"


def test_imagenet_no_overfitting(explain):
    d = single(explain(IMAGENET), IMAGENET)
    assert not findings_text(d, ("overfitting",)), findings_text(d, ("overfitting",))
