"""The intuition builders: toy (optimizers on a 2-D surface) and nqm (the noisy quadratic model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..console import say
from ..exits import watch_outputs
from .app import (
    app,
    print_json,
)

_NOISE_HELP = (
    "Gradient noise: std of a Gaussian added per step (default: 0; the surface's own without --lrs and --schedule)."
)


@app.command("toy")
def toy_cmd(
    surface: Annotated[str, typer.Argument(help="quadratic, rosenbrock, beale or rugged.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.gif, FILE.mp4 (needs ffmpeg) or FILE.png (last frame).")],
    lrs: Annotated[str | None, typer.Option("--lrs", help="Constant rates, comma-separated: 0.001,0.01.")] = None,
    optimizer: Annotated[str, typer.Option("--optimizer", help="sgd, momentum or adam.")] = "sgd",
    noise: Annotated[float | None, typer.Option("--noise", help=_NOISE_HELP)] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", help="Also run this schedule, e.g. "
                                                    "'piecewise([0.06, 0.006], [100])'.")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Optimizer steps (default: per surface).")] = None,
    frames: Annotated[int, typer.Option("--frames", help="Animation frames.")] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the gradient noise.")] = 0,
    three_d: Annotated[bool, typer.Option("--3d", help="Draw each run on a 3-D view of the surface.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Optimizers on a toy 2-D surface at several learning rates, animated (GIF/MP4) or as a picture (PNG).

    Without --lrs and --schedule, the surface's default run: on rugged, a low and a high rate beside a step
    schedule from one to the other, with gradient noise.
    """
    from ..jobs.toy import make_toy

    watch_outputs(out)
    summary = make_toy(surface, out, lrs=lrs, optimizer=optimizer, noise=noise, schedule=schedule, steps=steps,
                       frames=frames, seed=seed, three_d=three_d)
    if as_json:
        print_json(summary)
        return
    for run in summary["runs"]:
        end = f"diverged at step {run['diverged_at']}" if run["diverged_at"] else f"final loss {run['final_loss']:.4g}"
        say(f"{run['label']}: {end}")
    if summary["caption"]:
        say(summary["caption"])
    say(str(summary["out"]))


@app.command("nqm")
def nqm_cmd(
    out: Annotated[Path, typer.Option("--out", help="PNG (or PDF/SVG) file to write.")],
    schedule: Annotated[
        list[str] | None,
        typer.Option("--schedule", help="Schedule spec (repeatable; default: step, 1cycle, constant)."),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Steps of the schedules (t counts steps).")] = 3000,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary (lrscope.nqm/1).")] = False,
) -> None:
    """The noisy quadratic model under each schedule, with each rate's floor: the staircase, analytically."""
    from ..jobs.nqm import nqm_job

    watch_outputs(out)
    summary = nqm_job(out, schedule or None, steps=steps)
    if as_json:
        print_json(summary)
        return
    for curve in summary["curves"]:
        say(f"{curve['spec']}: final expected loss {curve['final_loss']:.4g}")
    say(str(summary["out"]))
