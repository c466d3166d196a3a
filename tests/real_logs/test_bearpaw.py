"""bearpaw/pytorch-classification TSV logs (README table; no x column: x = data row N counted from 1)."""

from __future__ import annotations

import json

from ._checks import (
    NO_LR_NEAR,
    all_text,
    close,
    describe,
    event_at,
    findings_text,
    lr_close,
    single,
    tied,
    unexplained_near,
)

R110 = "bearpaw-cifar10-resnet110.tsv"
TRUNC = "bearpaw-cifar100-preresnet110-truncated.tsv"
HEADER = "bearpaw-cifar100-resnet1202-header-only.tsv"
GEOLR = "bearpaw-cifar10-resnet110-geolr-perbatch-lr-list.tsv"


def test_resnet110_events_at_rows_82_and_123(explain):
    """0.1 / 0.01 / 0.001; data rows 82 and 123 are the first at the new rate (logged: exact)."""
    d = single(explain(R110), R110)
    assert [e["x"] for e in d["events"]] == [82, 123], describe(d)
    (a, b) = d["events"]
    assert lr_close(a["lr_before"], 0.1) and lr_close(a["lr_after"], 0.01), a
    assert lr_close(b["lr_before"], 0.01) and lr_close(b["lr_after"], 0.001), b


def test_resnet110_first_decay_halves_training_loss(explain):
    """At the first tenfold decay the training loss roughly halves within one epoch: 0.162 -> 0.081."""
    d = single(explain(R110), R110)
    k = event_at(d, 82)
    assert k is not None, describe(d)
    drops = tied(d, "train_loss", k)
    assert drops, f"no training-loss drop blamed on the decay at 82: {describe(d)}"
    assert close(drops[0]["before"], 0.162) and close(drops[0]["after"], 0.081), drops[0]


def test_resnet110_first_decay_validation_accuracy_jumps(explain):
    """Validation accuracy jumps 88.6 % -> 92.7 % at the first decay."""
    d = single(explain(R110), R110)
    k = event_at(d, 82)
    assert k is not None, describe(d)
    drops = tied(d, "val_acc", k)
    assert drops, f"no validation-accuracy gain blamed on the decay at 82: {describe(d)}"
    v = drops[0]
    assert v["after"] > v["before"] and close(v["before"], 88.6) and close(v["after"], 92.7), v


def test_resnet110_no_unexplained_drop_at_the_decays(explain):
    d = single(explain(R110), R110)
    for x in (82, 123):
        near = unexplained_near(d, None, x, 2)
        assert not near, f"drop near the decay at {x} blamed on nothing: {near}"
    for f in d["findings"]:
        if NO_LR_NEAR in f["text"].lower():
            assert all(abs(f["row"] - r) > 3 for r in (81, 122)), f["text"]


def test_truncated_run_has_no_decay_and_no_drop_to_explain(explain):
    """The run stopped after 54 rows, before any decay: there is no drop to explain."""
    d = single(explain(TRUNC), TRUNC)
    assert d["events"] == [], describe(d)
    assert all(x["event"] is None for x in d["drops"]), describe(d)
    assert any(f["kind"] == "no_decay" for f in d["findings"]), [f["kind"] for f in d["findings"]]
    assert not findings_text(d, ("drop",)), findings_text(d, ("drop",))


def test_header_only_is_one_clear_no_data_line(explain_proc):
    proc = explain_proc(HEADER, "--json")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no data" in lines[0].lower(), proc.stderr
    assert proc.stdout.strip() == ""


def test_per_batch_lr_lists_are_summarised_with_a_warning_or_refused(explain_proc):
    """The learning-rate cell is a Python list of per-batch rates: summarise it (said in a warning) or refuse it."""
    proc = explain_proc(GEOLR, "--json")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        doc = json.loads(proc.stdout)
        told = all_text(doc) + proc.stderr.lower()
        if single(doc, GEOLR)["source"]["columns"].get("lr") == "Learning Rate":
            assert "list" in told, "per-batch lists summarised without saying so"
        else:
            assert "learning rate" in told, f"the list column was dropped silently: {doc['source']}"
    else:
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "Learning Rate" in lines[0], proc.stderr
