"""Keras CSVLogger logs, x = epoch: ReduceLROnPlateau cuts in a `learning_rate` column, and a constant-rate run with
no LR column."""

from __future__ import annotations

from ._checks import LONGER, assert_smooth, describe, findings_text, lr_close, single

BRATS = "keras-brats-unet-reducelr-learning_rate-column.csv"
CARS = "keras-carbrands-cnn-constant-lr-no-lr-column.csv"
# (epoch, lr before, lr after): rows 10, 27, 29, 31 (x0.2 each) and 33 (x0.625, clamped at min_lr 1e-6)
BRATS_CUTS = [(9, 1e-3, 2e-4), (26, 2e-4, 4e-5), (28, 4e-5, 8e-6), (30, 8e-6, 1.6e-6), (32, 1.6e-6, 1e-6)]


def test_brats_roles(explain):
    """The rate column is `learning_rate` (not `lr`), float32 values such as 0.0010000000474974513."""
    cols = single(explain(BRATS), BRATS)["source"]["columns"]
    assert cols.get("lr") == "learning_rate" and cols.get("train_loss") == "loss", cols
    assert cols.get("val_loss") == "val_loss", cols


def test_brats_all_five_cuts_including_the_clamped_one(explain):
    """ReduceLROnPlateau cuts at epochs 9, 26, 28, 30 (5x) and 32 (1.6x, clamped by min_lr): every one is an event."""
    d = single(explain(BRATS), BRATS)
    assert [e["x"] for e in d["events"]] == [c[0] for c in BRATS_CUTS], describe(d)
    for e, (_, before, after) in zip(d["events"], BRATS_CUTS, strict=False):
        assert lr_close(e["lr_before"], before) and lr_close(e["lr_after"], after), e


def test_brats_schedule_is_piecewise_constant(explain):
    d = single(explain(BRATS), BRATS)
    assert d["schedule"]["kind"] == "step", d["schedule"]
    smooth = [t for t in findings_text(d) if "smooth" in t.lower()]
    assert not smooth, smooth


def test_brats_training_loss_noise_is_not_a_decay_effect(explain):
    """The training loss is noisy and flat after row 5 (0.04288 to 0.06863): its changes at the cuts are noise."""
    d = single(explain(BRATS), BRATS)
    sharp = [x for x in d["drops"] if x["metric"] == "train_loss" and x["event"] is not None and x["sharp"]]
    assert not sharp, f"training-loss noise blamed on a decay: {sharp}"


def test_brats_no_overfitting(explain):
    d = single(explain(BRATS), BRATS)
    assert not findings_text(d, ("overfitting",)), findings_text(d, ("overfitting",))


def test_cars_no_lr_column_and_no_events(explain):
    """Constant 0.001 (Adam default, no scheduler), no LR column: no events, no drop blamed on an LR change."""
    d = single(explain(CARS), CARS)
    assert "lr" not in d["source"]["columns"], d["source"]["columns"]
    assert_smooth(d, CARS)


def test_cars_overfitting_after_epoch_42(explain):
    """Val loss best 0.7170 at row 43 (epoch 42), then wanders up (median 0.7542 over rows 81-100) while the
    training loss keeps falling: overfitting after about epoch 42. The validation loss is already within noise of
    that best from epoch 30 (0.7272; 0.7255 at epoch 32), so a robust reading may start the finding there."""
    d = single(explain(CARS), CARS)
    rows = [f["row"] for f in d["findings"] if f["kind"] == "overfitting"]
    assert any(r is not None and 30 <= r <= 46 for r in rows), [(f["kind"], f["row"]) for f in d["findings"]]


def test_cars_no_advice_to_train_longer(explain):
    """The run overfits: training longer at this rate is not the advice."""
    bad = [t for t in findings_text(single(explain(CARS), CARS)) if LONGER.search(t)]
    assert not bad, bad
