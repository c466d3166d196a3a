"""lrscope: understand and control learning-rate dynamics in neural-network training.

The public API is handed on lazily so that ``import lrscope`` stays light (no torch, no matplotlib) until a name
that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "parse_schedule": ("lrscope.schedules", "parse_schedule"),
    "Schedule": ("lrscope.schedules", "Schedule"),
    "ScheduleLR": ("lrscope.schedules.torch", "ScheduleLR"),
    "Recorder": ("lrscope.logs.recorder", "Recorder"),
    "RunLog": ("lrscope.logs.runlog", "RunLog"),
    "read_log": ("lrscope.logs.read", "read_log"),
    "explain": ("lrscope.analysis.explain", "explain"),
    "find_lr": ("lrscope.probes.finder", "find_lr"),
    "NoiseMeter": ("lrscope.probes.noise", "NoiseMeter"),
    "landscape": ("lrscope.landscape", None),
    "curvature": ("lrscope.curvature", None),
    "UserError": ("lrscope.errors", "UserError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lrscope' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
