"""lrscope: understand and control learning-rate dynamics in neural-network training.

The public API is handed on lazily so that ``import lrscope`` stays light (no torch, no matplotlib) until a name
that needs them is used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute): what a user calls, by what it is for (docs/api.md)
_LAZY: dict[str, tuple[str, str]] = {
    # schedules
    "parse_schedule": ("lrscope.schedules", "parse_schedule"),
    "Schedule": ("lrscope.schedules", "Schedule"),
    "ScheduleLR": ("lrscope.schedules.torch", "ScheduleLR"),
    # logs: read anyone's log, record your own loop
    "read_log": ("lrscope.logs.read", "read_log"),
    "RunLog": ("lrscope.logs.runlog", "RunLog"),
    "Recorder": ("lrscope.logs.recorder", "Recorder"),
    # analysis
    "explain": ("lrscope.analysis.explain", "explain"),
    # the reference runner (run it with lrscope.train.train: the package's name is taken by the package)
    "TrainConfig": ("lrscope.train.config", "TrainConfig"),
    # probes of a model
    "find_lr": ("lrscope.probes.finder", "find_lr"),
    "confirm_lr": ("lrscope.analysis.finder_confirm", "confirm_lr"),
    "NoiseMeter": ("lrscope.probes.noise", "NoiseMeter"),
    "plane": ("lrscope.probes.landscape", "plane"),
    "line": ("lrscope.probes.landscape", "line"),
    "interpolate": ("lrscope.probes.landscape", "interpolate"),
    "trajectory": ("lrscope.probes.landscape", "trajectory"),
    "top_eigenvalues": ("lrscope.probes.curvature", "top_eigenvalues"),
    "hutchinson_trace": ("lrscope.probes.curvature", "hutchinson_trace"),
    "SharpnessHook": ("lrscope.probes.curvature", "SharpnessHook"),
    # errors
    "UserError": ("lrscope.errors", "UserError"),
}

__all__ = ["__version__", *_LAZY]

# Scripts written against lrscope 0.1 import the landscape and curvature probes by these short names; they are
# the probes' own modules under a second name (no second module, no copy of their code).
_MODULE_ALIASES = {"lrscope.landscape": "lrscope.probes.landscape", "lrscope.curvature": "lrscope.probes.curvature"}


class _ModuleAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import lrscope.landscape`` gives ``lrscope.probes.landscape`` itself (imported when first asked for)."""

    def find_spec(self, name, path, target=None):
        return importlib.util.spec_from_loader(name, self) if name in _MODULE_ALIASES else None

    def create_module(self, spec):
        return importlib.import_module(_MODULE_ALIASES[spec.name])

    def exec_module(self, module) -> None:
        """The module was executed under its own name already."""


if not any(isinstance(finder, _ModuleAlias) for finder in sys.meta_path):
    sys.meta_path.append(_ModuleAlias())


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lrscope' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
