"""The bench's tasks, recipes and seeds: the generated or bundled data, the models, and a training's key."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SEEDS = tuple(range(10))  # 5 seeds left standard errors of 1-5 points on the constant recipes


@dataclass(frozen=True)
class Task:
    name: str
    batch: int
    epochs: int
    centre: dict  # optimizer -> the grid's starting centre


TASKS = {
    "digits-cnn": Task("digits-cnn", 64, 8, {"sgd": 0.1, "adamw": 3e-3}),
    "synthetic-mlp": Task("synthetic-mlp", 128, 6, {"sgd": 0.1, "adamw": 3e-3}),
    "shapes-bncnn": Task("shapes-bncnn", 128, 6, {"sgd": 0.3, "adamw": 3e-3}),
    "digits-resnet20": Task("digits-resnet20", 64, 8, {"sgd": 0.1, "adamw": 3e-3}),
    "synthetic-bnmlp": Task("synthetic-bnmlp", 128, 6, {"sgd": 0.1, "adamw": 3e-3}),
}
HELD_OUT = {  # added after the confirm rules (extension, refined rate) were chosen on TASKS: their test
    "digits-mlp": Task("digits-mlp", 64, 8, {"sgd": 0.1, "adamw": 3e-3}),
    "shapes-cnn": Task("shapes-cnn", 128, 6, {"sgd": 0.1, "adamw": 3e-3}),
    # added later still, to test the rules on normalisations none of the others has: attention with
    # LayerNorm, and an MLP with LayerNorm in place of BatchNorm
    "digits-vit": Task("digits-vit", 64, 8, {"sgd": 0.1, "adamw": 3e-3}),
    "synthetic-lnmlp": Task("synthetic-lnmlp", 128, 6, {"sgd": 0.1, "adamw": 3e-3}),
}
ADDED_LAST = ("digits-vit", "synthetic-lnmlp")  # the newest held-out test, also summed up on its own
EVERY_TASK = {**TASKS, **HELD_OUT}
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "1cycle")
RECIPES = [(o, s) for o in OPTIMIZERS for s in SCHEDULES]


def _shapes(seed: int = 7, n_train: int = 4000, n_val: int = 2000, size: int = 16, classes: int = 10):
    """10 classes of random smooth textures; a sample is its class's texture circularly shifted by up to 4
    pixels each way, scaled by a contrast in [0.4, 1.2] and buried in unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal((classes, size, size))
    k = np.exp(-0.5 * (np.arange(-3, 4) / 1.2) ** 2)
    k /= k.sum()
    for axis in (1, 2):  # separable Gaussian blur, circular
        raw = sum(w * np.roll(raw, s, axis=axis) for s, w in zip(range(-3, 4), k, strict=True))
    templates = raw / raw.std(axis=(1, 2), keepdims=True)
    n = n_train + n_val
    y = rng.integers(0, classes, n)
    shifts = rng.integers(-4, 5, (n, 2))
    contrast = rng.uniform(0.4, 1.2, n)
    x = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        x[i, 0] = contrast[i] * np.roll(templates[y[i]], tuple(shifts[i]), axis=(0, 1))
    x += rng.standard_normal(x.shape).astype(np.float32)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def load_task(name: str):
    """(train_x, train_y, val_x, val_y, classes, input shape): tensors standardised on the training split."""
    from lrscope.train.data import load_data, make_bundle

    if name.startswith("digits-"):
        b = load_data("digits")
    elif name.startswith("synthetic-"):
        b = load_data("synthetic:n=10000,dim=32,classes=10,sep=2.0")
    else:
        x, y, xv, yv = _shapes()
        b = make_bundle(x, y, xv, yv, name="shapes")
    return (b.train_x.float(), b.train_y.long(), b.val_x.float(), b.val_y.long(), int(b.num_classes),
            tuple(b.input_shape))


def tiny_vit(shape, classes: int, patch: int = 2, dim: int = 32, depth: int = 2, heads: int = 2):
    """A small vision transformer: non-overlapping patches embedded by a strided conv, a learned position
    embedding, ``depth`` pre-norm encoder layers (LayerNorm, multi-head attention, GELU MLP of 2x width), a final
    LayerNorm and mean pooling over the tokens (Dosovitskiy et al. 2021, without the class token)."""
    import torch
    import torch.nn as nn

    class TinyViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(shape[0], dim, patch, stride=patch)
            tokens = (shape[1] // patch) * (shape[2] // patch)
            self.position = nn.Parameter(0.02 * torch.randn(1, tokens, dim))
            layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, classes)

        def forward(self, x):
            tokens = self.embed(x).flatten(2).transpose(1, 2) + self.position
            return self.head(self.norm(self.encoder(tokens)).mean(1))

    return TinyViT()


def normed_mlp(shape, classes: int, norm, width: int = 128):
    """lrscope's mlp (two hidden layers of ``width``, ReLU) with ``norm(width)`` after each hidden linear layer,
    whose bias the norm makes redundant."""
    import torch.nn as nn

    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), width, bias=False), norm(width), nn.ReLU(),
                         nn.Linear(width, width, bias=False), norm(width), nn.ReLU(), nn.Linear(width, classes))


def make_model(name: str, shape, classes: int):
    import torch.nn as nn

    from lrscope.train.models import build_model

    if name == "digits-cnn":
        return build_model("cnn", shape, classes)
    if name in ("synthetic-mlp", "digits-mlp"):
        return build_model("mlp", shape, classes)
    if name == "digits-resnet20":
        return build_model("resnet20", shape, classes)
    if name == "synthetic-bnmlp":
        return normed_mlp(shape, classes, nn.BatchNorm1d)
    if name == "synthetic-lnmlp":
        return normed_mlp(shape, classes, nn.LayerNorm)
    if name == "digits-vit":
        return tiny_vit(shape, classes)
    if name == "shapes-cnn":  # the shapes net without BatchNorm
        return nn.Sequential(
            nn.Conv2d(shape[0], 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, classes))
    return nn.Sequential(
        nn.Conv2d(shape[0], 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


def make_optimizer(opt: str, params, lr: float):
    import torch

    if opt == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)


_DATA: dict = {}


def task_data(name):
    if name not in _DATA:
        _DATA[name] = load_task(name)
    return _DATA[name]


def key(task, opt, sched, seed, lr) -> str:
    return f"{task}|{opt}|{sched}|{seed}|{float(lr):.6g}"


def rounded(lr: float) -> float:
    """A rate as trained and cached: 6 significant digits."""
    return float(f"{float(lr):.6g}")


_BATCHNORM: dict = {}


def task_batchnorm(task: str) -> bool:
    """Whether the task's model has BatchNorm, by the test find_lr itself applies to the model it is given."""
    if task not in _BATCHNORM:
        from lrscope.probes.finder import uses_batchnorm

        _, _, _, _, classes, shape = task_data(task)
        _BATCHNORM[task] = uses_batchnorm(make_model(task, shape, classes))
    return _BATCHNORM[task]


def model_kind(task: str) -> str:
    return "BatchNorm" if task_batchnorm(task) else "no BatchNorm"
