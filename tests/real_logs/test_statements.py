"""Truths every real log's explanation keeps (issue 16, "Directions and sizes", "Units", the JSON contract).

- `lrscope explain FILE --json` exits 0 with a document of the contract;
- the x axis is the one the contract names for the format, and every event and drop carries its x;
- a metric that rose is never said to have fallen, one that fell is never said to have risen, and "barely moved" is
  never said of a change of more than 5 %.
"""

from __future__ import annotations

import re

import pytest

from ._checks import runs, word_violations

# file -> the x column the contract names for its format
X_NAME = {
    "bearpaw-cifar10-resnet110.tsv": "epoch",
    "bearpaw-cifar100-preresnet110-truncated.tsv": "epoch",
    "bearpaw-cifar10-resnet110-geolr-perbatch-lr-list.tsv": "epoch",
    "szagoruyko-cifar10-wrn40-4-json_stats.log": "epoch",
    "simpleclassification-resnet18-cosine.tfevents": "step",
    "caffe-superconv-cifar10-resnet20-multistep.log": "iteration",
    "caffe-superconv-cifar10-resnet56-clr-triangular.log": "iteration",
    "gluoncv-cifar10-resnet56v1-step.log": "epoch",
    "gluoncv-imagenet-vgg19-step-perbatch-lr.log": "epoch",
    "nanogpt-fineweb-gpt2small-modernarch-warmdown.txt": "step",
    "llmc-fineweb-gpt2small-adamw-warmdown-no-lr-field.log": "step",
    "hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json": "step",
    "detectron2-watermeter-digits-fasterrcnn-multistep-metrics.json": "iteration",
    "detr-coco-conditional-detr-swin-t-lrdrop40-log.jsonl": "epoch",
    "yolov5-driving-yolov5s-linear-22ep-results.csv": "epoch",
    "keras-brats-unet-reducelr-learning_rate-column.csv": "epoch",
    "keras-carbrands-cnn-constant-lr-no-lr-column.csv": "epoch",
    "dawnbench-cifar10-kervresnet34-multistep-bom-crlf.tsv": "epoch",
    "dawnbench-imagenet-resnet50-tpu-tf111-epoch0-row.tsv": "epoch",
    "lightning-cifar10-resnet18-onecycle-lr-SGD-metrics.csv": "step",
    "keras-ecg-resnet-reducelr-epoch_lr.tfevents": "step",
    "detectron2-mine-maskrcnn-appended-runs-metrics.json": "iteration",
    "detr-ecg-two-runs-appended-steplr-log.jsonl": "epoch",
}
FILES = sorted(X_NAME)


def test_every_real_log_is_covered(real_logs):
    on_disk = {p.name for p in real_logs.iterdir() if p.name != "README.md"}
    header_only = {"bearpaw-cifar100-resnet1202-header-only.tsv"}
    assert on_disk - header_only == set(FILES), sorted(on_disk ^ (set(FILES) | header_only))


@pytest.mark.parametrize("name", FILES)
def test_x_axis_is_the_formats_own(explain, name):
    for doc in runs(explain(name)):
        assert doc["source"]["x_name"].lower() == X_NAME[name], doc["source"]
        for item in doc["events"] + doc["drops"]:
            assert isinstance(item.get("x"), (int, float)), item


@pytest.mark.parametrize("name", FILES)
def test_no_nan_loss_is_claimed(explain, name):
    """No loss, error or accuracy value in these logs is NaN (nanoGPT's `step_avg:nanms` is a timing field, the
    water-meter log's NaN is `bbox/APl`), so no finding may say a curve went NaN or diverged."""
    bad = []
    for doc in runs(explain(name)):
        bad += [f["text"] for f in doc["findings"] if re.search(r"\bnan\b|diverged", f["text"], re.IGNORECASE)]
    assert not bad, f"{name}: {bad[:2]}"


@pytest.mark.parametrize("name", FILES)
def test_words_agree_with_the_levels_they_quote(explain, name):
    bad = []
    for doc in runs(explain(name)):
        for f in doc["findings"]:
            bad += word_violations(f["text"])
    assert not bad, f"{name}: verb contradicts the quoted levels: {bad[:3]}"
