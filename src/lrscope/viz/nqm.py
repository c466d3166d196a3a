"""The noisy quadratic model's teaching picture: expected loss under several schedules, each rate's floor
drawn.

Piecewise-constant rates give the staircase (each cut drops the loss to the next floor within a few steps),
1cycle anneals smoothly below every floor, a constant rate sits on its floor.  Computes nothing itself: the
curves come from :mod:`lrscope.analysis.nqm`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.nqm import MAX_STEPS, Spectrum, expected_loss, floor_loss, rates
from ..errors import UserError
from ..validate import check_float, check_int
from .save import save_figure
from .schedule import decimate

MAX_MODES = 10_000  # modes of the quadratic (memory and time grow with modes x steps)

NQM_SCHEMA = "lrscope.nqm/1"


def default_specs(steps: int) -> list[str]:
    third = max(steps // 3, 1)
    return [
        f"multistep(0.5, milestones=[{third}, {2 * third}])",
        f"onecycle(0.5, total={steps})",
        "constant(0.5)",
    ]


def plot_nqm(
    out: str | Path,
    specs: list[str] | None = None,
    *,
    steps: int = 3000,
    batch_size: float = 1.0,
    modes: int = 100,
) -> dict:
    """Draw E[L](t) of the NQM (h_i = 1/i for i = 1..modes, c_i = h_i, s_i(0) = 1) for each schedule spec;
    return a JSON summary.

    ``steps`` from 2 to ``MAX_STEPS`` (10**6), ``modes`` from 1 to ``MAX_MODES``, ``batch_size`` > 0; the specs
    are all parsed before anything is computed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..schedules import parse_schedule

    steps = check_int("--steps", steps, low=2, high=MAX_STEPS)
    modes = check_int("modes", modes, low=1, high=MAX_MODES)
    batch_size = check_float("batch size", batch_size, low=0.0, low_open=True, high=1e12)
    out = Path(out)
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UserError(f"--out must end in .png, .pdf or .svg; got {out.name}")
    specs = list(specs) if specs else default_specs(steps)
    schedules = [parse_schedule(spec) for spec in specs]  # every spec checked before any work
    spectrum = Spectrum.power_law(modes)
    t = np.arange(steps + 1)
    fig, (ax_lr, ax) = plt.subplots(
        2, 1, figsize=(8, 6.5), sharex=True, gridspec_kw={"height_ratios": [1, 3]}
    )
    curves, floors = [], {}
    for i, (spec, schedule) in enumerate(zip(specs, schedules, strict=True)):
        lrs = rates(schedule, steps)
        if np.any(lrs * spectrum.h.max() >= 2.0):
            raise UserError(
                f"{spec}: rates above {2 / spectrum.h.max():g} diverge on this quadratic (h_max = "
                f"{spectrum.h.max():g}); scale the schedule down"
            )
        loss = expected_loss(lrs, spectrum, batch_size)
        color = f"C{i}"
        keep = decimate(lrs)  # at most a few thousand points a line, every spike kept
        ax_lr.plot(t[:-1][keep], lrs[keep], color=color, lw=1.2)
        keep = decimate(loss)
        ax.plot(t[keep], loss[keep], color=color, lw=1.6, label=spec)
        levels, counts = np.unique(lrs, return_counts=True)
        for lr in levels[(levels > 0) & (counts >= max(steps // 20, 2))].tolist():
            floors[float(lr)] = floor_loss(lr, spectrum, batch_size)
        curves.append(
            {
                "spec": spec,
                "final_loss": float(loss[-1]),
                "min_rate": float(lrs.min()),
                "max_rate": float(lrs.max()),
            }
        )
    for lr, value in sorted(floors.items()):
        ax.axhline(value, color="0.5", ls="--", lw=0.8)
        ax.annotate(
            f"floor at lr {lr:g}",
            (steps, value),
            xytext=(-4, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color="0.35",
        )
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("expected loss E[L]")
    ax.legend(fontsize=8, loc="upper right")
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_title(
        "Noisy quadratic model: each rate has a floor, each cut drops to the next one", fontsize=10
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    return {
        "schema": NQM_SCHEMA,
        "out": str(out),
        "steps": steps,
        "batch_size": batch_size,
        "modes": modes,
        "curves": curves,
        "floors": [{"lr": lr, "loss": v} for lr, v in sorted(floors.items())],
    }
