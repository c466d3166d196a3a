"""lrscope inside a Lightning fit: record the run, explain it afterwards, and run the LR range test on the
LightningModule's own ``training_step``.

    from lrscope.integrations.lightning import LRScopeCallback, find_lr

    result = find_lr(trainer, module, datamodule)            # the module and the RNGs come back untouched
    result.apply(optimizer)                                  # or read result.suggestion
    trainer = pl.Trainer(max_epochs=30, callbacks=[LRScopeCallback("runs/exp1", report=True)])
    trainer.fit(module, datamodule)                          # runs/exp1: metrics.jsonl, explain.json, report.html

Importing this module needs Lightning (``pip install "lrscope[lightning]"``); ``import lrscope`` never imports it.

The recorded rate is the rate the optimizer *used*.  Lightning steps an epoch-interval scheduler at the end of
the epoch's last batch, before ``on_train_epoch_end``, so the optimizer's rate read there is already the next
epoch's; the callback reads the rate in ``on_train_batch_start`` instead, before the batch's optimizer step.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..jobs.explain import explain_run
from ..jobs.report import report_job
from ..logs import rundir
from ..logs.recorder import Recorder, trim_metrics
from ..probes.finder import check_sweep_settings
from ..probes.finder import find_lr as _range_test
from ..probes.state import rng_state, set_rng_state
from ..schedules.torch import ScheduleLR
from ..validate import check_int
from . import require

pl = require("lightning.pytorch", "lightning")
from lightning.pytorch.utilities import rank_zero_warn  # noqa: E402 - only once require() has said it is there

__all__ = ["LRScopeCallback", "find_lr"]

# names an epoch record sets itself: a validation metric logged under one of them is not copied over it
_RESERVED = frozenset({"kind", "epoch", "step", "lr", "lr_groups", "train_loss", "loss"})


# ---------------------------------------------------------------- plain values for config.json


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready plain values: numbers, strings, lists, dicts; anything else by its repr (or its
    type's name when the repr is long), so hyper-parameters holding modules or tensors stay readable."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, torch.Tensor):
        return _plain(value.item()) if value.numel() == 1 else f"tensor of shape {list(value.shape)}"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if depth < 8 and isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, depth + 1) for v in value]
    text = repr(value)
    return text if len(text) <= 200 else type(value).__name__


def _strategy_name(strategy) -> str:
    return str(getattr(type(strategy), "strategy_name", None) or type(strategy).__name__)


def _driving_scheduler(trainer):
    """The scheduler config that drives the first optimizer (else the first one); None without schedulers."""
    configs = list(trainer.lr_scheduler_configs or [])
    first = trainer.optimizers[0] if trainer.optimizers else None
    for config in configs:
        if getattr(config.scheduler, "optimizer", None) is first:
            return config
    return configs[0] if configs else None


def _batch_size(trainer) -> int | None:
    """Examples behind one optimizer step: the loader's batch size x devices x accumulated batches."""
    loader = getattr(trainer, "train_dataloader", None)
    size = getattr(loader, "batch_size", None)
    if not isinstance(size, int) or size < 1:
        return None
    return size * max(1, int(trainer.world_size)) * max(1, int(trainer.accumulate_grad_batches))


def run_config(trainer, module) -> dict:
    """config.json of a Lightning run: the module, its hparams, the trainer's settings, the optimizers and the
    schedule (its spec and step unit for a :class:`~lrscope.schedules.torch.ScheduleLR`)."""
    optimizers = list(trainer.optimizers)
    config: dict[str, Any] = {
        "source": "lightning",
        "module": type(module).__name__,
        "hparams": _plain(dict(getattr(module, "hparams", {}) or {})),
        "trainer": {
            "max_epochs": trainer.max_epochs,
            "max_steps": trainer.max_steps,
            "accumulate_grad_batches": trainer.accumulate_grad_batches,
            "precision": str(trainer.precision),
            "world_size": trainer.world_size,
            "strategy": _strategy_name(trainer.strategy),
        },
        # "optimizer" is the class name, as in the reference runner's config (the noise-floor model reads it)
        "optimizer": type(optimizers[0]).__name__ if optimizers else None,
        "optimizers": [{"class": type(o).__name__, "defaults": _plain(o.defaults)} for o in optimizers],
    }
    if isinstance(trainer.max_epochs, int) and trainer.max_epochs > 0:
        config["epochs"] = trainer.max_epochs
    if optimizers and "momentum" in optimizers[0].defaults:
        config["momentum"] = _plain(optimizers[0].param_groups[0].get("momentum", optimizers[0].defaults["momentum"]))
    batch_size = _batch_size(trainer)
    if batch_size is not None:
        config["batch_size"] = batch_size
    scheduler = _driving_scheduler(trainer)
    if scheduler is not None and isinstance(scheduler.scheduler, ScheduleLR):
        # Lightning's interval is what really happens, whatever unit the ScheduleLR was declared with
        config["schedule"] = scheduler.scheduler.schedule.spec
        config["step_unit"] = "step" if scheduler.interval == "step" else "epoch"
    elif scheduler is not None:
        config["scheduler"] = type(scheduler.scheduler).__name__
        config["scheduler_interval"] = scheduler.interval
    return config


