"""The reference training loop.  It reads top to bottom: configuration, data, model, optimizer, then the loop.

    config = TrainConfig(data="digits", model="cnn", schedule="multistep(0.1, milestones=[6, 9])", epochs=12)
    train(config, "runs/digits")                # RUN/config.json, RUN/metrics.jsonl, RUN/checkpoints/
    train(config, "runs/digits", resume=True)   # continues from the last checkpoint, bit for bit

Learning rate.  The schedule is a pure function of t (``lrscope.schedules``), t = completed epochs
(``step_unit="epoch"``) or completed optimizer steps (``step_unit="step"``); before each step the loop sets
``param_group["lr"] = lr_scale * s(t)`` (and the momentum, or AdamW's beta1, to ``s.momentum(t)`` for 1cycle).
No scheduler state exists, so a resumed run gets exactly the rates of an uninterrupted one.

Data order.  :func:`epoch_batches` draws the permutation (and any augmentation) from a generator seeded by
(seed, epoch) only, so a probe can replay the data stream of any epoch, and a resumed run sees the same
batches.  A global batch is ``batch_size * world_size`` examples and each rank takes its contiguous slice of
it, so a distributed run with batch B per rank follows a single-process run with batch B * world_size.

Records.  Every step: ``{"kind": "step", "step", "epoch" (fractional), "lr", "loss", ...}``; every epoch:
``{"kind": "epoch", "epoch", "step", "lr", "train_loss" (mean over the epoch's examples), "train_acc",
"val_loss", "val_acc", "epoch_time_s"}``.  Then ``checkpoints/epoch-NNNN.pt`` (``epoch-0000.pt`` holds the
initial weights).

Hooks.  Any object with optional methods ``on_start(state)``, ``after_step(state)``, ``on_epoch_end(state,
record)`` (and ``state_dict()``/``load_state_dict(d)`` to be checkpointed).  ``after_step`` runs after
``optimizer.step()``: the parameters are updated and ``p.grad`` still holds this step's batch gradient.
Per-step results go into ``state.extra`` (a dict): the loop merges it into this step's record, then clears it.
Per-epoch results: add keys to ``record`` in ``on_epoch_end``.  ``state.epoch`` and ``state.step`` always
count *completed* epochs and steps.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..atomic import remove_stale_temporaries
from ..errors import UserError
from ..logs.recorder import Recorder, trim_metrics
from ..logs.rundir import CHECKPOINTS, CONFIG, check_metrics, read_config
from ..validate import check_choice, check_float, check_int, check_seed, unsigned_seed
from . import checkpoint as ckpt
from .data import DataBundle, augment_batch, load_data
from .distributed import init_distributed
from .models import build_model

OPTIMIZERS = ("sgd", "adamw")
STEP_UNITS = ("epoch", "step")
CONFIG_SCHEMA = "lrscope.train-config/1"
MAX_EPOCHS = 1_000_000
MAX_BATCH = 1_000_000
MAX_LR_SCALE = 1e6
MAX_THREADS = 1024  # torch.set_num_threads crashes the process (SIGSEGV) far above what any machine has


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the log and the last good checkpoint are kept."""


