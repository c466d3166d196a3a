"""Learning-rate schedules as pure functions of t, and their text form.

>>> from lrscope.schedules import parse_schedule
>>> s = parse_schedule("warmup(5, cosine(0.1, total=95))")
>>> s(5)
0.1

The value and its text live in ``core`` (events in ``events``); the schedules in ``decays``, ``cyclical`` and
``composites``; reading specs, JSON and ``auto`` in ``spec``.  NumPy only: the torch adapter
``lrscope.schedules.torch.ScheduleLR`` is imported on its own, never from here.
"""

from __future__ import annotations

from .composites import Join, Warmup, join, warmup
from .core import Schedule, format_spec, signature
from .cyclical import SGDR, OneCycle, Triangular, onecycle, sgdr, triangular
from .decays import (
    Constant,
    Cosine,
    Exponential,
    Linear,
    MultiStep,
    Piecewise,
    Poly,
    Step,
    constant,
    cosine,
    exponential,
    linear,
    multistep,
    piecewise,
    poly,
    step,
)
from .events import Event, Events
from .spec import SCHEDULES, check_spec, fill_auto, has_auto, parse_schedule, schedule_from_json
from .wsd import WSD, wsd

__all__ = [
    "SCHEDULES",
    "SGDR",
    "Constant",
    "Cosine",
    "Event",
    "Events",
    "Exponential",
    "Join",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Piecewise",
    "Poly",
    "Schedule",
    "Step",
    "Triangular",
    "WSD",
    "Warmup",
    "check_spec",
    "constant",
    "cosine",
    "exponential",
    "fill_auto",
    "format_spec",
    "has_auto",
    "join",
    "linear",
    "multistep",
    "onecycle",
    "parse_schedule",
    "piecewise",
    "poly",
    "schedule_from_json",
    "sgdr",
    "signature",
    "step",
    "triangular",
    "wsd",
    "warmup",
]