# ---------------------------------------------------------------- reading what a fit holds


def _rates(trainer) -> list[float]:
    """Every param group's rate in the first optimizer (what the coming optimizer step will use)."""
    if not trainer.optimizers:
        return []
    return [float(group["lr"]) for group in trainer.optimizers[0].param_groups]


def _batch_loss(outputs, scale: int) -> torch.Tensor | None:
    """The loss of one training batch from ``on_train_batch_end``'s outputs (a tensor or a dict holding "loss"),
    times ``scale``: under automatic optimization Lightning hands on the loss divided by accumulate_grad_batches."""
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        return None
    loss = loss.detach().reshape(()).float()
    return loss * scale if scale != 1 else loss


def _scalar(value) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value.item()) if value.numel() == 1 else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def _refusal(run_dir: Path) -> str | None:
    """Why a new fit may not record into ``run_dir`` (None when it may)."""
    if run_dir.exists() and not run_dir.is_dir():
        return f"{run_dir} is a file, not a run directory; give LRScopeCallback a directory"
    metrics = run_dir / rundir.METRICS
    if metrics.exists() and metrics.stat().st_size > 0:
        return (f"{run_dir} already holds a run ({rundir.METRICS} exists); choose a new directory for "
                "LRScopeCallback, or resume that fit with trainer.fit(..., ckpt_path=...) to append to it")
    if (run_dir / rundir.CONFIG).exists() and not metrics.exists():
        # the Recorder writes the two together: this config.json is someone else's (a model's, a tool's)
        return (f"{run_dir} holds a {rundir.CONFIG} that is not an lrscope run's (no {rundir.METRICS} beside it); "
                "choose a new directory for LRScopeCallback")
    return None


# ---------------------------------------------------------------- the callback