@dataclass
class TrainConfig:
    """Everything that defines a run (written to config.json; a run is reproduced from it alone)."""

    data: str = "digits"
    model: str = "cnn"
    schedule: str = "constant(0.1)"
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr_scale: float = 1.0
    momentum: float = 0.9  # SGD momentum; AdamW's beta1
    nesterov: bool = False
    weight_decay: float = 0.0
    beta2: float = 0.999  # AdamW only
    seed: int = 0
    step_unit: str = "epoch"
    label_noise: float = 0.0
    augment: bool = False
    val_fraction: float = 0.2
    noise_every: int = 0
    sharpness_every: int = 0
    keep: int = 0  # checkpoints kept (0 = all)
    threads: int = 0  # torch intra-op threads (0 = torch's default, resolved and recorded at start)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "config.json") -> TrainConfig:
        """Build from a dict (e.g. config.json); keys that are not fields (versions, schema) are ignored.

        Each field must have its type (a string, an integer, a number, true/false; null means the default):
        anything else is a :class:`UserError` naming ``where`` and the field.  Ranges are :meth:`validate`'s.
        """
        if not isinstance(d, dict):
            raise UserError(f"{where} must hold a JSON object of settings; it holds a {type(d).__name__}")
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in d or d[f.name] is None:
                continue
            value, kind, name = d[f.name], type(f.default), f"{where}: {f.name!r}"
            if kind is bool:
                if not isinstance(value, bool):
                    raise UserError(f"{name} must be true or false; got {value!r:.40}")
            elif kind is int:
                value = check_int(name, value)
            elif kind is float:
                value = check_float(name, value)
            elif not isinstance(value, str):
                raise UserError(f"{name} must be a string; got {value!r:.40}")
            values[f.name] = value
        return cls(**values)

    def validate(self) -> None:
        """Raise UserError naming the first bad field (by its command-line flag) and its range."""
        self.epochs = check_int("--epochs", self.epochs, low=1, high=MAX_EPOCHS)
        self.batch_size = check_int("--batch-size", self.batch_size, low=1, high=MAX_BATCH)
        check_choice("--optimizer", self.optimizer, OPTIMIZERS)
        check_choice("--step-unit", self.step_unit, STEP_UNITS)
        self.momentum = check_float("--momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        self.beta2 = check_float("beta2", self.beta2, low=0.0, high=1.0, high_open=True)
        self.weight_decay = check_float("--weight-decay", self.weight_decay, low=0.0, high=1e3)
        self.lr_scale = check_float("--lr-scale", self.lr_scale, low=0.0, low_open=True, high=MAX_LR_SCALE)
        self.seed = check_seed("--seed", self.seed)
        self.label_noise = check_float("--label-noise", self.label_noise, low=0.0, high=1.0, high_open=True)
        self.val_fraction = check_float("--val-fraction", self.val_fraction, low=0.0, high=1.0, low_open=True,
                                        high_open=True)
        self.noise_every = check_int("--noise-every", self.noise_every, low=0, high=10**9)
        self.sharpness_every = check_int("--sharpness-every", self.sharpness_every, low=0, high=10**9)
        self.keep = check_int("--keep", self.keep, low=0, high=MAX_EPOCHS + 1)
        self.threads = check_int("--threads", self.threads, low=0, high=MAX_THREADS)
        for name in ("nesterov", "augment"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"--{name} must be true or false; got {getattr(self, name)!r}")
        for name in ("data", "model", "schedule"):
            if not isinstance(getattr(self, name), str):
                raise UserError(f"--{name} must be text; got {getattr(self, name)!r}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise UserError("--nesterov needs --optimizer sgd with momentum > 0")
        parse_schedule_spec(self.schedule)


def parse_schedule_spec(spec: str):
    from ..schedules import parse_schedule

    return parse_schedule(spec)


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


# ---------------------------------------------------------------- data order


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed that depends only on (seed, epoch)."""
    return int(
        np.random.SeedSequence([unsigned_seed(seed), int(epoch)]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


def steps_per_epoch(bundle: DataBundle, batch_size: int, world_size: int = 1) -> int:
    return math.ceil(bundle.n_train / (batch_size * world_size))


def epoch_batches(
    bundle: DataBundle, batch_size: int, seed: int, epoch: int, *, rank: int = 0, world_size: int = 1
):
    """This rank's (x, y) for each global batch of ``epoch`` (0-based); depends only on (seed, epoch)."""
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    order = torch.randperm(bundle.n_train, generator=generator)
    global_batch = batch_size * world_size
    for start in range(0, bundle.n_train, global_batch):
        idx = order[start : start + global_batch]
        x, y = bundle.train_x[idx], bundle.train_y[idx]
        if bundle.augment:
            x = augment_batch(x, generator, flip=bundle.is_image and bundle.input_shape[0] == 3)
        if world_size > 1:
            share = math.ceil(len(idx) / world_size)
            x, y = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]
        yield x, y


# ---------------------------------------------------------------- pieces


def data_and_model(config: TrainConfig) -> tuple[DataBundle, nn.Module]:
    """The data a config names (its split, label noise, augmentation) and a freshly initialised model for it
    (drawn from torch's global RNG: seed first)."""
    bundle = load_data(
        config.data,
        seed=config.seed,
        val_fraction=config.val_fraction,
        label_noise=config.label_noise,
        augment=config.augment,
    )
    return bundle, build_model(config.model, bundle.input_shape, bundle.num_classes)


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum, nesterov, weight decay) or AdamW; the rate is set by the loop before every step."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=0.0,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
        )
    return torch.optim.AdamW(
        model.parameters(), lr=0.0, betas=(config.momentum, config.beta2), weight_decay=config.weight_decay
    )


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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


