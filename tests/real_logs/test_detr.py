"""DETR-style log.txt (JSON lines with train_lr, train_loss, test_loss, ...), x = epoch.

Before/after levels are compared within 10 % of the README's two points, or of the 5-record median on that side
(lrscope's levels are robust medians, and test_loss is spiky).
"""

from __future__ import annotations

import json
import statistics

import pytest

from ._checks import (
    LONGER,
    MANY,
    NO_LR_NEAR,
    close,
    describe,
    event_at,
    lr_close,
    runs,
    single,
    stage_findings,
    tied,
    unexplained_near,
)

COCO = "detr-coco-conditional-detr-swin-t-lrdrop40-log.jsonl"
ECG = "detr-ecg-two-runs-appended-steplr-log.jsonl"


def _records(real_logs, name):
    return [json.loads(line) for line in (real_logs / name).read_text().splitlines() if line.strip()]


def _level_ok(value, point, values, side):
    """value within 10 % of the README's point or of the 5-record median on that side of the cut."""
    window = values[-5:] if side == "before" else values[:5]
    return close(value, point) or close(value, statistics.median(window))


def _check_drop(drop, key, records, first, before, after):
    """first: 0-based index of the first record at the new rate in `records` (one run's records)."""
    vals = [r[key] for r in records]
    assert _level_ok(drop["before"], before, vals[:first], "before"), (drop, before)
    assert _level_ok(drop["after"], after, vals[first:], "after"), (drop, after)
    assert drop["after"] < drop["before"], drop


# --- Conditional DETR (Swin-T) on COCO: StepLR lr_drop 40, 1e-4 -> 1e-5 from epoch 40, the only change ---


def test_coco_one_event_at_epoch_40(explain):
    d = single(explain(COCO), COCO)
    assert [e["x"] for e in d["events"]] == [40], describe(d)
    assert lr_close(d["events"][0]["lr_before"], 1e-4) and lr_close(d["events"][0]["lr_after"], 1e-5)


def test_coco_roles(explain):
    cols = single(explain(COCO), COCO)["source"]["columns"]
    assert cols.get("lr") == "train_lr" and cols.get("train_loss") == "train_loss", cols
    assert cols.get("val_loss") == "test_loss", cols


@pytest.mark.parametrize(
    "metric, key, before, after",
    [("train_loss", "train_loss", 8.7568, 8.3182), ("val_loss", "test_loss", 8.2276, 7.7311)],
)
def test_coco_drops_are_blamed_on_the_decay(explain, real_logs, metric, key, before, after):
    """Row 41: train_loss 8.7568 -> 8.3182 (-5.0 %), test_loss 8.2276 -> 7.7311 (-6.0 %): both blamed on the decay."""
    d = single(explain(COCO), COCO)
    k = event_at(d, 40)
    assert k is not None, describe(d)
    drops = tied(d, metric, k)
    assert drops, f"no {metric} drop tied to the decay at epoch 40: {describe(d)}"
    _check_drop(drops[0], key, _records(real_logs, COCO), 40, before, after)


def test_coco_drops_at_the_decay_are_not_unexplained(explain):
    d = single(explain(COCO), COCO)
    assert not unexplained_near(d, None, 40, 2), unexplained_near(d, None, 40, 2)
    for f in d["findings"]:
        if NO_LR_NEAR in f["text"].lower():
            assert abs(f["row"] - 40) > 3, f["text"]


# --- ECG: two runs appended (lines 1-100 epoch 0-99, lines 101-300 epoch 0-199) ---

# (run index, epoch, first record index within the run, lr before, lr after)
ECG_CUTS = [(0, 40, 40, 1e-3, 3e-4), (0, 80, 80, 3e-4, 9e-5), (1, 80, 80, 1e-3, 2.5e-4), (1, 160, 160, 2.5e-4, 6.25e-5)]
ECG_DROPS = {
    (0, 40): {"train_loss": (2.1152, 1.8693), "val_loss": (1.9203, 1.2172)},
    (0, 80): {"train_loss": (1.8205, 1.6926), "val_loss": (1.6934, 1.2906)},
    (1, 80): {"train_loss": (1.9741, 1.6779), "val_loss": (2.1007, 1.4874)},
    (1, 160): {"train_loss": (1.9711, 1.7970), "val_loss": (2.0764, 1.3266)},
}
KEYS = {"train_loss": "train_loss", "val_loss": "test_loss"}


def _ecg_run(explain, which):
    """The run document of run A (0) or run B (1), told apart by its first lr cut (x0.3 in A, x0.25 in B)."""
    for d in runs(explain(ECG)):
        for e in d["events"]:
            if which == 0 and lr_close(e["lr_after"], 3e-4, 1e-3):
                return d
            if which == 1 and lr_close(e["lr_after"], 2.5e-4, 1e-3):
                return d
    return None


