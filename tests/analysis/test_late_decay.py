"""A decay in the last row of a log is still an event; its effect is "too late to judge"."""

from __future__ import annotations

import numpy as np

from lrscope.analysis.explain import explain
from lrscope.logs.runlog import build_runlog


def _explained(lr, loss):
    columns = {"epoch": np.arange(1, len(lr) + 1, dtype=float), "lr": np.array(lr), "train_loss": np.array(loss)}
    return explain(build_runlog(columns, path="mem", fmt="csv", notes=[]))


def test_a_cut_in_the_last_row_is_listed_and_too_late_to_judge():
    result = _explained([0.1, 0.1, 0.01], [0.7, 0.65, 0.3])
    assert [(e["x"], e["lr_before"], e["lr_after"]) for e in result.to_json()["events"]] == [(3.0, 0.1, 0.01)]
    drops = [f.text for f in result.findings if f.kind == "drop"]
    assert len(drops) == 1 and "too late to judge" in drops[0] and "epoch 3" in drops[0]
    assert "credited" not in drops[0]


def test_a_cut_with_rows_after_it_is_judged():
    result = _explained([0.1] * 10 + [0.01] * 10, [1.0 - 0.005 * k for k in range(10)] + [0.5] * 10)
    drops = [f.text for f in result.findings if f.kind == "drop"]
    assert drops and all("too late" not in t for t in drops)


def test_a_one_row_stage_is_named_by_its_one_epoch():
    text = " ".join(f.text for f in _explained([0.1, 0.1, 0.01], [0.7, 0.65, 0.3]).findings)
    assert "epoch 3-3" not in text and "epoch 3," in text
