"""The reference runner: ``lrscope.train.train(config, out, hooks=...)`` trains a TrainConfig into a run directory.

``train`` and ``TrainConfig`` are handed on lazily (importing a module of this package does not import the loop).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"train": "lrscope.train.loop", "TrainConfig": "lrscope.train.config"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lrscope.train' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
