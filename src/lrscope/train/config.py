"""What defines a run of the reference runner, and the pieces built from it: its data, model, optimizer,
schedule and seed.  The loop (``train/loop.py``) and the restore of a checkpoint (``train/restore.py``) both
build a run from these, so a restored run is the run that was trained.

    config = TrainConfig(data="digits", model="cnn", schedule="multistep(0.1, milestones=[6, 9])", epochs=12)
    seed_everything(config.seed)
    bundle, model = data_and_model(config)
    optimizer = make_optimizer(config, model)

``data`` and ``model`` name a built-in (``digits``, ``cnn``, ...) or your own factory, ``PKG.MODULE:FACTORY``
(:mod:`lrscope.train.factories`); a config names a factory as text, and building it imports that module.  Code
that builds a config it read from a file (a run directory) checks first that the user named the same factory
(:func:`lrscope.train.factories.require_named`).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from ..schedules import Schedule, parse_schedule
from ..validate import check_choice, check_float, check_int, check_seed
from . import factories
from .data import DataBundle, load_data
from .models import build_model
from .rng import rng_state, set_rng_state

OPTIMIZERS = ("sgd", "adamw")
STEP_UNITS = ("epoch", "step")
CONFIG_SCHEMA = "lrscope.train-config/1"
MAX_EPOCHS = 1_000_000
MAX_BATCH = 1_000_000
MAX_LR_SCALE = 1e6
MAX_THREADS = 1024  # torch.set_num_threads crashes the process (SIGSEGV) far above what any machine has


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
        for option in ("--data", "--model"):
            if factories.is_factory(getattr(self, option[2:]), option):
                factories.parse_factory(getattr(self, option[2:]), option)  # the form only: nothing is imported
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise UserError("--nesterov needs --optimizer sgd with momentum > 0")
        parse_schedule_spec(self.schedule)


def parse_schedule_spec(spec: str) -> Schedule:
    """The schedule a config's spec names (UserError, with the position, for a spec that does not parse)."""
    return parse_schedule(spec)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch's (every device's) from one seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def data_and_model(config: TrainConfig) -> tuple[DataBundle, nn.Module]:
    """The data a config names (its split, label noise, augmentation) and a freshly initialised model for it
    (drawn from torch's global RNG: seed first).

    Factories (``PKG.MODULE:FACTORY``) are imported and called here.  A data factory runs with every generator
    seeded from ``config.seed`` (and the caller's generators left as they were), so random transforms give the
    same arrays wherever the data is rebuilt; a model of your own (or on your data) is tried once on two training
    examples, so a mismatch is one line here rather than a traceback in the first step."""
    options = dict(seed=config.seed, val_fraction=config.val_fraction, label_noise=config.label_noise,
                   augment=config.augment)
    user_data = factories.is_factory(config.data, "--data")
    if user_data:
        from .user_data import data_from_factory

        saved = rng_state()
        try:
            seed_everything(config.seed)
            bundle = data_from_factory(config.data, **options)
        finally:
            set_rng_state(saved)
    else:
        bundle = load_data(config.data, **options)
    if factories.is_factory(config.model, "--model"):
        model = factories.model_from_factory(config.model, bundle.input_shape, bundle.num_classes)
    else:
        model = build_model(config.model, bundle.input_shape, bundle.num_classes)
    if user_data or factories.is_factory(config.model, "--model"):
        check_model_takes_data(model, bundle, config.model, config.data)
    return bundle, model


def check_model_takes_data(model: nn.Module, bundle: DataBundle, model_name: str, data_name: str) -> None:
    """One forward pass on two training examples (eval mode, no gradients, the RNGs untouched): the output must
    be logits of shape (2, K) with K >= the data's number of classes; otherwise one line saying what came."""
    x = bundle.train_x[:2]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]), factories.user_code():
            out = model(x)
    except Exception as error:  # noqa: BLE001 - the user's forward may raise anything
        text = " ".join(str(error).split())[:240]
        raise UserError(f"the model {model_name} cannot take the data {data_name}: a batch of inputs of shape "
                        f"{list(x.shape)} ({x.dtype}) raised {type(error).__name__}: {text}") from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise UserError(f"the model {model_name} returned a {type(out).__name__} for a batch of {data_name}; the "
                        f"runner needs forward(x) to return a tensor of logits (N, classes): wrap the model")
    if out.dim() != 2 or out.shape[0] != x.shape[0] or out.shape[1] < bundle.num_classes:
        raise UserError(f"the model {model_name} gives output of shape {list(out.shape)} for {x.shape[0]} inputs of "
                        f"{data_name}; the runner trains with cross-entropy over its {bundle.num_classes} classes, "
                        f"so it needs shape [{x.shape[0]}, >= {bundle.num_classes}]")


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