class LRScopeCallback(pl.Callback):
    """Record a Lightning fit into an lrscope run directory; explain it (and draw its report) when it ends.

    ``run_dir`` gets config.json (see :func:`run_config`) and metrics.jsonl:

    - a step record every ``log_every_n_steps`` optimizer steps (under gradient accumulation steps, not
      batches): ``step`` = trainer.global_step after the step, ``epoch`` = epoch + (batch_idx + 1) /
      num_training_batches, ``lr`` = the rate that step used, ``loss`` = the mean loss of its batches;
    - an epoch record at each ``on_train_epoch_end``: ``epoch`` (1-based), ``step``, ``lr`` = the rate of the
      epoch's last optimizer step (every step's rate under an epoch scheduler), ``train_loss`` = the mean of
      the epoch's training-step losses, and the scalar metrics the epoch's last validation logged (``val_loss``,
      ``val_acc`` and any other under its own name); an epoch without validation (check_val_every_n_epoch > 1,
      no val loader) gets none, not the stale ones of an earlier epoch.  With several param groups ``lr`` is
      the first group's and ``lr_groups`` lists all.

    A directory that already holds metrics is refused (UserError in ``on_fit_start``, before anything runs)
    unless the fit resumes from a checkpoint (``ckpt_path``): then the records after the checkpoint's epoch and
    step are dropped and the run continues in the same file.  Only global rank 0 writes.  When the fit ends
    the recorder is closed, then ``explain.json`` (``explain=True``) and ``report.html`` (``report=True``) are
    written; a run they cannot use (too few records) gives a warning, never a failed fit.  A fit that raises
    closes the recorder too, so the file stays consistent.
    """

    def __init__(self, run_dir: str | os.PathLike, explain: bool = True, report: bool = False,
                 log_every_n_steps: int = 1) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.explain = bool(explain)
        self.report = bool(report)
        self.log_every_n_steps = check_int("log_every_n_steps", log_every_n_steps, low=1)
        self._recorder: Recorder | None = None
        self._resuming = False
        self._checked = False
        self._reset_epoch(None)
        self._window_loss: torch.Tensor | None = None
        self._window_batches = 0
        self._rates_now: list[float] = []
        self._steps_before = 0
        self._metrics_before: dict = {}
        self._validation: tuple[int, dict[str, float]] | None = None

    def _reset_epoch(self, epoch: int | None) -> None:
        self._epoch_index = epoch
        self._epoch_loss: torch.Tensor | float | None = None
        self._epoch_batches = 0
        self._epoch_rates: list[float] | None = None

    # -- start: refuse, then open

    def on_fit_start(self, trainer, pl_module) -> None:
        # trainer.ckpt_path is known here (not yet in setup), except under strategies that load the checkpoint
        # after setting up (restore_checkpoint_after_setup): those are checked in on_train_start
        self._checked = False
        if not trainer.strategy.restore_checkpoint_after_setup:
            self._check_run_dir(trainer)

    def _check_run_dir(self, trainer) -> None:
        """Refuse a directory that already holds a run unless the fit resumes from a checkpoint (all ranks)."""
        self._checked = True
        self._resuming = trainer.ckpt_path is not None
        problem = _refusal(self.run_dir) if trainer.is_global_zero and not self._resuming else None
        problem = trainer.strategy.broadcast(problem, src=0)  # every rank stops, none waits for the others
        if problem:
            raise UserError(problem)

    def on_train_start(self, trainer, pl_module) -> None:
        # the recorder opens here: a resumed fit's epoch and step are restored only after on_fit_start
        if not self._checked:
            self._check_run_dir(trainer)
        if not trainer.is_global_zero:
            return
        config = run_config(trainer, pl_module)
        if self._resuming:
            rundir.check_metrics(self.run_dir)
            trim_metrics(self.run_dir, epoch=trainer.current_epoch, step=trainer.global_step)
            if (self.run_dir / rundir.CONFIG).exists():
                config = None  # the run's own config.json stays as it was written at its start
        self._recorder = Recorder(self.run_dir, config=config, mode="append" if self._resuming else "new")

    # -- batches

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._epoch_index != trainer.current_epoch:  # a fit resumed mid-epoch keeps the restored sums
            self._reset_epoch(trainer.current_epoch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._recorder is None:
            return
        self._rates_now = _rates(trainer)
        self._steps_before = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._recorder is None:
            return
        scale = int(trainer.accumulate_grad_batches) if pl_module.automatic_optimization else 1
        loss = _batch_loss(outputs, scale)
        if loss is not None:
            self._window_loss = loss if self._window_loss is None else self._window_loss + loss
            self._window_batches += 1
            self._epoch_loss = loss if self._epoch_loss is None else self._epoch_loss + loss
            self._epoch_batches += 1
        step = trainer.global_step
        if step == self._steps_before:
            return  # a batch that only accumulated gradients
        self._epoch_rates = self._rates_now
        if step % self.log_every_n_steps == 0 and self._rates_now:
            extra: dict[str, Any] = {}
            batches = trainer.num_training_batches
            if isinstance(batches, int) and batches > 0:
                extra["epoch"] = trainer.current_epoch + (batch_idx + 1) / batches
            if len(self._rates_now) > 1:
                extra["lr_groups"] = list(self._rates_now)
            mean = float(self._window_loss) / self._window_batches if self._window_batches else None
            self._recorder.step(step=step, lr=self._rates_now[0], loss=mean, **extra)
        self._window_loss, self._window_batches = None, 0

    # -- validation: keep what this validation logged, for this epoch's record

    def on_validation_start(self, trainer, pl_module) -> None:
        if self._recorder is not None and not trainer.sanity_checking:
            self._metrics_before = dict(trainer.callback_metrics)

    def on_validation_end(self, trainer, pl_module) -> None:
        if self._recorder is None or trainer.sanity_checking:
            return
        before, self._metrics_before = self._metrics_before, {}
        logged = {}
        for name, value in trainer.callback_metrics.items():
            # callback_metrics also holds the training metrics and earlier validations' values: a metric this
            # validation logged is new, or a new object, or a new value
            old = before.get(name)
            if name in before and old is value and _scalar(old) == _scalar(value):
                continue
            number = _scalar(value)
            if number is not None:
                logged[str(name)] = number
        self._validation = (trainer.current_epoch, logged)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._recorder is None or self._epoch_rates is None:
            return
        metrics: dict[str, Any] = {}
        if self._validation is not None and self._validation[0] == trainer.current_epoch:
            metrics = {k: v for k, v in self._validation[1].items() if k not in _RESERVED}
        rates = self._epoch_rates
        if len(rates) > 1:
            metrics["lr_groups"] = list(rates)
        train_loss = float(self._epoch_loss) / self._epoch_batches if self._epoch_batches else None
        self._recorder.epoch(epoch=trainer.current_epoch + 1, step=trainer.global_step, lr=rates[0],
                             train_loss=train_loss, **metrics)
        self._reset_epoch(None)

    # -- the end

    def on_fit_end(self, trainer, pl_module) -> None:
        self._finish(analyse=True)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._finish(analyse=False)

    def _finish(self, analyse: bool) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        recorder.close()
        if analyse and self.explain:
            try:
                explain_run(self.run_dir)
            except UserError as error:
                rank_zero_warn(f"lrscope could not explain {self.run_dir}: {error}")
        if analyse and self.report:
            try:
                report_job(self.run_dir)
            except UserError as error:
                rank_zero_warn(f"lrscope could not write the report of {self.run_dir}: {error}")

    # -- checkpoints: a fit resumed mid-epoch still averages the whole epoch's losses

    @property
    def state_key(self) -> str:
        return self._generate_state_key(run_dir=str(self.run_dir))  # two callbacks, two run directories

    def state_dict(self) -> dict[str, Any]:
        loss = self._epoch_loss
        return {"epoch_index": self._epoch_index, "epoch_batches": self._epoch_batches,
                "epoch_loss_sum": None if loss is None else float(loss),
                "epoch_rates": None if self._epoch_rates is None else list(self._epoch_rates)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._epoch_index = state_dict.get("epoch_index")
        self._epoch_batches = int(state_dict.get("epoch_batches") or 0)
        self._epoch_loss = state_dict.get("epoch_loss_sum")
        rates = state_dict.get("epoch_rates")
        self._epoch_rates = None if rates is None else [float(r) for r in rates]


# ---------------------------------------------------------------- the range test on the module's training_step


def _optimizers(returned, where: str = "configure_optimizers()") -> list[torch.optim.Optimizer]:
    """The optimizers in any form Lightning accepts from configure_optimizers (schedulers are dropped)."""
    if isinstance(returned, torch.optim.Optimizer):
        return [returned]
    if isinstance(returned, Mapping):
        if "optimizer" not in returned:
            raise UserError(f"{where} returned a dict without an 'optimizer' key (keys: {sorted(map(str, returned))})")
        return _optimizers(returned["optimizer"], where)
    if isinstance(returned, (list, tuple)):
        if len(returned) == 2 and all(isinstance(part, (list, tuple)) for part in returned):
            return [o for item in returned[0] for o in _optimizers(item, where)]  # ([optimizers], [schedulers])
        return [o for item in returned for o in _optimizers(item, where)]
    raise UserError(f"{where} must return an optimizer, a list of them, a dict with 'optimizer' or "
                    f"([optimizers], [schedulers]); got {type(returned).__name__}")


def _train_loader(module, datamodule, train_dataloaders):
    if isinstance(train_dataloaders, pl.LightningDataModule):
        datamodule, train_dataloaders = train_dataloaders, None
    if train_dataloaders is not None:
        return train_dataloaders
    if datamodule is not None:
        if hasattr(datamodule, "prepare_data"):
            datamodule.prepare_data()
        if hasattr(datamodule, "setup"):
            datamodule.setup("fit")
        return datamodule.train_dataloader()
    if type(module).train_dataloader is pl.LightningModule.train_dataloader:
        raise UserError(f"find_lr has no training data: pass train_dataloaders= or a datamodule, or define "
                        f"{type(module).__name__}.train_dataloader()")
    return module.train_dataloader()


def _takes_batch_idx(method) -> bool:
    try:
        parameters = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def _overrides(module, hook: str) -> bool:
    return getattr(type(module), hook) is not getattr(pl.LightningModule, hook)


def _quiet(*args, **kwargs) -> None:
    """Stands in for LightningModule.log / log_dict during the sweep (outside a fit loop they raise)."""


def _step_loss(module, autocast_dtype):
    """``step_loss(batch)`` for the finder: the module's own training_step, with a batch index it counts."""
    count = iter(range(1 << 62))
    with_index = _takes_batch_idx(module.training_step)
    before, after = _overrides(module, "on_before_batch_transfer"), _overrides(module, "on_after_batch_transfer")
    device_type = module.device.type

    def step_loss(batch):
        index = next(count)
        if before:  # the finder has already moved the batch: the hook sees it on the device
            batch = module.on_before_batch_transfer(batch, 0)
        if after:
            batch = module.on_after_batch_transfer(batch, 0)
        if autocast_dtype is not None:
            with torch.autocast(device_type=device_type, dtype=autocast_dtype):
                return module.training_step(batch, index) if with_index else module.training_step(batch)
        return module.training_step(batch, index) if with_index else module.training_step(batch)

    return step_loss


def _single_device(module) -> torch.device | None:
    devices = {p.device for p in module.parameters()} | {b.device for b in module.buffers()}
    return next(iter(devices)) if len(devices) == 1 else None


def find_lr(trainer, module, datamodule=None, *, train_dataloaders=None, start_lr: float = 1e-7,
            end_lr: float = 10.0, num_iter: int = 100, **finder_options):
    """The LR range test (:func:`lrscope.probes.finder.find_lr`) on a LightningModule's own ``training_step``
    and the first optimizer its ``configure_optimizers`` builds; returns a
    :class:`~lrscope.analysis.finder_result.FinderResult`.

    Data: ``train_dataloaders`` when given (a DataModule there counts as ``datamodule``), else
    ``datamodule.train_dataloader()`` after its ``prepare_data()`` and ``setup("fit")``, else
    ``module.train_dataloader()``.  From the trainer: precision "16-mixed" is amp=True, "bf16-mixed" autocasts
    in bfloat16 (no GradScaler, as Lightning does), ``accumulate_grad_batches`` is ``accumulation_steps``, and
    the module runs on the trainer's device for the sweep.  Other ``finder_options`` (mode, smooth, diverge,
    repeats, val_loader, seed, amp, accumulation_steps) go to the finder; schedulers are ignored, and
    ``self.log`` / ``self.log_dict`` are silenced while the sweep runs.

    Unlike Lightning's ``Tuner.lr_find`` the trainer is not run (no fit loop, no checkpoint saved and
    restored): afterwards the module's parameters, buffers, train/eval flags, device, trainer reference,
    instance attributes and the global RNGs are exactly as they came in.  Manual optimization is refused.
    """
    if not isinstance(trainer, pl.Trainer):
        raise UserError(f"find_lr needs a lightning.pytorch.Trainer first; got {type(trainer).__name__}")
    if not isinstance(module, pl.LightningModule):
        raise UserError(f"find_lr needs a LightningModule; got {type(module).__name__}")
    if not module.automatic_optimization:
        raise UserError(f"{type(module).__name__} uses manual optimization (its training_step steps the "
                        "optimizer itself); find_lr needs automatic optimization")
    taken = sorted({"loss_fn", "step_loss", "batch_fn"} & set(finder_options))
    if taken:
        raise UserError(f"find_lr computes the loss with the module's training_step; do not pass {', '.join(taken)}")
    check_sweep_settings(start_lr, end_lr, num_iter)
    rng = rng_state()
    own = {name: module.__dict__[name] for name in ("log", "log_dict") if name in module.__dict__}
    attached = module._trainer
    home = _single_device(module)
    target = trainer.strategy.root_device
    precision = str(trainer.precision)
    notes: list[str] = []
    try:
        if attached is None:
            module.trainer = trainer  # training_step may read self.trainer / self.current_epoch
        if home is not None and home != target:
            module.to(target)
        loader = _train_loader(module, datamodule, train_dataloaders)
        optimizers = _optimizers(module.configure_optimizers())
        if not optimizers:
            raise UserError("configure_optimizers() returned no optimizer")
        if len(optimizers) > 1:
            notes.append(f"configure_optimizers() returned {len(optimizers)} optimizers; the range test used the "
                         f"first ({type(optimizers[0]).__name__})")
        options = dict(finder_options)
        autocast_dtype = None
        if "amp" not in options:
            if precision in ("bf16-mixed", "bf16"):
                autocast_dtype = torch.bfloat16
                notes.append("autocast in bfloat16 without a GradScaler, as the trainer's precision bf16-mixed")
            else:
                options["amp"] = precision in ("16-mixed", "16")
        options.setdefault("accumulation_steps", int(trainer.accumulate_grad_batches))
        if trainer.gradient_clip_val:
            notes.append(f"the trainer clips gradients (gradient_clip_val={trainer.gradient_clip_val}); the range "
                         "test does not")
        module.log = _quiet
        module.log_dict = _quiet
        result = _range_test(module, optimizers[0], None, loader, start_lr=start_lr, end_lr=end_lr,
                             num_iter=num_iter, step_loss=_step_loss(module, autocast_dtype), **options)
    finally:
        for name in ("log", "log_dict"):
            module.__dict__.pop(name, None)
        module.__dict__.update(own)
        if attached is None:
            module.trainer = None
        if home is not None and home != target:
            module.to(home)
        set_rng_state(rng)
    result.notes.extend(notes)
    result.settings["precision"] = precision
    return result
