"""The reference training loop.  It reads top to bottom: configuration, data, model, optimizer, then the loop.

    config = TrainConfig(data="digits", model="cnn", schedule="multistep(0.1, milestones=[6, 9])", epochs=12)
    train(config, "runs/digits")                # RUN/config.json, RUN/metrics.jsonl, RUN/checkpoints/
    train(config, "runs/digits", resume=True)   # continues from the last checkpoint, bit for bit

Learning rate.  The schedule is a pure function of t (``lrscope.schedules``), t = completed epochs
(``step_unit="epoch"``) or completed optimizer steps (``step_unit="step"``); before each step the loop sets
``param_group["lr"] = lr_scale * s(t)`` (and the momentum, or AdamW's beta1, to ``s.momentum(t)`` for 1cycle).
No scheduler state exists, so a resumed run gets exactly the rates of an uninterrupted one.

Data order.  Each epoch's batches come from :func:`lrscope.train.data.epoch_batches`, which depends only on
(seed, epoch): a resumed run and a probe replaying an epoch see the same batches.

Records.  Every step: ``{"kind": "step", "step", "epoch" (fractional), "lr", "loss", ...}``; every epoch:
``{"kind": "epoch", "epoch", "step", "lr", "train_loss" (mean over the epoch's examples), "train_acc",
"val_loss", "val_acc", "epoch_time_s"}``.  Then ``checkpoints/epoch-NNNN.pt`` (``epoch-0000.pt`` holds the
initial weights).

Hooks.  Any object with optional methods ``on_start(state)``, ``after_step(state)``, ``on_epoch_end(state,
record)`` (and ``state_dict()``/``load_state_dict(d)`` to be checkpointed).  ``after_step`` runs after
``optimizer.step()``: the parameters are updated and ``p.grad`` still holds this step's batch gradient.
Per-step results go into ``state.extra`` (a dict): the loop merges it into this step's record, then clears it.
Per-epoch results: add keys to ``record`` in ``on_epoch_end``.  ``state.epoch`` and ``state.step`` always
count *completed* epochs and steps.  The loop builds no hooks of its own: the probes a config asks for
(``noise_every``, ``sharpness_every``) come from the caller, built by :func:`lrscope.probes.hooks.hooks_for`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..console import Progress, quiet
from ..errors import UserError
from ..logs.recorder import Recorder, trim_metrics
from . import checkpoint as ckpt
from .config import CONFIG_SCHEMA, TrainConfig, data_and_model, make_optimizer, parse_schedule_spec, seed_everything
from .data import DataBundle, check_same_data, epoch_batches, steps_per_epoch
from .distributed import init_distributed
from .factories import is_factory
from .resume import prepare_run_dir

# where other code imports them from (the loop uses them too)
__all__ = ["TrainConfig", "TrainState", "TrainingDiverged", "data_and_model", "epoch_batches", "make_optimizer",
           "seed_everything", "train"]


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the log and the last good checkpoint are kept."""


