"""Ultralytics YOLOv5 results.csv (space-padded headers, x/lr0..2 per parameter group), x = epoch."""

from __future__ import annotations

from ._checks import NO_LR_NEAR, all_text, assert_smooth, findings_text, single

YOLO = "yolov5-driving-yolov5s-linear-22ep-results.csv"


def _doc(explain):
    return single(explain(YOLO), YOLO)


def test_rows_and_lr_column_is_a_parameter_groups(explain):
    """22 rows; the rate is one of x/lr0, x/lr1, x/lr2 (x/lr0 is the bias group, whose warm-up falls 4.35x)."""
    d = _doc(explain)
    assert d["source"]["rows"] == 22, d["source"]
    cols = d["source"]["columns"]
    assert cols.get("lr") in ("x/lr0", "x/lr1", "x/lr2"), cols
    assert cols.get("train_loss", "").startswith("train/") and cols.get("val_loss", "").startswith("val/"), cols


def test_says_which_groups_rate_is_used(explain):
    """Per-group LR columns: say which group's rate was used."""
    d = _doc(explain)
    lr = d["source"]["columns"].get("lr")
    assert lr and lr.lower() in all_text(d), f"which group's rate was used is not said: {d['notes']}"


def test_warmup_and_linear_decay_are_smooth(explain):
    """Warm-up rows 1-3 (x/lr0 falls while x/lr1 = x/lr2 rise), then linear decay 0.00865 -> 0.001 (ratios up to
    1.45x at the end): nothing is a step, and no drop is blamed on a step change."""
    d = _doc(explain)
    assert_smooth(d, YOLO)
    assert d["schedule"]["kind"] == "smooth" or any(f["kind"] == "smooth_schedule" for f in d["findings"]), d[
        "schedule"
    ]


def test_never_says_no_rate_change_is_near(explain):
    assert NO_LR_NEAR not in all_text(_doc(explain))


def test_no_overfitting(explain):
    """Train box loss 0.0875 -> 0.0318, val box loss 0.0629 -> 0.0344, mAP@0.5 0.227 -> 0.831: no overfitting."""
    d = _doc(explain)
    assert not findings_text(d, ("overfitting",)), findings_text(d, ("overfitting",))
