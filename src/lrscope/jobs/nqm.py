"""``lrscope nqm``: the noisy quadratic model under each schedule (lrscope.analysis.nqm), drawn with each
rate's floor (lrscope.viz.nqm), and a JSON summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.nqm import MAX_STEPS, Spectrum, expected_loss, floor_loss, rates
from ..errors import UserError
from ..outputs import FIGURE, check_output
from ..schedules import parse_schedule
from ..validate import check_float, check_int
from ..viz.nqm import plot_nqm

MAX_MODES = 10_000  # modes of the quadratic (memory and time grow with modes x steps)
NQM_SCHEMA = "lrscope.nqm/1"


def default_specs(steps: int) -> list[str]:
    third = max(steps // 3, 1)
    return [
        f"multistep(0.5, milestones=[{third}, {2 * third}])",
        f"onecycle(0.5, total={steps})",
        "constant(0.5)",
    ]


def nqm_job(
    out: str | Path,
    specs: list[str] | None = None,
    *,
    steps: int = 3000,
    batch_size: float = 1.0,
    modes: int = 100,
) -> dict:
    """E[L](t) of the NQM (h_i = 1/i for i = 1..modes, c_i = h_i, s_i(0) = 1) for each schedule spec, drawn
    into ``out``; returns the JSON summary.

    ``steps`` from 2 to ``MAX_STEPS`` (10**6), ``modes`` from 1 to ``MAX_MODES``, ``batch_size`` > 0; the specs
    are all parsed before anything is computed.
    """
    steps = check_int("--steps", steps, low=2, high=MAX_STEPS)
    modes = check_int("modes", modes, low=1, high=MAX_MODES)
    batch_size = check_float("batch size", batch_size, low=0.0, low_open=True, high=1e12)
    out = check_output(out, suffixes=FIGURE)
    specs = list(specs) if specs else default_specs(steps)
    schedules = [parse_schedule(spec) for spec in specs]  # every spec checked before any work
    spectrum = Spectrum.power_law(modes)
    curves, floors = [], {}
    for spec, schedule in zip(specs, schedules, strict=True):
        lrs = rates(schedule, steps)
        if np.any(lrs * spectrum.h.max() >= 2.0):
            raise UserError(
                f"{spec}: rates above {2 / spectrum.h.max():g} diverge on this quadratic (h_max = "
                f"{spectrum.h.max():g}); scale the schedule down"
            )
        loss = expected_loss(lrs, spectrum, batch_size)
        levels, counts = np.unique(lrs, return_counts=True)
        for lr in levels[(levels > 0) & (counts >= max(steps // 20, 2))].tolist():
            floors[float(lr)] = floor_loss(lr, spectrum, batch_size)
        curves.append({"spec": spec, "lrs": lrs, "loss": loss})
    plot_nqm(out, curves, floors, steps)
    return {
        "schema": NQM_SCHEMA,
        "out": str(out),
        "steps": steps,
        "batch_size": batch_size,
        "modes": modes,
        "curves": [{"spec": c["spec"], "final_loss": float(c["loss"][-1]), "min_rate": float(c["lrs"].min()),
                    "max_rate": float(c["lrs"].max())} for c in curves],
        "floors": [{"lr": lr, "loss": v} for lr, v in sorted(floors.items())],
    }
