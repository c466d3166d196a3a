"""detectron2 metrics.json (JSON lines: iteration, lr, total_loss and its parts, evaluation records), x = iteration."""

from __future__ import annotations

from ._checks import all_text, describe, findings_text, lr_close, per_unit_rates, runs, single

WATER = "detectron2-watermeter-digits-fasterrcnn-multistep-metrics.json"
MINE = "detectron2-mine-maskrcnn-appended-runs-metrics.json"
APPENDED_WORDS = ("append", "restart", "several runs", "segment", "backwards", "goes back", "went back", "resum")


# --- water meters: WarmupMultiStepLR, x0.05 at iterations 1000 and 1500 (logged from iterations 1019 and 1519) ---


def test_watermeter_loss_is_total_loss(explain):
    """total_loss is the loss; loss_cls, loss_box_reg, loss_rpn_* are its parts."""
    d = single(explain(WATER), WATER)
    assert d["source"]["columns"].get("train_loss") == "total_loss", d["source"]["columns"]
    assert d["source"]["rows"] == 90, d["source"]


def test_watermeter_events_at_iterations_1019_and_1519(explain):
    """5e-05 from line 51 (iteration 1019) and 2.5e-06 from line 76 (iteration 1519), 20x each; the warm-up before
    them is not an event."""
    d = single(explain(WATER), WATER)
    assert [e["x"] for e in d["events"]] == [1019, 1519], describe(d)
    a, b = d["events"]
    assert lr_close(a["lr_before"], 0.000999001) and lr_close(a["lr_after"], 5e-05), a
    assert lr_close(b["lr_before"], 5e-05) and lr_close(b["lr_after"], 2.5e-06), b


def test_watermeter_no_sharp_extra_loss_drop_at_the_cuts(explain):
    """total_loss falls about 15 % per 10 lines before the first cut and keeps that pace across it (no sharp extra
    drop); the second cut changes little (0.4261 -> 0.4124)."""
    d = single(explain(WATER), WATER)
    sharp = [
        x
        for x in d["drops"]
        if x["metric"] == "train_loss" and x["sharp"] and min(abs(x["x"] - 1019), abs(x["x"] - 1519)) <= 60
    ]
    assert not sharp, f"a sharp training-loss drop is claimed at a cut: {sharp}"


def test_watermeter_rates_are_per_iteration_not_per_row(explain):
    """Rows are 20 iterations apart; a fall of about 15 % per 10 lines is about 0.08 % per iteration."""
    text = " ".join(findings_text(single(explain(WATER), WATER)))
    rates = per_unit_rates(text, "step") + per_unit_rates(text, "iteration")
    assert all(r <= 0.5 for r in rates), f"per-row rates quoted per step: {rates} in {text[:600]}"


# --- detectron2_mine: several runs appended, no planned decay (SOLVER.STEPS empty) ---


def test_mine_says_runs_are_appended(explain):
    """The iteration goes backwards at lines 2, 16, 17, 18 and 19: several runs are appended, and x restarts."""
    doc = explain(MINE)
    text = all_text(doc)
    assert any(w in text for w in APPENDED_WORDS), f"no note says runs are appended: {text[:600]}"


def test_mine_has_no_decay_event(explain):
    """The restarts' 14x "cuts" (lines 3 and 20, iteration 19) and the line-35 fall (iteration 319, from resuming with
    a new MAX_ITER) are not decays; the rate is constant 0.00025 from line 70."""
    cuts = [(d.get("run"), e) for d in runs(explain(MINE)) for e in d["events"] if e["lr_after"] < e["lr_before"]]
    assert not cuts, cuts


def test_mine_blames_no_drop_on_a_rate_change(explain):
    for d in runs(explain(MINE)):
        assert all(x["event"] is None for x in d["drops"]), describe(d)
        assert not findings_text(d, ("drop",)), findings_text(d, ("drop",))


def test_mine_loss_is_total_loss(explain):
    for d in runs(explain(MINE)):
        assert d["source"]["columns"].get("train_loss") == "total_loss", d["source"]["columns"]


def test_mine_total_loss_has_no_break_at_the_resumes(explain):
    """total_loss falls steadily, with no break at lines 35 (iteration 319) or 70 (iteration 1019)."""
    for d in runs(explain(MINE)):
        near = [
            x
            for x in d["drops"]
            if x["metric"] == "train_loss" and x["sharp"] and min(abs(x["x"] - 319), abs(x["x"] - 1019)) <= 40
        ]
        assert not near, near
