"""PyTorch Lightning CSVLogger metrics.csv (sparse rows, one record kind each), x = step: OneCycleLR per batch."""

from __future__ import annotations

from ._checks import NO_LR_NEAR, all_text, assert_smooth, findings_text, per_unit_rates, single

ONECYCLE = "lightning-cifar10-resnet18-onecycle-lr-SGD-metrics.csv"


def _doc(explain):
    return single(explain(ONECYCLE), ONECYCLE)


def test_roles(explain):
    """lr-SGD (LearningRateMonitor), train_loss_step/_epoch, valid_loss, valid_acc."""
    cols = _doc(explain)["source"]["columns"]
    assert cols.get("lr") == "lr-SGD", cols
    assert cols.get("val_loss") == "valid_loss" and cols.get("val_acc") == "valid_acc", cols
    assert cols.get("train_loss") in ("train_loss_step", "train_loss_epoch"), cols


def test_onecycle_is_smooth(explain):
    """The logged lr-SGD equals onecycle(0.1, total=2765) exactly, although consecutive logged rates differ by 3.1x
    and 18.3x near the end: no step event, no drop blamed on one."""
    d = _doc(explain)
    assert_smooth(d, ONECYCLE)
    assert d["schedule"]["kind"] == "smooth" or any(f["kind"] == "smooth_schedule" for f in d["findings"]), d[
        "schedule"
    ]


def test_never_says_no_rate_change_is_near(explain):
    assert NO_LR_NEAR not in all_text(_doc(explain))


def test_rates_are_per_step_not_per_row(explain):
    """Rows are up to 50 steps apart (an epoch is 79 steps): train_loss_epoch ends 0.0504 -> 0.0480 per epoch, about
    0.06 % per step; per-row rates are not per-step rates."""
    text = " ".join(findings_text(_doc(explain)))
    rates = per_unit_rates(text, "step")
    assert all(r <= 1.0 for r in rates), f"per-row rates quoted per step: {rates}"
