"""``lrscope toy SURFACE``: run the optimizers on a toy surface (lrscope.toy) and write the animation
(lrscope.viz.toy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..outputs import ANIMATION, check_output
from ..toy.optimizers import OPTIMIZERS, Trajectories, run_rates
from ..toy.story import Story, final_smoothed, smoothing_window, story_caption
from ..toy.surfaces import ToySurface, get_surface
from ..validate import check_float, check_int, check_seed

MAX_RATES = 12  # lines on one animation that a person can still tell apart


def parse_rates(text: str | Sequence[float] | None) -> list[float]:
    """'0.001,0.01,0.05' -> [0.001, 0.01, 0.05]; None -> [] (the surface's defaults); an empty list is an
    error."""
    if text is None:
        return []
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    if not parts or any(isinstance(p, str) and not p for p in parts):
        raise UserError(f"--lrs expects numbers separated by commas, like 0.001,0.01; got {text!r}")
    if len(parts) > MAX_RATES:
        raise UserError(f"--lrs takes at most {MAX_RATES} rates; got {len(parts)}")
    rates = []
    for part in parts:
        try:
            value = float(part)
        except (TypeError, ValueError):
            raise UserError(
                f"--lrs expects numbers separated by commas, like 0.001,0.01; got {text!r}"
            ) from None
        rates.append(check_float("each rate of --lrs", value, low=0.0, low_open=True, high=1e6))
    return rates


@dataclass
class ToyRuns:
    """The runs a ``lrscope toy`` command computes, before anything is drawn."""

    trajectories: Trajectories
    story: Story | None  # the surface's story, where the default run was asked for and the surface has one
    caption: str  # "" without a story


def toy_runs(
    surface: str | ToySurface,
    *,
    lrs: str | Sequence[float] | None = None,
    optimizer: str = "sgd",
    noise: float | None = None,
    schedule: str | None = None,
    steps: int | None = None,
    seed: int = 0,
) -> ToyRuns:
    """Run every rate (and the schedule) on ``surface``.

    With neither ``lrs`` nor ``schedule``, the surface's default run: its story where it has one (its low and high
    constant rates beside a step from high to low at half the steps, with the story's gradient noise unless
    ``noise`` is given, and a caption saying what it shows), else its default rates.  Outside a story ``noise``
    None means 0.
    """
    surf = surface if isinstance(surface, ToySurface) else get_surface(surface)
    if optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}")
    rates = parse_rates(lrs)
    steps = surf.default_steps if steps is None else check_int("--steps", steps, low=1, high=1_000_000)
    story = surf.story if not rates and schedule is None else None
    label = None
    if story is not None:
        rates = [story.low, story.high]
        schedule, label = story.schedule(steps), story.schedule_label(steps)
        noise = story.noise if noise is None else noise
    elif not rates and schedule is None:
        rates = list(surf.default_lrs)
    noise = check_float("--noise", 0.0 if noise is None else noise, low=0.0, high=1e6)
    seed = check_seed("--seed", seed)
    traj = run_rates(
        surf, rates, steps=steps, optimizer=optimizer, noise=noise, seed=seed, schedule=schedule, schedule_label=label
    )
    return ToyRuns(traj, story, story_caption(traj, story) if story is not None else "")


def make_toy(
    surface: str,
    out: str | Path,
    *,
    lrs: str | Sequence[float] | None = None,
    optimizer: str = "sgd",
    noise: float | None = None,
    schedule: str | None = None,
    steps: int | None = None,
    frames: int = 60,
    seed: int = 0,
    three_d: bool = False,
) -> dict:
    """:func:`toy_runs`, drawn into ``out`` (.gif, .mp4 or .png).

    Returns a summary: the file, per run its final loss (raw and smoothed) and the step it diverged at (or None),
    and the caption ("" where there is none).
    """
    from ..viz.toy import output_format, save_animation

    out = check_output(out, suffixes=ANIMATION)
    surf = get_surface(surface)
    output_format(out)  # refuse a format we cannot write before computing anything
    frames = check_int("--frames", frames, low=2, high=2000)
    runs = toy_runs(surf, lrs=lrs, optimizer=optimizer, noise=noise, schedule=schedule, steps=steps, seed=seed)
    traj = runs.trajectories
    path = save_animation(traj, out, frames=frames, three_d=three_d, caption=runs.caption)
    smoothed = final_smoothed(traj)
    return {
        "schema": "lrscope.toy/1",
        "out": str(path),
        "surface": surf.name,
        "optimizer": optimizer,
        "steps": traj.steps,
        "noise": traj.noise,
        "smoothing_window": smoothing_window(traj.steps),
        "runs": [
            {
                "label": label,
                "final_loss": _finite(traj.losses[r, -1]),
                "final_smoothed_loss": _finite(smoothed[r]),
                "diverged_at": traj.diverged_at[r],
            }
            for r, label in enumerate(traj.labels)
        ],
        "caption": runs.caption,
    }


def _finite(value) -> float | None:
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None