@dataclass
class TrainState:
    """What hooks see.  ``epoch`` and ``step`` count completed epochs and steps."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: nn.Module
    bundle: DataBundle
    config: TrainConfig
    schedule: Any
    recorder: Recorder
    run_dir: Path
    epoch: int = 0
    step: int = 0
    lr: float = 0.0
    batch: tuple | None = None
    loss: float = math.nan
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- pieces


def schedule_time(config: TrainConfig, epoch: int, step: int) -> int:
    """t for the schedule: completed epochs or completed steps."""
    return epoch if config.step_unit == "epoch" else step


def apply_schedule(optimizer, schedule, config: TrainConfig, t: int) -> float:
    """Set the rate (and 1cycle's momentum) for the next step; return the rate."""
    lr = float(schedule(t)) * config.lr_scale
    momentum_fn = getattr(schedule, "momentum", None)
    momentum = momentum_fn(t) if callable(momentum_fn) else None
    for group in optimizer.param_groups:
        group["lr"] = lr
        if momentum is not None:
            if "betas" in group:
                group["betas"] = (float(momentum), group["betas"][1])
            else:
                group["momentum"] = float(momentum)
    return lr


@torch.no_grad()
def evaluate(
    model: nn.Module, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024
) -> tuple[float, float]:
    """(mean loss, accuracy) over (x, y) in eval mode; the model's mode is restored."""
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        logits = model(x[start : start + batch_size])
        target = y[start : start + batch_size]
        total += float(loss_fn(logits, target)) * len(target)
        correct += int((logits.argmax(1) == target).sum())
    model.train(was_training)
    return total / len(y), correct / len(y)


def _hooks_given(config: TrainConfig, hooks: list | None) -> list:
    """The caller's hooks as a list; None where the config asks for probes is refused (they would silently
    not be measured)."""
    if hooks is not None:
        return list(hooks)
    asked = [f"{name}={getattr(config, name)}" for name in ("noise_every", "sharpness_every")
             if getattr(config, name) > 0]
    if asked:
        raise UserError(f"the config asks for probes ({', '.join(asked)}) but train() was given no hooks to "
                        "measure them; pass hooks=hooks_for(config) from lrscope.probes.hooks")
    return []


def _call(hooks, name: str, *args) -> None:
    for hook in hooks:
        method = getattr(hook, name, None)
        if method is not None:
            method(*args)


def _hook_states(hooks) -> dict:
    return {
        f"{i}:{type(h).__name__}": h.state_dict() for i, h in enumerate(hooks) if hasattr(h, "state_dict")
    }


# ---------------------------------------------------------------- training


def train(config: TrainConfig, out_dir: str | Path, *, resume: bool = False, hooks: list | None = None,
          progress: Progress = quiet) -> Path:
    """Train ``config`` into ``out_dir`` (with ``resume``, continue from its last checkpoint); return it.

    ``hooks``: the objects called at the loop's named points (module docstring), in a fixed order (a resumed
    run must get the same list: each hook's saved state goes back to the hook at its place).  A config that
    asks for probes (``noise_every``, ``sharpness_every``) needs them among the hooks:
    ``hooks=hooks_for(config)`` (:mod:`lrscope.probes.hooks`); with no hooks at all it is refused.

    ``progress``: called as ``progress(steps done, steps in all, status)`` on rank 0 every few steps (a
    :func:`lrscope.console.track` bar in the jobs; silent by default).

    The run sets torch's thread count and deterministic algorithms for itself; the caller's settings come back
    afterwards (a notebook that trains keeps its own).
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        return _train(config, out_dir, resume=resume, hooks=hooks, progress=progress)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _train(config: TrainConfig, out_dir: str | Path, *, resume: bool, hooks, progress: Progress) -> Path:
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    config.validate()
    hooks = _hooks_given(config, hooks)
    schedule = parse_schedule_spec(config.schedule)
    out = Path(out_dir)
    dist = init_distributed()  # one process: a context whose every method is a no-op
    start = prepare_run_dir(out, config, resume, world_size=dist.world_size, writer=dist.is_main)
    dist.barrier()  # no rank looks at the directory after rank 0 has started writing to it
    if start is not None and start["epoch"] >= config.epochs:  # finished: nothing is trained, nothing written
        if dist.is_main:  # one line, unwrapped (a Rich console would wrap it at the terminal's width)
            print(f"{out}: the run already has all {config.epochs} epochs; nothing to do", file=sys.stderr)
        return out
    if start is not None:
        saved = TrainConfig.from_dict(start["config"], where=f"the config in checkpoint {start['path']}")
        if start["config"].get("threads") is not None:  # the thread count the run started with, recorded
            config = dataclasses.replace(config, threads=saved.threads)

    # same threads and deterministic kernels, so the same seed gives the same bits (and a resume matches)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    config = dataclasses.replace(config, threads=torch.get_num_threads())
    torch.use_deterministic_algorithms(True, warn_only=True)

    seed_everything(config.seed)
    bundle, model = data_and_model(config)
    if start is not None and is_factory(config.data, "--data"):  # your code may now return other data
        check_same_data(bundle, start["config"].get("data_info"), f"the data of {out}")
    optimizer = make_optimizer(config, model)
    loss_fn = nn.CrossEntropyLoss()
    n_steps = steps_per_epoch(bundle, config.batch_size, dist.world_size)

    epoch, step = 0, 0
    if start is not None:  # checked to fit before anything is written to the run directory
        ckpt.fit_model(model, start["model"], start["path"], config.model)
        ckpt.fit_optimizer(optimizer, start["optimizer"], start["path"], config.optimizer)
        epoch, step = int(start["epoch"]), int(start["step"])
        for key, hook_state in start.get("hooks", {}).items():
            i = int(key.split(":")[0])
            if i < len(hooks) and hasattr(hooks[i], "load_state_dict"):
                try:
                    hooks[i].load_state_dict(hook_state)
                except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as error:
                    raise UserError(f"checkpoint {start['path']}: the saved state of hook {key} does not load "
                                    f"({type(error).__name__}: {' '.join(str(error).split())[:160]})") from None
    document = {
        "schema": CONFIG_SCHEMA,
        **config.to_dict(),
        "data_info": {
            "n_train": bundle.n_train,
            "n_val": int(bundle.val_y.shape[0]),
            "input_shape": list(bundle.input_shape),
            "num_classes": bundle.num_classes,
            "steps_per_epoch": n_steps,
            "notes": bundle.notes,
        },
    }
    if dist.active:
        document["distributed"] = {"world_size": dist.world_size, "backend": dist.backend,
                                   "global_batch": config.batch_size * dist.world_size}
    if resume and dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        trim_metrics(out, epoch=epoch, step=step)
    # sync="wait": the epoch record is on disk before the checkpoint that follows it; rank 0 alone writes
    recorder = Recorder(out, config=document, mode="append" if resume else "new", sync="wait",
                        enabled=dist.is_main)
    net = dist.wrap(model)  # DDP under torchrun (gradients averaged over ranks), else the model itself
    if start is None and dist.is_main:
        ckpt.save_checkpoint(
            out,
            epoch=0,
            step=0,
            model=model,
            optimizer=optimizer,
            config=document,
            hooks=_hook_states(hooks),
            keep=0,
        )
    elif start is not None:
        ckpt.set_rng_state(start["rng"])

    state = TrainState(
        model=model,
        optimizer=optimizer,
        loss_fn=loss_fn,
        bundle=bundle,
        config=config,
        schedule=schedule,
        recorder=recorder,
        run_dir=out,
        epoch=epoch,
        step=step,
    )
    _call(hooks, "on_start", state)

    total = config.epochs * n_steps
    if dist.is_main:  # one bar for the run: rank 0's
        progress(epoch * n_steps, total, "")
    with recorder:
        while epoch < config.epochs:
            model.train()
            started = time.perf_counter()
            loss_sum, correct, seen = 0.0, 0, 0
            batches = epoch_batches(bundle, config.batch_size, config.seed, epoch, rank=dist.rank,
                                    world_size=dist.world_size)
            for i, (x, y) in enumerate(batches):
                lr = apply_schedule(optimizer, schedule, config, schedule_time(config, epoch, step))
                x, y = x.to(dist.device), y.to(dist.device)
                n_global = dist.global_batch_size(bundle.n_train, config.batch_size, i)
                logits = net(x)
                loss = dist.batch_loss(loss_fn, logits, y, n_global)
                hits = int((logits.argmax(1) == y).sum())
                # the mean loss over the global batch (each rank's batch_loss is scaled to average to it)
                loss_value, hits = dist.sum(loss.item() / dist.world_size, hits) if dist.active else (
                    loss.item(), hits)
                if not math.isfinite(loss_value):
                    recorder.step(step=step + 1, epoch=epoch + (i + 1) / n_steps, lr=lr, loss=loss_value)
                    recorder.flush(sync=True)
                    last = max(ckpt.list_checkpoints(out), default=None)
                    raise TrainingDiverged(
                        f"training diverged: the loss is {loss_value} at step {step + 1} (epoch {epoch + 1}, "
                        f"lr {lr:g}); stopped. The log and the last good checkpoint (epoch {last}) "
                        f"are kept in {out}"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                loss_sum += loss_value * n_global
                correct += int(hits)
                seen += n_global

                state.step, state.lr, state.batch, state.loss = step, lr, (x, y), loss_value
                _call(hooks, "after_step", state)
                recorder.step(
                    step=step, epoch=epoch + (i + 1) / n_steps, lr=lr, loss=loss_value, **state.extra
                )
                state.extra.clear()
                if (step % 8 == 0 or i + 1 == n_steps) and dist.is_main:
                    progress(epoch * n_steps + i + 1, total, f"loss {loss_value:.3f}")

            epoch += 1
            # every rank holds the same weights after the step, so each evaluates the whole validation set
            val_loss, val_acc = evaluate(model, loss_fn, bundle.val_x.to(dist.device), bundle.val_y.to(dist.device))
            record = {
                "epoch": epoch,
                "step": step,
                "lr": lr,
                "train_loss": loss_sum / seen,
                "train_acc": correct / seen,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "epoch_time_s": time.perf_counter() - started,
            }
            state.epoch = epoch
            _call(hooks, "on_epoch_end", state, record)
            recorder.epoch(**record)
            if not dist.is_main:
                continue
            # record first, checkpoint second: a kill in between makes the resume redo this epoch's record
            ckpt.save_checkpoint(
                out,
                epoch=epoch,
                step=step,
                model=model,
                optimizer=optimizer,
                config=document,
                hooks=_hook_states(hooks),
                keep=config.keep,
            )
    dist.barrier()  # every rank returns once rank 0's last checkpoint is on disk
    return out
