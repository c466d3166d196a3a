"""A tiny run of the reference runner, and its records compared without their timing fields."""

from __future__ import annotations

import json

from lrscope.logs.rundir import METRICS, read_metrics

TINY = dict(
    data="synthetic:n=240,dim=8,classes=3",
    model="mlp",
    schedule="multistep(0.1, milestones=[2])",
    epochs=3,
    batch_size=32,
    threads=1,
)


def epochs_without_time(run):
    return [{k: v for k, v in r.items() if "time" not in k} for r in read_metrics(run, "epoch")]


def all_records(run):
    out = []
    for line in (run / METRICS).read_text().splitlines():
        r = json.loads(line)
        out.append({k: v for k, v in r.items() if "time" not in k})
    return out
