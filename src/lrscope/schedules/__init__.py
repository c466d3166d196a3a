"""Learning-rate schedules as pure functions of t, and their text form.

>>> from lrscope.schedules import parse_schedule
>>> s = parse_schedule("warmup(5, cosine(0.1, total=95))")
>>> s(5)
0.1

NumPy only: the torch adapter ``lrscope.schedules.torch.ScheduleLR`` is imported on its own, never from here.
"""

from __future__ import annotations

from .core import (
    SGDR,
    Constant,
    Cosine,
    Event,
    Events,
    Exponential,
    Join,
    Linear,
    MultiStep,
    OneCycle,
    Piecewise,
    Poly,
    Schedule,
    Step,
    Triangular,
    Warmup,
    constant,
    cosine,
    exponential,
    join,
    linear,
    multistep,
    onecycle,
    piecewise,
    poly,
    sgdr,
    step,
    triangular,
    warmup,
)
from .spec import SCHEDULES, format_spec, parse_schedule, signature

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
    "Warmup",
    "constant",
    "cosine",
    "exponential",
    "format_spec",
    "join",
    "linear",
    "multistep",
    "onecycle",
    "parse_schedule",
    "piecewise",
    "poly",
    "sgdr",
    "signature",
    "step",
    "triangular",
    "warmup",
]
