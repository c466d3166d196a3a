"""Schedule-aware loss forecasting: fit a loss law on the user's own run(s), predict the curve under another
schedule (issue 18).  NumPy and SciPy only.

>>> import numpy as np
>>> from lrscope.analysis.forecast import Curve, fit, forecast, rates_from_schedule, step_rates
>>> from lrscope.schedules import parse_schedule
>>> step = np.arange(100, 6001, 100)                      # a log: one row every 100 steps, a cut at 4000
>>> rates, note = step_rates(step, np.where(step < 4000, 0.1, 0.01))
>>> loss = 2 + 3 * np.cumsum(rates)[step - 2] ** -0.5 - 0.4 * (1 - np.exp(-np.clip(step - 4000, 0, None) / 300))
>>> fitted = fit([Curve(step, loss, rates, name="run")])
>>> fitted.law
'mpl'
>>> cosine = rates_from_schedule(parse_schedule("cosine(0.1, total=6000)"), 6000)
>>> predicted, low, high = forecast(fitted, cosine, step)  # the loss had the run used a cosine instead
>>> bool(np.all((low <= predicted) & (predicted <= high)))
True

- :mod:`.rates`: the rate of every optimizer step, from a subsampled LR column (hold, interpolate, or auto
  per interval) or a schedule; the warm-up before the first logged row.
- :mod:`.curve`: :class:`Curve` (checked input) and :func:`annealing` (is there a decay to learn from).
- :mod:`.laws`: the power law, Tissue's LR-annealing law and the multi-power law, in scale-free units;
  :mod:`.area`: the power law in the area under the rate (no annealing term), for multi-epoch training;
  :mod:`.blocks`: the multi-power sum over blocks of steps.
- :mod:`.fit`: robust fitting of one law (Huber on log residuals, bounds, deterministic starts).
- :mod:`.choose`: :func:`fit`, with ``law="auto"`` choosing by held-out error or a documented default.
- :mod:`.band`: :func:`forecast`, the chosen law's prediction and the laws' disagreement as a band.
- :mod:`.fromlog`: :func:`curve_from_log`, a Curve from a RunLog.
"""

from __future__ import annotations

from .band import forecast
from .choose import LAW_NAMES, REFUSAL, fit
from .curve import Annealing, Curve, annealing
from .fitted import Fitted
from .fromlog import curve_from_log
from .rates import rates_from_schedule, step_rates, warmup_end

__all__ = [
    "LAW_NAMES",
    "REFUSAL",
    "Annealing",
    "Curve",
    "Fitted",
    "annealing",
    "curve_from_log",
    "fit",
    "forecast",
    "rates_from_schedule",
    "step_rates",
    "warmup_end",
]
