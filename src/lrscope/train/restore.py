"""Bring a run of the reference runner back to life at any of its checkpoints (for what-if, landscape, ...).

    run = load_run("runs/digits", epoch=6)    # model and optimizer as they were after 6 completed epochs
    run.model, run.optimizer, run.bundle, run.lr, run.schedule

``lr`` is the rate used in that epoch (the value in its epoch record): ``s(epoch - 1)`` for a per-epoch
schedule, the rate of the epoch's last step for a per-step one.  Epoch 0 is the initial model (``lr`` is then
``s(0)``).

Nothing in the run directory is trusted: the checkpoint is read without unpickling code
(:func:`lrscope.train.checkpoint.load_checkpoint`), its config is type-checked, and its model and optimizer
states must fit the model and optimizer that config names; otherwise one line says which file and what is wrong.

A run whose model or data came from the user's code (``PKG.MODULE:FACTORY``) is rebuilt only when the caller names
the same factory again (``load_run(run, model="mymodels:make")``, ``--model`` on the command line): lrscope never
imports a module named only by a run directory (:func:`lrscope.train.factories.require_named`).  Data rebuilt by a
factory must have the sizes the run recorded (examples, input shape, classes), or the run is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import UserError
from ..logs.rundir import require_run_dir
from . import checkpoint as ckpt
from . import factories
from .config import TrainConfig, data_and_model, make_optimizer, parse_schedule_spec
from .data import DataBundle, check_same_data


@dataclass
class LoadedRun:
    run_dir: Path
    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    bundle: DataBundle
    loss_fn: nn.Module
    schedule: Any
    epoch: int
    step: int
    lr: float
    checkpoint: Path
    rng: dict
    hooks: dict

    def lr_at(self, t: int) -> float:
        """The run's rate at schedule time t (completed epochs or steps, by ``config.step_unit``)."""
        return float(self.schedule(t)) * self.config.lr_scale


def load_run(run_dir: str | Path, epoch: int | None = None, *, model: str | None = None,
             data: str | None = None) -> LoadedRun:
    """The run at checkpoint ``epoch`` (default: the last), model in train mode, optimizer state loaded.

    ``model``/``data``: the ``--model``/``--data`` the user gave (None = not given); a run built by a factory
    needs the same reference here, and one that differs from the run's is refused."""
    run_dir = require_run_dir(run_dir)
    checkpoints = ckpt.list_checkpoints(run_dir)
    if not checkpoints:
        raise UserError(f"{run_dir} has no checkpoints (it was not written by `lrscope train`)")
    if epoch is None:
        epoch = max(checkpoints)
    if int(epoch) not in checkpoints:
        raise UserError(
            f"{run_dir} has no checkpoint for epoch {epoch}; available: {', '.join(map(str, checkpoints))}"
        )
    path = checkpoints[int(epoch)]
    state = ckpt.load_checkpoint(path)  # never runs code from the file; checked for lrscope's keys and types
    config = TrainConfig.from_dict(state["config"], where=f"the config in checkpoint {path}")
    config.validate()
    factories.require_named(str(run_dir), config.model, config.data, model=model, data=data)
    bundle, net = data_and_model(config)
    if factories.is_factory(config.data, "--data"):
        check_same_data(bundle, state["config"].get("data_info"), f"{run_dir}'s data")
    ckpt.fit_model(net, state["model"], path, config.model)
    net.train()
    optimizer = make_optimizer(config, net)
    ckpt.fit_optimizer(optimizer, state["optimizer"], path, config.optimizer)
    schedule = parse_schedule_spec(config.schedule)
    done_epochs, done_steps = int(state["epoch"]), int(state["step"])
    if config.step_unit == "epoch":
        t = max(done_epochs - 1, 0)
    else:
        t = max(done_steps - 1, 0)
    lr = float(schedule(t)) * config.lr_scale
    for group in optimizer.param_groups:
        group["lr"] = lr
    return LoadedRun(
        run_dir=Path(run_dir),
        config=config,
        model=net,
        optimizer=optimizer,
        bundle=bundle,
        loss_fn=nn.CrossEntropyLoss(),
        schedule=schedule,
        epoch=done_epochs,
        step=done_steps,
        lr=lr,
        checkpoint=path,
        rng=state["rng"],
        hooks=state.get("hooks", {}),
    )

