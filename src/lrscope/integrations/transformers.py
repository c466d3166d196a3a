"""lrscope inside a Hugging Face ``transformers.Trainer``: record the run, explain it, range-test its model.

>>> from lrscope.integrations.transformers import LRScopeCallback, find_lr
>>> result = find_lr(trainer)                      # the Trainer's model, optimizer, data and compute_loss
>>> trainer.add_callback(LRScopeCallback("runs/bert-sst2"))
>>> trainer.train()                                # runs/bert-sst2: config.json, metrics.jsonl, explain.json

The rate of a step is read off the optimizer at ``on_step_begin``, which the Trainer calls before the first
micro-batch of each optimizer step and after the previous ``scheduler.step()``: it is the rate that step uses.
The ``learning_rate`` the Trainer logs is kept beside it as ``logged_learning_rate`` but never used as the
rate: transformers before 4.46 logged the rate of the *next* step, later versions that of the step just taken.

The Trainer calls ``scheduler.step()`` after every optimizer step, so a :class:`~lrscope.schedules.torch.ScheduleLR`
here counts optimizer steps (``step_unit`` "step" in config.json) whatever unit it was made with.

Importing this module imports transformers; without it the import raises a :class:`~lrscope.errors.UserError`
that names ``pip install "lrscope[transformers]"``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..logs import rundir
from ..logs.recorder import Recorder, trim_metrics, versions
from . import require

transformers = require("transformers", "transformers")

__all__ = ["LRScopeCallback", "find_lr"]

# TrainingArguments that shape the learning-rate dynamics (those a version lacks are left out)
TRAINING_ARGS = (
    "learning_rate",
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "warmup_steps",
    "warmup_ratio",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "max_grad_norm",
    "optim",
    "seed",
    "logging_steps",
    "eval_strategy",
    "world_size",
)
# names an evaluation's metrics take in lrscope's epoch records; the rest keep their own names
EVAL_NAMES = {"eval_loss": "val_loss", "eval_accuracy": "val_acc"}
# keys of the Trainer's logs that a record holds under its own name, or not at all
_LOG_KEYS_TAKEN = frozenset({"kind", "step", "epoch", "lr", "loss", "learning_rate"})


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """An enum (SchedulerType, OptimizerNames, IntervalStrategy) as its value; anything else as it is."""
    return getattr(value, "value", value)


def _unwrap(obj: Any, attribute: str) -> Any:
    """accelerate's AcceleratedOptimizer / AcceleratedScheduler hold the real one under .optimizer / .scheduler."""
    while obj is not None and type(obj).__module__.startswith("accelerate") and hasattr(obj, attribute):
        obj = getattr(obj, attribute)
    return obj


def _rate(optimizer) -> float | None:
    """The first param group's rate now (a tensor rate as a float)."""
    if optimizer is None or not optimizer.param_groups:
        return None
    lr = optimizer.param_groups[0]["lr"]
    return float(lr.item() if hasattr(lr, "item") else lr)


def _completed_epochs(epoch: float | None) -> int:
    """Whole epochs behind a Trainer's fractional ``state.epoch`` (exactly k.0 at the end of epoch k)."""
    return int(math.floor((epoch or 0.0) + 1e-9))


def _config(args, state, model, optimizer, lr_scheduler) -> dict:
    """config.json of a Trainer run: the model, the arguments that shape the rate, the schedule."""
    from ..schedules.torch import ScheduleLR

    document: dict[str, Any] = {"source": "transformers"}
    if model is not None:
        document["model"] = type(model).__name__
        to_dict = getattr(getattr(model, "config", None), "to_dict", None)
        if callable(to_dict):
            document["model_config"] = to_dict()
    optimizer = _unwrap(optimizer, "optimizer")
    if optimizer is not None:
        document["optimizer"] = type(optimizer).__name__
    document["training_args"] = {name: _plain(getattr(args, name)) for name in TRAINING_ARGS if hasattr(args, name)}
    document["epochs"] = state.num_train_epochs
    document["total_steps"] = state.max_steps
    scheduler = _unwrap(lr_scheduler, "scheduler")
    if isinstance(scheduler, ScheduleLR):
        document["schedule"] = scheduler.schedule.spec
        document["step_unit"] = "step"
        if scheduler.unit != "step":
            warnings.warn(
                f"the Trainer steps its scheduler after every optimizer step, so ScheduleLR({scheduler.schedule.spec}, "
                f"unit={scheduler.unit!r}) counts steps, not epochs; make it with unit='step' and a spec in steps",
                UserWarning,
                stacklevel=4,
            )
    elif scheduler is not None:
        document["scheduler"] = type(scheduler).__name__
    document["versions"] = {**versions(), "transformers": transformers.__version__}
    return document


