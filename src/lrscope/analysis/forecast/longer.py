"""``--longer STAGE:N``: had stage STAGE of the fitted run lasted N more x units, what would the loss have been
after the next decay?

The stages are the stretches between the rate's cuts (a fall of at least 1.3x from one step to the next, the rule
explain uses for a logged step), numbered from 1 as explain numbers them.  The longer schedule repeats the stage's
rate for N more x units (converted to steps with the log's steps per x unit) and then runs the rest of the
schedule unchanged; the answer is the fitted law's loss at the end of the next stage (the end of the run for the
last stage), beside the law's value and the logged loss there without the change.
"""

from __future__ import annotations

import re

import numpy as np

from ...errors import UserError
from .band import forecast

CUT = 1.3  # a step-to-step fall of at least this factor is a cut between stages


def parse_longer(text: str) -> tuple[int, float]:
    """"2:5000" -> (2, 5000.0); one clear line for anything else."""
    found = re.fullmatch(r"\s*(\d+)\s*:\s*([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*", str(text))
    if not found or int(found.group(1)) < 1 or float(found.group(2)) <= 0:
        raise UserError(f"--longer takes STAGE:N (a stage number from 1, as explain numbers them, and how many more "
                        f"x units it runs, > 0), e.g. --longer 1:20; got {text!r}")
    return int(found.group(1)), float(found.group(2))


def stage_bounds(rates: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) 1-based steps of each stage of a per-step rate sequence."""
    cuts = np.nonzero(rates[1:] * CUT <= rates[:-1])[0] + 1  # index of the first step at the lower rate
    starts = [0, *cuts.tolist()]
    ends = [*cuts.tolist(), rates.size]
    return [(a + 1, b) for a, b in zip(starts, ends, strict=True)]


def steps_per_unit(log) -> tuple[float, str]:
    """Steps per x unit of the log, and the unit's name."""
    unit = log.x_name if log.x_name not in ("row", "") else "step"
    step = log.role("step")
    if step is None or unit == "step" or log.roles.get("step") == log.x_name:
        return 1.0, "step" if unit in ("step", log.roles.get("step")) else unit
    x = log.x
    keep = np.isfinite(x) & np.isfinite(step)
    if keep.sum() < 2:
        raise UserError(f"--longer: cannot tell how many steps one {unit} is (fewer than two rows hold both)")
    per = np.diff(step[keep]) / np.diff(x[keep])
    per = per[np.isfinite(per) & (per > 0)]
    if not per.size:
        raise UserError(f"--longer: cannot tell how many steps one {unit} is from the log")
    return float(np.median(per)), unit


def _plural(n: float, unit: str) -> str:
    text = f"{n:g}"
    return f"{text} more {unit}" + ("" if text == "1" else "s")


def longer_stage(law, curve, log, stage: int, amount: float) -> dict:
    """Had ``stage`` of ``curve`` (read from ``log``, whose x unit N counts) run ``amount`` more x units: the
    ``law``'s loss at the end of the next stage, with its band, beside the law's and the log's value there now
    (the ``longer`` entry of ``lrscope forecast --longer STAGE:N``)."""
    stages = stage_bounds(curve.rates)
    if len(stages) < 2:
        raise UserError(f"--longer: {curve.label} has no cut in its rate (it is one stage); --longer asks about a "
                        "step schedule's stages")
    if stage > len(stages):
        raise UserError(f"--longer {stage}:{amount:g}: {curve.label} has {len(stages)} stages (1-{len(stages)})")
    per, unit = steps_per_unit(log)
    more = int(round(amount * per))
    if more < 1:
        raise UserError(f"--longer {stage}:{amount:g} is less than one optimizer step ({per:g} steps per {unit})")
    first, last = stages[stage - 1]
    rate = float(curve.rates[last - 1])
    rates = np.concatenate([curve.rates[:last], np.full(more, rate), curve.rates[last:]])
    end = stages[stage][1] if stage < len(stages) else stages[-1][1]
    at = np.array([end + more], dtype=np.float64)
    loss, low, high = forecast(law, rates, at)
    fitted_there = float(law.predict(curve.rates, np.array([float(end)]))[0])
    logged = curve.loss[curve.step <= end]
    logged_there = float(logged[-1]) if logged.size else None
    where = f"the end of stage {stage + 1}" if stage < len(stages) else "the end of the run"
    span = f"{unit}s {first}-{last}" if per == 1 else f"{unit}s {int((first - 1) // per) + 1}-{int(last / per + 1e-9)}"
    logged_words = f" ({logged_there:#.4g} logged)" if logged_there is not None else ""
    text = (f"had stage {stage} ({span}, LR {rate:.3g}) run {_plural(amount, unit)}, the loss at {where} would be "
            f"about {loss[0]:#.4g} (band {low[0]:#.4g}-{high[0]:#.4g}) at step {int(at[0])}, against "
            f"{fitted_there:#.4g} as fitted at step {end}{logged_words}")
    return {"stage": stage, "more": amount, "unit": unit, "more_steps": more, "at_step": int(at[0]),
            "loss": float(loss[0]), "low": float(low[0]), "high": float(high[0]),
            "without": {"at_step": int(end), "fitted": fitted_there, "logged": logged_there}, "text": text}
