"""``lrscope toy SURFACE``: run the optimizers on a toy surface (lrscope.toy) and write the animation
(lrscope.viz.toy)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from ..outputs import ANIMATION, check_output
from ..toy.optimizers import OPTIMIZERS, run_rates
from ..toy.surfaces import get_surface
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


def make_toy(
    surface: str,
    out: str | Path,
    *,
    lrs: str | Sequence[float] | None = None,
    optimizer: str = "sgd",
    noise: float = 0.0,
    schedule: str | None = None,
    steps: int | None = None,
    frames: int = 60,
    seed: int = 0,
    three_d: bool = False,
) -> dict:
    """Run every rate (and the schedule) on ``surface`` and write ``out`` (.gif, .mp4 or .png).

    Returns a summary: the file, and per run its final loss and the step it diverged at (or None).
    """
    from ..viz.toy import output_format, save_animation

    out = check_output(out, suffixes=ANIMATION)
    surf = get_surface(surface)
    output_format(out)  # refuse a format we cannot write before computing anything
    if optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}")
    rates = parse_rates(lrs)
    if not rates and schedule is None:
        rates = list(surf.default_lrs)
    steps = surf.default_steps if steps is None else check_int("--steps", steps, low=1, high=1_000_000)
    frames = check_int("--frames", frames, low=2, high=2000)
    noise = check_float("--noise", noise, low=0.0, high=1e6)
    seed = check_seed("--seed", seed)
    traj = run_rates(surf, rates, steps=steps, optimizer=optimizer, noise=noise, seed=seed, schedule=schedule)
    path = save_animation(traj, out, frames=frames, three_d=three_d)
    return {
        "schema": "lrscope.toy/1",
        "out": str(path),
        "surface": surf.name,
        "optimizer": optimizer,
        "steps": steps,
        "runs": [
            {"label": label, "final_loss": _finite(traj.losses[r, -1]), "diverged_at": traj.diverged_at[r]}
            for r, label in enumerate(traj.labels)
        ],
    }


def _finite(value) -> float | None:
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None
