"""szagoruyko/wide-residual-networks `json_stats: {...}` log (README table): 0.1, x0.2 at epochs 60, 120, 160."""

from __future__ import annotations

from ._checks import NO_LR_NEAR, describe, lr_close, single, tied, unexplained_near

WRN = "szagoruyko-cifar10-wrn40-4-json_stats.log"
CUTS = [(60, 0.1, 0.02), (120, 0.02, 0.004), (160, 0.004, 0.0008)]


def test_events_at_epochs_60_120_160(explain):
    """The `"epoch":60` line is the first at 0.02 (lr logged: exact)."""
    d = single(explain(WRN), WRN)
    assert [e["x"] for e in d["events"]] == [x for x, _, _ in CUTS], describe(d)
    for e, (_, before, after) in zip(d["events"], CUTS, strict=False):
        assert lr_close(e["lr_before"], before) and lr_close(e["lr_after"], after), e
        assert e["source"] == "logged", e


def test_roles(explain):
    d = single(explain(WRN), WRN)
    cols = d["source"]["columns"]
    assert cols.get("lr") == "lr" and cols.get("train_loss") == "loss" and cols.get("val_acc") == "test_acc", cols


def test_training_loss_drops_are_blamed_on_each_decay(explain):
    d = single(explain(WRN), WRN)
    for k, (x, _, _) in enumerate(CUTS):
        drops = tied(d, "train_loss", k)
        assert drops and drops[0]["after"] < drops[0]["before"], f"no training-loss fall tied to the cut at {x}: " + (
            describe(d)
        )
        assert abs(drops[0]["x"] - x) <= 2, drops[0]


def test_no_drop_near_a_decay_is_called_unexplained(explain):
    d = single(explain(WRN), WRN)
    for x, _, _ in CUTS:
        assert not unexplained_near(d, None, x, 2), unexplained_near(d, None, x, 2)
    for f in d["findings"]:
        if NO_LR_NEAR in f["text"].lower():
            assert all(abs(f["row"] - (x - 1)) > 3 for x, _, _ in CUTS), f["text"]
