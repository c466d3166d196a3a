"""Hugging Face Trainer trainer_state.json (Whisper large-v2, Common Voice ja), x = step: linear warm-up and decay."""

from __future__ import annotations

import re

from ._checks import LONGER, NO_LR_NEAR, all_text, assert_smooth, findings_text, single

HF = "hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json"
VAL_FELL = re.compile(r"validation loss (?:fell|dropped|decreased|improved|went down)", re.IGNORECASE)


def _doc(explain):
    return single(explain(HF), HF)


def test_roles(explain):
    """Training records carry learning_rate and loss; evaluation records eval_loss (the summary's train_loss is not a
    curve)."""
    cols = _doc(explain)["source"]["columns"]
    assert cols.get("lr") == "learning_rate" and cols.get("train_loss") == "loss", cols
    assert cols.get("val_loss") == "eval_loss", cols


def test_smooth_schedule_has_no_step_event(explain):
    """Warm-up over 500 steps to 1e-5, then linear decay to 0 at step 5000 (logged): smooth, no step event."""
    d = _doc(explain)
    assert_smooth(d, HF)
    assert d["schedule"]["kind"] == "smooth" or any(f["kind"] == "smooth_schedule" for f in d["findings"]), d[
        "schedule"
    ]


def test_never_says_no_rate_change_is_near(explain):
    assert NO_LR_NEAR not in all_text(_doc(explain))


def test_overfitting_is_reported(explain):
    """Eval loss RISES at every evaluation (0.3210 -> 0.4200) while the training loss falls to 0.0002: the model
    overfits during the smooth decay, and the explanation must say so."""
    d = _doc(explain)
    assert findings_text(d, ("overfitting",)), [(f["kind"], f["text"][:80]) for f in d["findings"]]


def test_decay_is_not_credited_with_an_eval_loss_fall(explain):
    d = _doc(explain)
    fell = [t for t in findings_text(d) if VAL_FELL.search(t)]
    assert not fell, fell
    falls = [x for x in d["drops"] if x["metric"] == "val_loss" and x["after"] < x["before"]]
    assert not falls, falls


def test_no_advice_to_train_longer(explain):
    """The model overfits: more steps at this rate are not the advice."""
    bad = [t for t in findings_text(_doc(explain)) if LONGER.search(t)]
    assert not bad, bad
