"""A run brought back at one of its checkpoints."""

from __future__ import annotations

import pytest
import torch

from lrscope.errors import UserError
from lrscope.train import checkpoint as ckpt
from lrscope.train.config import TrainConfig
from lrscope.train.loop import train
from lrscope.train.restore import load_run

from .tiny import TINY


def test_load_run_restores_a_checkpoint(tmp_path):
    run = train(TrainConfig(**TINY), tmp_path / "run")
    loaded = load_run(run, epoch=2)
    state = ckpt.load_checkpoint(ckpt.list_checkpoints(run)[2])
    assert loaded.epoch == 2 and loaded.step == 12 and loaded.lr == pytest.approx(0.1)
    assert all(torch.equal(a, state["model"][k]) for k, a in loaded.model.state_dict().items())
    assert load_run(run).epoch == 3 and load_run(run).lr == pytest.approx(0.01)
    with pytest.raises(UserError, match="no checkpoint for epoch 7"):
        load_run(run, epoch=7)
