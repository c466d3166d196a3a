"""Caffe glog logs (lnsmith54/super-convergence), x = iteration; rows are the `Iteration N, loss = X` records."""

from __future__ import annotations

from ._checks import (
    LONGER,
    NO_LR_NEAR,
    all_text,
    assert_smooth,
    close,
    describe,
    event_at,
    lr_close,
    single,
    stage_findings,
    tied,
    unexplained_near,
)

MULTI = "caffe-superconv-cifar10-resnet20-multistep.log"
CLR = "caffe-superconv-cifar10-resnet56-clr-triangular.log"
ROLES = ("lr", "train_loss", "val_loss", "val_acc")


def _multi(explain):
    return single(explain(MULTI), MULTI)


def _within(value, lo, hi):
    return value is not None and lo <= value <= hi


def test_multistep_rows_and_roles(explain):
    """801 display records (N = 0 .. 80000); the test block gives accuracy and loss, the solver the lr."""
    d = _multi(explain)
    assert d["source"]["rows"] == 801, d["source"]
    assert all(r in d["source"]["columns"] for r in ROLES), d["source"]["columns"]


def test_multistep_events_at_iterations_50000_and_70000(explain):
    """The logged lr is 0.035 from row 501 (iteration 50000) and 0.0035 from row 701 (iteration 70000)."""
    d = _multi(explain)
    assert [e["x"] for e in d["events"]] == [50000, 70000], describe(d)
    a, b = d["events"]
    assert lr_close(a["lr_before"], 0.35) and lr_close(a["lr_after"], 0.035), a
    assert lr_close(b["lr_before"], 0.035) and lr_close(b["lr_after"], 0.0035), b


def test_multistep_first_cut_test_loss_fall_is_blamed_on_it(explain):
    """Test loss 1.11415 (row 501, before any update at the new rate) -> 0.579945 (row 502), best 0.467785 (row 506)."""
    d = _multi(explain)
    k = event_at(d, 50000)
    assert k is not None, describe(d)
    drops = tied(d, "val_loss", k)
    assert drops, f"no test-loss fall tied to the cut at 50000: {describe(d)}"
    v = drops[0]
    assert abs(v["x"] - 50000) <= 200, v
    assert close(v["before"], 1.11415), v
    assert _within(v["after"], 0.9 * 0.467785, 1.1 * 0.579945), v


def test_multistep_first_cut_test_accuracy_gain_is_blamed_on_it(explain):
    """Test accuracy 0.78084 (row 501) -> 0.85952 (row 502), best 0.87428 (row 506)."""
    d = _multi(explain)
    k = event_at(d, 50000)
    assert k is not None, describe(d)
    drops = tied(d, "val_acc", k)
    assert drops, f"no test-accuracy gain tied to the cut at 50000: {describe(d)}"
    v = drops[0]
    assert abs(v["x"] - 50000) <= 200 and v["after"] > v["before"], v
    assert close(v["before"], 0.78084) and _within(v["after"], 0.9 * 0.85952, 1.1 * 0.87428), v


def test_multistep_first_cut_train_loss_falls(explain):
    """Single-batch train loss 0.0732314 (row 501) -> 0.0138086 (502) -> 0.00350805 (504)."""
    d = _multi(explain)
    k = event_at(d, 50000)
    assert k is not None, describe(d)
    drops = tied(d, "train_loss", k)
    assert drops and drops[0]["after"] < 0.5 * drops[0]["before"], describe(d)


def test_multistep_second_cut_shows_in_the_test_metrics(explain):
    """Test loss 0.530 (median rows 601-700) -> 0.433301 (row 711), lowest 0.422663; accuracy 0.851 -> 0.8838."""
    d = _multi(explain)
    k = event_at(d, 70000)
    assert k is not None, describe(d)
    loss = tied(d, "val_loss", k)
    assert loss, f"no test-loss fall tied to the cut at 70000: {describe(d)}"
    assert close(loss[0]["before"], 0.530) and _within(loss[0]["after"], 0.9 * 0.422663, 1.1 * 0.433301), loss[0]
    acc = tied(d, "val_acc", k)
    assert acc, f"no test-accuracy gain tied to the cut at 70000: {describe(d)}"
    assert acc[0]["after"] > acc[0]["before"] and close(acc[0]["before"], 0.851), acc[0]
    assert _within(acc[0]["after"], 0.9 * 0.8838, 1.1 * 0.88772), acc[0]


def test_multistep_second_cut_train_loss_shows_no_drop(explain):
    """The train loss shows no drop at the second cut (0.0010314 at row 701, median 0.00102812 over rows 701-801)."""
    d = _multi(explain)
    big = [
        x
        for x in d["drops"]
        if x["metric"] == "train_loss" and abs(x["x"] - 70000) <= 300 and x["after"] < 0.9 * x["before"]
    ]
    assert not big, f"a training-loss drop is claimed at the second cut: {big}"


def test_multistep_no_unexplained_drop_at_the_cuts(explain):
    d = _multi(explain)
    for x in (50000, 70000):
        for m in ("val_loss", "val_acc"):
            assert not unexplained_near(d, m, x, 300), unexplained_near(d, m, x, 300)
    for f in d["findings"]:
        if NO_LR_NEAR in f["text"].lower():
            assert all(abs(f["row"] - r) > 3 for r in (500, 700)), f["text"]


def test_multistep_stage_2_overfits(explain):
    """After row 506 the test loss climbs back and test accuracy slides to about 0.85 while the train loss keeps
    falling to about 0.001: the 0.035 stage (rows 501-700, 0-based 500-699) overfits after its first few records
    (reported where it happens: from row 506, 0-based 505, give or take ten records)."""
    d = _multi(explain)
    found = [f for f in stage_findings(d, 500, 515) if f["kind"] == "overfitting"]
    assert found, [(f["kind"], f["row"]) for f in d["findings"]]


def test_multistep_stage_2_gets_no_advice_to_train_longer(explain):
    d = _multi(explain)
    bad = [f["text"] for f in stage_findings(d, 500, 699) if LONGER.search(f["text"])]
    assert not bad, bad


def test_triangular_is_smooth(explain):
    """Linear per iteration 0.1 -> 3.0 -> 0.158 (consecutive ratios up to 1.58x): no event, no drop blamed on one."""
    d = single(explain(CLR), CLR)
    assert_smooth(d, CLR)
    assert d["schedule"]["kind"] == "smooth" or any(f["kind"] == "smooth_schedule" for f in d["findings"]), d[
        "schedule"
    ]


def test_triangular_reads_the_cut_net_dump_and_roles(explain):
    """glog cut the net dump mid-line; the 101 display records (iterations 0 to 10000) are still the rows."""
    d = single(explain(CLR), CLR)
    assert d["source"]["rows"] == 101, d["source"]
    assert all(r in d["source"]["columns"] for r in ROLES), d["source"]["columns"]


def test_triangular_never_says_no_rate_change_is_near(explain):
    """The rate changes by 0.058 on every row; the late fall is the effect of the descending half of the cycle."""
    assert NO_LR_NEAR not in all_text(single(explain(CLR), CLR))