@dataclass
class _Epoch:
    """What one epoch's record is made of, gathered as the epoch runs."""

    number: int  # 1-based
    lr: float | None = None  # the rate of the epoch's latest step (its last, once it ends)
    losses: list[float] = field(default_factory=list)
    end_step: int | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        losses = [x for x in self.losses if _number(x) and math.isfinite(x)]
        metrics = dict(self.evaluation)
        return {
            "epoch": self.number,
            "step": self.end_step,
            "lr": self.lr,
            "train_loss": sum(losses) / len(losses) if losses else None,
            "val_loss": metrics.pop("val_loss", None),
            "val_acc": metrics.pop("val_acc", None),
            **metrics,
        }


def _evaluation_fields(metrics: dict | None) -> dict[str, Any]:
    """An evaluation's numbers under lrscope's names (eval_loss -> val_loss, eval_accuracy -> val_acc)."""
    out = {}
    for key, value in (metrics or {}).items():
        if key in ("epoch", "step") or not _number(value):
            continue
        out[EVAL_NAMES.get(key, key)] = value
    return out


class LRScopeCallback(transformers.TrainerCallback):
    """Write a Trainer run as an lrscope run directory, and explain it when training ends.

    - ``run_dir`` gets config.json (model, TrainingArguments, the schedule spec when the scheduler is a
      ScheduleLR) and metrics.jsonl.  A directory that already holds metrics is refused (UserError at
      ``on_train_begin``, before any step) unless the Trainer resumes from a checkpoint: then the records after
      the checkpoint's step are cut off and the run goes on in the same file.  ``run_dir`` must not be the
      Trainer's ``output_dir``, where the Trainer writes its own config.json.
    - A step record at every log that carries a training ``loss`` (every ``logging_steps``): the global step,
      the fractional epoch, the rate that step used, the Trainer's ``loss`` (its mean since the last log),
      ``grad_norm`` and the other numbers logged, and the logged rate as ``logged_learning_rate``.
    - An epoch record per epoch: the rate of its last step (as lrscope's own loop records it), the mean of its
      logged losses, and the evaluation made at its last step (eval_loss -> val_loss, eval_accuracy -> val_acc,
      the rest by name).  Evaluations in the middle of an epoch are not in the epoch records.
    - Only the main process writes.  At ``on_train_end`` the file is closed, then explain.json is written
      (``explain=True``) and report.html (``report=True``); a problem there is a warning, never a crash of
      the training that just finished.  The explanation is kept as ``self.explanation``.
    """

    def __init__(self, run_dir, explain: bool = True, report: bool = False):
        if not isinstance(run_dir, (str, Path)) or not str(run_dir):
            raise UserError(f"LRScopeCallback needs a run directory (a path); got {run_dir!r}")
        self.run_dir = Path(run_dir)
        self.explain = bool(explain)
        self.report = bool(report)
        self.explanation = None
        self._recorder: Recorder | None = None
        self._reset()

    def _reset(self) -> None:
        self._step_lr: float | None = None  # the rate of the optimizer step in progress (or just taken)
        self._epoch: _Epoch | None = None  # the epoch running
        self._held: _Epoch | None = None  # an epoch that ended, waiting for its evaluation
        self._last_evaluation: tuple[int, dict] | None = None  # (step, fields) of the latest evaluation
        self._carried: _Epoch | None = None  # a resumed epoch's part recorded before the checkpoint

    # ------------------------------------------------------------ start and end

    def on_train_begin(self, args, state, control, model=None, optimizer=None, lr_scheduler=None, **kwargs):
        self._reset()
        self.explanation = None
        if not state.is_world_process_zero:
            return
        output_dir = getattr(args, "output_dir", None)
        if output_dir is not None and Path(output_dir).resolve() == self.run_dir.resolve():
            raise UserError(f"LRScopeCallback's run directory {self.run_dir} is the Trainer's output_dir, where "
                            "the Trainer writes its own config.json; give it a directory of its own (e.g. "
                            f"{Path(output_dir) / 'lrscope'})")
        config = _config(args, state, model, optimizer, lr_scheduler)
        if state.global_step > 0:
            self._recorder = self._resume(state, config)
        else:
            self._recorder = Recorder(self.run_dir, config=config, mode="new")

    def _resume(self, state, config: dict) -> Recorder:
        """Continue the run of a resumed Trainer: drop the records after its checkpoint, keep the rest."""
        rundir.check_metrics(self.run_dir)  # a file lrscope did not write is not rewritten
        completed = _completed_epochs(state.epoch)
        trim_metrics(self.run_dir, epoch=completed, step=state.global_step)
        if (state.epoch or 0.0) - completed > 1e-9:  # resumed in the middle of an epoch
            steps = [r for r in rundir.read_metrics(self.run_dir, "step")
                     if _number(r.get("epoch")) and r["epoch"] > completed]
            steps.sort(key=lambda r: r.get("step") or 0)
            self._carried = _Epoch(number=completed + 1, lr=steps[-1].get("lr") if steps else None,
                                   losses=[r.get("loss") for r in steps])
        has_config = (self.run_dir / rundir.CONFIG).is_file()
        return Recorder(self.run_dir, config=None if has_config else config, mode="append")

    def on_train_end(self, args, state, control, **kwargs):
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        if self._epoch is not None and self._epoch.lr is not None:  # an epoch the Trainer did not close
            self._epoch.end_step = state.global_step
            self._held, self._epoch = self._epoch, None
        self._write_held(recorder)
        recorder.close()
        if self.explain:
            self._after_training("explain", self._explain)
        if self.report:
            self._after_training("report", self._report)

    def _explain(self) -> None:
        from ..jobs.explain import explain_run

        self.explanation = explain_run(self.run_dir)

    def _report(self) -> None:
        from ..jobs.report import report_job

        report_job(self.run_dir)

    def _after_training(self, what: str, job) -> None:
        try:
            job()
        except UserError as error:
            warnings.warn(f"lrscope could not {what} {self.run_dir}: {error}", UserWarning, stacklevel=3)

    # ------------------------------------------------------------ steps

    def on_epoch_begin(self, args, state, control, **kwargs):
        if self._recorder is None:
            return
        self._write_held(self._recorder)
        number = _completed_epochs(state.epoch) + 1
        carried, self._carried = self._carried, None
        self._epoch = carried if carried is not None and carried.number == number else _Epoch(number=number)

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        if self._recorder is None:
            return
        # after the previous scheduler.step(), before this step's first micro-batch: the rate this step uses
        self._step_lr = _rate(optimizer)
        if self._epoch is None:
            self._epoch = _Epoch(number=_completed_epochs(state.epoch) + 1)
        self._epoch.lr = self._step_lr

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._recorder is None or not logs or "loss" not in logs:
            return
        extra = {key: value for key, value in logs.items() if key not in _LOG_KEYS_TAKEN and _number(value)}
        if "learning_rate" in logs:
            extra["logged_learning_rate"] = logs["learning_rate"]
        self._recorder.step(step=state.global_step, lr=self._step_lr, loss=logs["loss"], epoch=state.epoch,
                            **extra)
        # with logging_strategy="epoch" the epoch's log comes after on_epoch_end: it belongs to the held epoch
        epoch = self._held if self._held is not None else self._epoch
        if epoch is not None:
            epoch.losses.append(logs["loss"])

    def on_epoch_end(self, args, state, control, **kwargs):
        if self._recorder is None or self._epoch is None:
            return
        epoch, self._epoch = self._epoch, None
        epoch.end_step = state.global_step
        if self._last_evaluation is not None and self._last_evaluation[0] == state.global_step:
            epoch.evaluation.update(self._last_evaluation[1])  # eval_strategy="steps" at the epoch's last step
        # eval_strategy="epoch" evaluates after on_epoch_end: hold the record until that evaluation comes
        self._held = epoch

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self._recorder is None:
            return
        fields = _evaluation_fields(metrics)
        self._last_evaluation = (state.global_step, fields)
        if self._held is not None and self._held.end_step == state.global_step:
            self._held.evaluation.update(fields)
            self._write_held(self._recorder)

    def _write_held(self, recorder: Recorder) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            recorder.epoch(**held.record())


