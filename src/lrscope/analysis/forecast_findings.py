"""Explain's forecast: on a step-schedule log whose training loss a loss law fits well, what each stage would have
given had it run half again as long (issue 18: "is it because I didn't train enough epochs?" gets a number).

The law is fitted as ``lrscope forecast`` fits it (:mod:`.forecast`); the sentence is that of ``lrscope forecast
--longer STAGE:N`` (:func:`.forecast.longer.longer_stage`), with N half the stage's length in the log's x unit.
Nothing is said when the fit is not good (mean relative error above :data:`GOOD_FIT`, a row off by more than
:data:`WORST_FIT`, or a note that the law misses the curve's shape), when the run is pathological, or when the
log has no step axis, no rate or no cut.
"""

from __future__ import annotations

from ..errors import UserError
from .explanation import Finding
from .pathology import blocks_advice
from .wording import Context, pct

GOOD_FIT = 0.01
WORST_FIT = 0.05
MORE = 0.5  # each stage asked about runs half again as long
MAX_ROWS = 50_000  # longer logs are fitted by lrscope forecast, not on every explain
MIN_ROWS = 8


def _nice(value: float) -> float:
    """Two significant digits, at least 1 (15 epochs, 2500 steps)."""
    return max(1.0, float(f"{value:.2g}"))


def forecast_findings(ctx: Context) -> list[Finding]:
    log = ctx.log
    if not (log.has("step") and log.has("lr") and log.has("train_loss")) or not MIN_ROWS <= log.rows <= MAX_ROWS:
        return []
    if not any(e.decay and e.source == "logged" for e in ctx.events) or blocks_advice(ctx):
        return []
    # imported here: SciPy's optimisers cost explain's start-up time, and most logs never get this far
    from .forecast import curve_from_log, fit
    from .forecast.choose import TITLES
    from .forecast.longer import longer_stage, stage_bounds, steps_per_unit

    try:
        curve, _ = curve_from_log(log, loss="train_loss", warmup_steps=None)
        fitted = fit([curve])
        stages = stage_bounds(curve.rates)
        per, _ = steps_per_unit(log)
    except UserError:
        return []
    if (fitted.mean_rel_error > GOOD_FIT or fitted.max_rel_error > WORST_FIT
            or any("not reliable" in note for note in fitted.notes)):
        return []
    out = []
    for k, (first, last) in enumerate(stages[:-1], start=1):
        entry = longer_stage(fitted, curve, log, k, _nice(MORE * (last - first + 1) / per))
        head = f"Forecast ({TITLES[fitted.law]}, fitted to this run within {pct(fitted.mean_rel_error)} on average)"
        out.append(Finding("forecast", None, f"{head}: {entry['text']}."))
    return out
