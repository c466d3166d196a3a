"""The trials a sweep plans: one per combination, unique names, bad input refused before any trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrscope.errors import UserError
from lrscope.train.sweep import plan_trials

pytest.importorskip("ray")


def test_one_trial_per_combination_with_unique_names(tmp_path):
    trials = plan_trials(["constant(0.1)", "cosine(0.1, total=3)"], [0, 1], data="digits", model="mlp",
                         epochs=3, out_dir=tmp_path, lr_scales=[0.5, 1.0], batch_sizes=[32], momentum=0.0)
    assert len(trials) == 8 and len({t.name for t in trials}) == 8
    assert {(t.schedule, t.seed, t.lr_scale) for t in trials} == {
        (s, seed, x) for s in ("constant(0.1)", "cosine(0.1, total=3)") for seed in (0, 1) for x in (0.5, 1.0)}
    t = trials[0]
    assert Path(t.run_dir) == tmp_path.resolve() / "runs" / t.name and "-lrx0.5" in t.name
    assert t.config["batch_size"] == 32 and t.config["momentum"] == 0.0 and t.config["epochs"] == 3


def test_bad_input_fails_before_any_trial(tmp_path):
    with pytest.raises(UserError, match="unknown schedule"):
        plan_trials(["constant(0.1)", "nonsense(1)"], [0], data="digits", model="mlp", epochs=1, out_dir=tmp_path)
    with pytest.raises(UserError, match="--seed is given the same value twice"):
        plan_trials(["constant(0.1)"], [3, 3], data="digits", model="mlp", epochs=1, out_dir=tmp_path)
    with pytest.raises(UserError, match="at least one --schedule"):
        plan_trials([], [0], data="digits", model="mlp", epochs=1, out_dir=tmp_path)