def find_lr(trainer, *, start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100, **finder_options):
    """The LR range test (:func:`lrscope.probes.finder.find_lr`) on a Trainer's own model, optimizer and data.

    The optimizer is ``trainer.optimizer``, or one made by ``trainer.create_optimizer()`` when the Trainer has
    none yet (``trainer.optimizer`` is left as it was).  The batches come from ``trainer.get_train_dataloader()``,
    prepared as the Trainer prepares them, and the loss of each is ``trainer.compute_loss(model, inputs)``, so a
    Trainer subclass with its own ``compute_loss`` is honoured.  ``gradient_accumulation_steps`` is the sweep's
    ``accumulation_steps`` unless given.  Model, optimizer and RNGs come back exactly as they were.  One process
    only: under torch.distributed each rank would sweep its own copy of the weights.
    """
    from ..probes.finder import find_lr as range_test

    if not isinstance(trainer, transformers.Trainer):
        raise UserError(f"find_lr needs a transformers.Trainer; got {type(trainer).__name__}")
    for name in ("loss_fn", "step_loss"):
        if name in finder_options:
            raise UserError(f"find_lr takes the loss from trainer.compute_loss; {name} cannot be given "
                            "(override compute_loss in a Trainer subclass instead)")
    model = trainer.model
    had = trainer.optimizer
    finder_options.setdefault("accumulation_steps", int(trainer.args.gradient_accumulation_steps))
    prepare = getattr(trainer, "_prepare_inputs", None)  # the Trainer's own device move (private, so guarded)

    def step_loss(batch):
        inputs = prepare(batch) if callable(prepare) else batch
        with trainer.compute_loss_context_manager():
            return trainer.compute_loss(model, inputs)

    try:
        optimizer = had if had is not None else trainer.create_optimizer()
        loader = trainer.get_train_dataloader()
        return range_test(model, _unwrap(optimizer, "optimizer"), None, loader, start_lr=start_lr, end_lr=end_lr,
                          num_iter=num_iter, step_loss=step_loss, **finder_options)
    finally:
        trainer.optimizer = had
