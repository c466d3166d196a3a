"""DAWNBench TSVs: accuracy-only tables (`epoch hours top1Accuracy [top5Accuracy]`), no loss, no LR; x = the epoch
column."""

from __future__ import annotations

import re

from ._checks import LONGER, close, describe, event_at, single, stage_findings, tied

CIFAR = "dawnbench-cifar10-kervresnet34-multistep-bom-crlf.tsv"
IMAGENET = "dawnbench-imagenet-resnet50-tpu-tf111-epoch0-row.tsv"
VAL_ACC_FELL = re.compile(
    r"validation accuracy[^.;]*\b(?:fell|slid|declin|dropped|got worse|worsen|decreas)", re.IGNORECASE
)


def _roles(d):
    cols = d["source"]["columns"]
    assert cols.get("val_acc") == "top1Accuracy", cols
    assert not {"train_loss", "val_loss", "lr"} & set(cols), f"an accuracy or time column relabelled: {cols}"


def _found(d, truths, tol=2):
    xs = [e["x"] for e in d["events"]]
    missing = [t for t in truths if not any(abs(x - t) <= tol for x in xs)]
    return missing


# --- CIFAR-10 KervResNet34: BOM, CRLF; epochs 1-200 (row = epoch); 0.1/0.01/0.001/0.0001 for 50 epochs each ---


def test_cifar_reads_bom_crlf_and_roles(explain):
    d = single(explain(CIFAR), CIFAR)
    assert d["source"]["rows"] == 200, d["source"]
    _roles(d)


def test_cifar_decays_inferred_at_epochs_51_and_101(explain):
    """0.01 first applies at epoch 51 (top-1 83.96 -> 93.18), 0.001 at 101 (91.35 -> 94.30); the cut at 151 has no
    visible effect (95.13 -> 95.05), so an event there is allowed, not required; no event anywhere else."""
    d = single(explain(CIFAR), CIFAR)
    assert not _found(d, (51, 101)), f"missing decays {_found(d, (51, 101))}: {describe(d)}"
    assert all(min(abs(e["x"] - t) for t in (51, 101, 151)) <= 2 for e in d["events"]), describe(d)


def test_cifar_accuracy_jumps_are_blamed_on_the_decays(explain):
    d = single(explain(CIFAR), CIFAR)
    for x, before, after in ((51, 83.96, 93.18), (101, 91.35, 94.30)):
        k = event_at(d, x, 2)
        assert k is not None, describe(d)
        drops = tied(d, "val_acc", k)
        assert drops and drops[0]["after"] > drops[0]["before"], f"no top-1 gain tied to epoch {x}: {describe(d)}"
        assert close(drops[0]["before"], before) and close(drops[0]["after"], after), drops[0]


def test_cifar_stage_2_slide_is_reported(explain):
    """In stage 2 (epochs 51-100, rows 50-99) top-1 peaks at 94.06 (epoch 56) and slides to 91.35 by epoch 100:
    overfitting at 0.01 (worded as overfitting or as the validation accuracy falling)."""
    d = single(explain(CIFAR), CIFAR)
    found = [f for f in stage_findings(d, 50, 99) if f["kind"] == "overfitting" or VAL_ACC_FELL.search(f["text"])]
    assert found, [(f["kind"], f["row"], f["text"][:60]) for f in d["findings"]]


def test_cifar_stage_2_gets_no_advice_to_train_longer(explain):
    d = single(explain(CIFAR), CIFAR)
    bad = [f["text"] for f in stage_findings(d, 50, 99) if LONGER.search(f["text"])]
    assert not bad, bad


def test_cifar_fourth_stage_adds_nothing(explain):
    """95.13 -> 95.05 at epoch 151; best 95.29 (epoch 192) against 95.20 (epoch 147): no gain to claim."""
    d = single(explain(CIFAR), CIFAR)
    gains = [
        x for x in d["drops"] if x["metric"] == "val_acc" and abs(x["x"] - 151) <= 3 and x["after"] > x["before"] + 0.5
    ]
    assert not gains, gains


# --- ImageNet ResNet-50 TPU: epochs 0-90 (row 1 = epoch 0, before training); 0.4 -> 0.04 / 0.004 / 0.0004 ---


def test_imagenet_x_is_the_epoch_column(explain):
    """Row 1 is epoch 0: counting rows puts every event one row early."""
    d = single(explain(IMAGENET), IMAGENET)
    assert d["source"]["rows"] == 91, d["source"]
    _roles(d)
    assert all(item["x"] == item["row"] for item in d["events"] + d["drops"]), describe(d)


def test_imagenet_decays_inferred_at_epochs_31_61_81(explain):
    """0.04 first applies at epoch 31 (top-1 54.14 -> 69.69), 0.004 at 61 (70.96 -> 75.35), 0.0004 at 81
    (76.19 -> 76.58, small against a flat stage); no event anywhere else."""
    d = single(explain(IMAGENET), IMAGENET)
    assert not _found(d, (31, 61, 81)), f"missing decays {_found(d, (31, 61, 81))}: {describe(d)}"
    assert all(min(abs(e["x"] - t) for t in (31, 61, 81)) <= 2 for e in d["events"]), describe(d)


def test_imagenet_accuracy_jumps_are_blamed_on_the_decays(explain):
    d = single(explain(IMAGENET), IMAGENET)
    for x, before, after in ((31, 54.14, 69.69), (61, 70.96, 75.35)):
        k = event_at(d, x, 2)
        assert k is not None, describe(d)
        drops = tied(d, "val_acc", k)
        assert drops and drops[0]["after"] > drops[0]["before"], f"no top-1 gain tied to epoch {x}: {describe(d)}"
        assert close(drops[0]["before"], before) and close(drops[0]["after"], after), drops[0]
