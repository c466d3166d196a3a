"""Decays inferred from the curves alone: recall and precision on the real logs in ../shared/data/real-logs.

Logs that log the rate are read with the project's readers and explained with the rate column removed
(``RunLog.without("lr")``); logs with no rate and a known schedule are explained as they are; smooth-schedule
logs (rate removed) and runs with no decay must give no inferred event.  The truth is the README's: every cut
of 2x or more counts for precision, and the ones whose effect is visible in the curves (README truth) count
for recall; an inferred event matches a cut within +-2 rows of the cut's first row.  A log whose reader raises
a UserError (not written yet, roles not recognised) is listed as skipped.

    .venv/bin/python bench/bench_infer_decays.py [REAL_LOGS_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_LOGS = ROOT.parent / "shared" / "data" / "real-logs"
TOL_ROWS = 2


@dataclass(frozen=True)
class Truth:
    """One log (or one run of it, by 1-based line range) and its cuts, as x values of the first row at the
    new rate: all cuts of 2x or more, and the visible ones."""

    name: str
    cuts: tuple[float, ...] = ()
    visible: tuple[float, ...] = ()
    lines: tuple[int, int] | None = None  # a run appended to others: its lines, read on their own
    kind: str = "step"  # "step": decays to find; "none": no decay; "smooth": a smooth schedule


TRUTH = (
    # logs that log the rate, explained without it
    Truth("bearpaw-cifar10-resnet110.tsv", (82, 123), (82, 123)),
    Truth("szagoruyko-cifar10-wrn40-4-json_stats.log", (60, 120, 160), (60, 120, 160)),
    Truth("caffe-superconv-cifar10-resnet20-multistep.log", (50000, 70000), (50000, 70000)),
    Truth("detr-coco-conditional-detr-swin-t-lrdrop40-log.jsonl", (40,), (40,)),
    Truth("detr-ecg-two-runs-appended-steplr-log.jsonl", (40, 80), (40, 80), lines=(1, 100)),
    Truth("detr-ecg-two-runs-appended-steplr-log.jsonl", (80, 160), (80, 160), lines=(101, 300)),
    # the cuts after row 10 move val loss by < 0.0006 and the training loss is flat noise (README); the first
    # is a -3.7 % val-loss step within a falling trend: none is visible
    Truth("keras-brats-unet-reducelr-learning_rate-column.csv", (9, 26, 28, 30)),
    # the fall after the cut continues the pace before it
    Truth("keras-ecg-resnet-reducelr-epoch_lr.tfevents", (17,)),
    # total_loss keeps its pace across the first cut; the second changes little
    Truth("detectron2-watermeter-digits-fasterrcnn-multistep-metrics.json", (1019, 1519)),
    Truth("gluoncv-imagenet-vgg19-step-perbatch-lr.log", (50, 80), (50, 80)),
    # logs with no rate and a known schedule
    Truth("gluoncv-cifar10-resnet56v1-step.log", (100, 150), (100, 150)),
    Truth("dawnbench-cifar10-kervresnet34-multistep-bom-crlf.tsv", (51, 101, 151), (51, 101)),  # 151: no gain
    Truth("dawnbench-imagenet-resnet50-tpu-tf111-epoch0-row.tsv", (31, 61, 81), (31, 61, 81)),
    # no decay at all
    Truth("keras-carbrands-cnn-constant-lr-no-lr-column.csv", kind="none"),
    Truth("bearpaw-cifar100-preresnet110-truncated.tsv", kind="none"),
    Truth("detectron2-mine-maskrcnn-appended-runs-metrics.json", kind="none", lines=(20, 119)),
    # smooth schedules, rate removed
    Truth("simpleclassification-resnet18-cosine.tfevents", kind="smooth"),
    Truth("lightning-cifar10-resnet18-onecycle-lr-SGD-metrics.csv", kind="smooth"),
    Truth("yolov5-driving-yolov5s-linear-22ep-results.csv", kind="smooth"),
    Truth("hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json", kind="smooth"),
    Truth("llmc-fineweb-gpt2small-adamw-warmdown-no-lr-field.log", kind="smooth"),
    Truth("nanogpt-fineweb-gpt2small-modernarch-warmdown.txt", kind="smooth"),
    Truth("caffe-superconv-cifar10-resnet56-clr-triangular.log", kind="smooth"),
)


@dataclass
class Row:
    label: str
    found: list[float]  # x of the inferred events
    hits: int  # visible cuts matched
    visible: int
    good: int  # inferred events that match a cut
    skipped: str = ""


def _read(truth: Truth, logs: Path, tmp: Path):
    from lrscope.logs.read import read_log

    path = logs / truth.name
    if truth.lines is not None:
        a, b = truth.lines
        text = path.read_text(encoding="utf-8").splitlines()[a - 1 : b]
        path = tmp / f"{a}-{b}-{truth.name}"
        path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return read_log(path)


def measure(logs: Path = REAL_LOGS) -> list[Row]:
    """One row per truth entry: what explain infers with the rate column removed."""
    from lrscope.analysis.explain import explain
    from lrscope.errors import UserError

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in TRUTH:
            label = t.name if t.lines is None else f"{t.name} (lines {t.lines[0]}-{t.lines[1]})"
            try:
                log = _read(t, logs, Path(tmp))
            except (UserError, OSError) as exc:
                out.append(Row(label, [], 0, 0, 0, skipped=str(exc).splitlines()[0][-90:]))
                continue
            log = log.without("lr")
            events = explain(log).events
            x = log.x
            cut_rows = [int(np.searchsorted(x, c - 1e-9)) for c in t.cuts]
            vis_rows = [int(np.searchsorted(x, c - 1e-9)) for c in t.visible]
            rows = [e.row for e in events]
            hits = sum(any(abs(r - c) <= TOL_ROWS for r in rows) for c in vis_rows)
            good = sum(any(abs(r - c) <= TOL_ROWS for c in cut_rows) for r in rows)
            out.append(Row(label, [float(e.x) for e in events], hits, len(vis_rows), good))
    return out


def totals(rows: list[Row]) -> tuple[int, int, int, int]:
    """(visible cuts found, visible cuts, inferred events that match a cut, inferred events)."""
    read = [r for r in rows if not r.skipped]
    return (
        sum(r.hits for r in read),
        sum(r.visible for r in read),
        sum(r.good for r in read),
        sum(len(r.found) for r in read),
    )


def main() -> None:
    logs = Path(sys.argv[1]) if len(sys.argv) > 1 else REAL_LOGS
    rows = measure(logs)
    print(f"{'log':78} {'recall':>7} {'correct':>8}  inferred at x")
    for r in rows:
        if r.skipped:
            print(f"{r.label[:78]:78} {'skipped':>7} {'':>8}  {r.skipped}")
            continue
        print(f"{r.label[:78]:78} {r.hits:>3}/{r.visible:<3} {r.good:>4}/{len(r.found):<3}  {r.found}")
    hit, vis, good, found = totals(rows)
    print(
        f"total: recall {hit}/{vis} = {hit / max(vis, 1):.0%}, precision {good}/{found} = {good / max(found, 1):.0%}"
        f" ({sum(1 for r in rows if r.skipped)} skipped)"
    )


if __name__ == "__main__":
    main()