def config_hooks(config: TrainConfig) -> list:
    """The probes a config asks for, constructed lazily (their modules import only when asked for)."""
    hooks = []
    if config.noise_every > 0:
        try:
            from ..probes.noise import NoiseHook
        except ImportError as error:
            raise UserError(
                f"--noise-every needs lrscope.probes.noise, which is not available ({error})"
            ) from None
        hooks.append(NoiseHook(every=config.noise_every))
    if config.sharpness_every > 0:
        try:
            from ..probes.curvature import SharpnessHook
        except ImportError as error:
            raise UserError(
                f"--sharpness-every needs lrscope.probes.curvature.SharpnessHook, which is not "
                f"available ({error})"
            ) from None
        hooks.append(SharpnessHook(every=config.sharpness_every))
    return hooks


def _call(hooks, name: str, *args) -> None:
    for hook in hooks:
        method = getattr(hook, name, None)
        if method is not None:
            method(*args)


def _hook_states(hooks) -> dict:
    return {
        f"{i}:{type(h).__name__}": h.state_dict() for i, h in enumerate(hooks) if hasattr(h, "state_dict")
    }


# ---------------------------------------------------------------- the run directory


def prepare_run_dir(out: Path, config: TrainConfig, resume: bool, *, world_size: int = 1,
                    writer: bool = True) -> dict | None:
    """Refuse an existing directory unless resuming; when resuming, return the last checkpoint (or None).

    Every rank of a distributed run calls this before anything is written; only the ``writer`` (rank 0)
    tidies the directory.  A resumed run must keep its global batch (``batch_size * world_size``): 2 ranks
    of 32 may continue 1 process of 64, not 2 ranks of 64.
    """
    if not resume:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"{out} already exists; use --resume to continue that run, or choose a new --out")
        return None
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is not a directory")
    # Everything is read and checked before anything is touched: a resume never replaces what it cannot read.
    stored = read_config(out) if out.is_dir() else {}  # a dict, or UserError (not JSON, not an object)
    if stored:
        differ = [
            f"{k} (run: {stored[k]!r}, now: {v!r})"
            for k, v in config.to_dict().items()
            if k in stored and k not in ("epochs", "keep", "threads") and stored[k] != v
        ]
        if differ:
            raise UserError(
                f"cannot resume {out}: the settings differ from its {CONFIG}: {'; '.join(differ)}"
            )
        stored_global = (stored.get("distributed") or {}).get("global_batch", stored.get("batch_size"))
        if stored_global is not None and stored_global != config.batch_size * world_size:
            raise UserError(
                f"cannot resume {out}: its global batch was {stored_global}, now it would be "
                f"{config.batch_size} x {world_size} processes = {config.batch_size * world_size}"
            )
    try:
        check_metrics(out)  # every line a record (a torn last line is allowed: the resume cuts it off)
    except UserError as error:
        raise UserError(f"cannot resume {out}: {error}; lrscope will not rewrite a file it cannot read") from None
    checkpoints = ckpt.list_checkpoints(out)
    state = None
    if checkpoints:
        path = checkpoints[max(checkpoints)]
        state = ckpt.load_checkpoint(path)  # never runs code from the file; lrscope's keys and types checked
        state["path"] = path
        if state["epoch"] > config.epochs:
            raise UserError(f"{out} already has {state['epoch']} epochs; --epochs {config.epochs} is fewer")
    for folder in (out, out / CHECKPOINTS) if writer else ():  # a write killed half-way left its temporary
        remove_stale_temporaries(folder)
    return state


# ---------------------------------------------------------------- training


def train(config: TrainConfig, out_dir: str | Path, *, resume: bool = False, hooks=()) -> Path:
    """Train ``config`` into ``out_dir`` (with ``resume``, continue from its last checkpoint); return it.

    The run sets torch's thread count and deterministic algorithms for itself; the caller's settings come back
    afterwards (a notebook that trains keeps its own).
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        return _train(config, out_dir, resume=resume, hooks=hooks)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _train(config: TrainConfig, out_dir: str | Path, *, resume: bool, hooks) -> Path:
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    config.validate()
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
    optimizer = make_optimizer(config, model)
    loss_fn = nn.CrossEntropyLoss()
    hooks = [*hooks, *config_hooks(config)]
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

    from ..console import progress

    with recorder, progress() as bar:
        task = bar.add_task(
            f"train {out.name}", total=config.epochs * n_steps, completed=epoch * n_steps, status="",
            visible=dist.is_main,
        )
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
                if step % 8 == 0 or i + 1 == n_steps:
                    bar.update(task, completed=epoch * n_steps + i + 1, status=f"loss {loss_value:.3f}")

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