def test_ecg_is_split_into_its_two_runs(explain):
    """Run A is lines 1-100 (100 rows), run B lines 101-300 (200 rows); merging them by epoch splices two runs."""
    doc = explain(ECG)
    assert doc["schema"] == MANY, f"one run where two are appended: {describe(doc)}"
    got = [(d["source"]["rows"], list(d["source"].get("records", []))) for d in doc["runs"]]
    assert got == [(100, [1, 100]), (200, [101, 300])], got
    assert all(d.get("run") for d in doc["runs"]), [d.get("run") for d in doc["runs"]]


def test_ecg_events_of_both_runs(explain):
    """Run A: 1e-3, x0.3 at epochs 40 and 80; run B: 1e-3, x0.25 at epochs 80 and 160 (logged)."""
    for which in (0, 1):
        d = _ecg_run(explain, which)
        assert d is not None, f"run {'AB'[which]} not found: {[describe(r) for r in runs(explain(ECG))]}"
        cuts = [c for c in ECG_CUTS if c[0] == which]
        assert [e["x"] for e in d["events"]] == [c[1] for c in cuts], describe(d)
        for e, (_, _, _, before, after) in zip(d["events"], cuts, strict=False):
            assert lr_close(e["lr_before"], before) and lr_close(e["lr_after"], after), e


def test_ecg_restart_is_not_an_increase(explain):
    """Line 101 (9e-5 -> 1e-3) is the start of run B, not an increase; nothing in either run is raised."""
    raises = [e for d in runs(explain(ECG)) for e in d["events"] if e["lr_after"] > e["lr_before"]]
    assert not raises, raises


@pytest.mark.parametrize("cut", [c[:2] for c in ECG_CUTS], ids=lambda c: f"run{'AB'[c[0]]}-epoch{c[1]}")
@pytest.mark.parametrize("metric", ["train_loss", "val_loss"])
def test_ecg_drops_are_blamed_on_the_decays(explain, real_logs, cut, metric):
    """Line 41 train 2.1152 -> 1.8693, test 1.9203 -> 1.2172; line 81 train 1.8205 -> 1.6926, test 1.6934 -> 1.2906;
    line 181 train 1.9741 -> 1.6779, test 2.1007 -> 1.4874; line 261 train 1.9711 -> 1.7970, test 2.0764 -> 1.3266:
    all four are blamed on the decays."""
    which, epoch = cut
    d = _ecg_run(explain, which)
    assert d is not None, f"run {'AB'[which]} not found"
    k = event_at(d, epoch)
    assert k is not None, describe(d)
    drops = tied(d, metric, k)
    assert drops, f"no {metric} drop tied to run {'AB'[which]}'s cut at epoch {epoch}: {describe(d)}"
    recs = _records(real_logs, ECG)
    recs = recs[:100] if which == 0 else recs[100:]
    before, after = ECG_DROPS[cut][metric]
    _check_drop(drops[0], KEYS[metric], recs, epoch, before, after)


def test_ecg_single_test_loss_spikes_are_noise(explain):
    """test_loss spikes (6.0975 at line 75 = run A epoch 74, 4.3667 at line 176 = run B epoch 75, 3.6243 at line 253 =
    run B epoch 152) are noise: the fall back after a spike is no drop."""
    for which, spikes in ((0, (74,)), (1, (75, 152))):
        d = _ecg_run(explain, which)
        assert d is not None, f"run {'AB'[which]} not found"
        for s in spikes:
            near = unexplained_near(d, "val_loss", s + 1, 1)
            assert not near, f"run {'AB'[which]}: spike at epoch {s} reported as a drop: {near}"


def test_ecg_run_b_middle_stage_degrades(explain):
    """In run B's middle stage (epochs 80-159) the training loss climbs back from 1.5840 (epoch 87) to a median 1.9658
    (epochs 150-159): the stage degrades, so it gets no advice to train longer, and the rise is said."""
    d = _ecg_run(explain, 1)
    assert d is not None, "run B not found"
    k0, k1 = event_at(d, 80), event_at(d, 160)
    assert k0 is not None and k1 is not None, describe(d)
    first, last = d["events"][k0]["row"], d["events"][k1]["row"] - 1
    found = stage_findings(d, first, last)
    bad = [f["text"] for f in found if LONGER.search(f["text"])]
    assert not bad, bad
    rise = ("rose", "rising", "rises", "climb", "got worse", "getting worse", "degrad", "increas")
    said = [t for t in (f["text"].lower() for f in found) if "training loss" in t and any(w in t for w in rise)]
    assert said, [f["text"] for f in found]
