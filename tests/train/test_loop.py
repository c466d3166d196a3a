"""The loop: records and checkpoints, per-step schedules, determinism, resume, hooks, divergence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lrscope.errors import UserError
from lrscope.logs.rundir import METRICS, read_metrics
from lrscope.train import checkpoint as ckpt
from lrscope.train.config import TrainConfig
from lrscope.train.loop import TrainingDiverged, train

from .tiny import TINY, all_records, epochs_without_time


def test_a_run_writes_config_metrics_and_checkpoints(tmp_path):
    run = train(TrainConfig(**TINY), tmp_path / "run")
    epochs = read_metrics(run, "epoch")
    steps = read_metrics(run, "step")
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert [r["lr"] for r in epochs] == pytest.approx([0.1, 0.1, 0.01])
    for key in ("step", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s"):
        assert all(isinstance(r[key], (int, float)) for r in epochs), key
    assert len(steps) == epochs[-1]["step"] == 3 * 6
    assert steps[5]["epoch"] == pytest.approx(1.0) and steps[6]["lr"] == pytest.approx(0.1)
    assert epochs[0]["train_loss"] == pytest.approx(np.mean([s["loss"] for s in steps[:6]]), rel=0.05)
    assert sorted(ckpt.list_checkpoints(run)) == [0, 1, 2, 3]
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 0 and config["schedule"] == TINY["schedule"] and "torch" in config["versions"]
    assert TrainConfig.from_dict(config) == TrainConfig(**TINY)


def test_per_step_schedule_and_adamw_with_onecycle_momentum(tmp_path):
    config = TrainConfig(
        **{**TINY, "schedule": "onecycle(0.01, total=18)", "step_unit": "step", "optimizer": "adamw"}
    )
    run = train(config, tmp_path / "run")
    from lrscope.schedules import parse_schedule

    s = parse_schedule(config.schedule)
    assert [r["lr"] for r in read_metrics(run, "step")] == pytest.approx([float(s(t)) for t in range(18)])
    state = ckpt.load_checkpoint(ckpt.list_checkpoints(run)[3])
    assert state["optimizer"]["param_groups"][0]["betas"][0] == pytest.approx(float(s.momentum(17)))


def test_same_seed_same_bits_other_seed_other_bits(tmp_path):
    a = train(TrainConfig(**TINY), tmp_path / "a")
    b = train(TrainConfig(**TINY), tmp_path / "b")
    c = train(TrainConfig(**{**TINY, "seed": 1}), tmp_path / "c")
    assert all_records(a) == all_records(b)
    assert epochs_without_time(a) != epochs_without_time(c)


def test_stop_then_resume_equals_the_uninterrupted_run(tmp_path):
    ref = train(TrainConfig(**{**TINY, "augment": True, "label_noise": 0.1}), tmp_path / "ref")
    part = train(TrainConfig(**{**TINY, "augment": True, "label_noise": 0.1, "epochs": 1}), tmp_path / "part")
    # a crash after epoch 2's records but before its checkpoint, with a torn line at the end
    with open(part / METRICS, "ab") as f:
        f.write(b'{"kind": "epoch", "epoch": 2, "lr": 0.1, "train_loss": 9.9}\n{"kind": "step", "st')
    train(TrainConfig(**{**TINY, "augment": True, "label_noise": 0.1}), part, resume=True)
    assert all_records(part) == all_records(ref)


def test_resume_without_checkpoint_starts_from_scratch(tmp_path):
    ref = train(TrainConfig(**TINY), tmp_path / "ref")
    fresh = train(TrainConfig(**TINY), tmp_path / "new", resume=True)
    assert all_records(fresh) == all_records(ref)


def test_resume_with_other_settings_is_refused(tmp_path):
    run = train(TrainConfig(**{**TINY, "epochs": 1}), tmp_path / "run")
    with pytest.raises(UserError, match="batch_size"):
        train(TrainConfig(**{**TINY, "batch_size": 16}), run, resume=True)


def test_hooks_see_the_state_and_add_to_records(tmp_path):
    class Hook:
        def __init__(self):
            self.started = False
            self.steps = []

        def on_start(self, state):
            self.started = state.step == 0 and state.model is not None

        def after_step(self, state):
            self.steps.append(state.step)
            assert all(p.grad is not None for p in state.model.parameters())
            state.extra["probe"] = state.step * 2

        def on_epoch_end(self, state, record):
            record["hook_epoch"] = state.epoch

    hook = Hook()
    run = train(TrainConfig(**TINY), tmp_path / "run", hooks=[hook])
    assert hook.started and hook.steps == list(range(1, 19))
    assert [r["probe"] for r in read_metrics(run, "step")] == [2 * s for s in range(1, 19)]
    assert [r["hook_epoch"] for r in read_metrics(run, "epoch")] == [1, 2, 3]


def test_a_config_that_asks_for_probes_is_refused_without_hooks(tmp_path):
    with pytest.raises(UserError, match=r"noise_every=2.*hooks_for\(config\)"):
        train(TrainConfig(**{**TINY, "noise_every": 2}), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_nan_loss_stops_the_run_and_keeps_log_and_checkpoint(tmp_path):
    config = TrainConfig(**{**TINY, "schedule": "multistep(1e9, milestones=[100])", "momentum": 0.0})
    with pytest.raises(TrainingDiverged, match="diverged"):
        train(config, tmp_path / "run")
    steps = read_metrics(tmp_path / "run", "step")
    assert steps and steps[-1]["loss"] is None
    assert 0 in ckpt.list_checkpoints(tmp_path / "run")


def test_train_gives_back_the_callers_torch_settings(tmp_path):
    """A run sets its own thread count and deterministic algorithms; a notebook that trains keeps its own."""

    from lrscope.train.loop import TrainConfig, train

    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(2)
    try:
        train(TrainConfig(data="synthetic:n=120,dim=4,classes=2", model="mlp", schedule="constant(0.1)", epochs=1,
                          threads=1), tmp_path / "run")
        assert torch.get_num_threads() == 2 and torch.are_deterministic_algorithms_enabled() == before[1]
    finally:
        torch.set_num_threads(before[0])
