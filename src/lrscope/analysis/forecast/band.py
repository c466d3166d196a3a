"""``forecast``: the chosen law's loss under a target schedule, and a band from the laws' disagreement.

The band is [min, max] over the predictions of every schedule-aware law fitted to the run(s) (``by_law``), the
chosen one included, widened where needed to at least the chosen law's own error scale around its
prediction: loss * (1 -/+ e), e = the larger of its mean relative error on the fitted rows and its held-out
error.  It says how much two laws that both describe the fitted run well disagree about this schedule; it is
not a confidence interval (both laws can be wrong the same way, and far beyond the fitted horizon they
usually are): bench/RESULTS.md measures how often the logged loss falls inside it.
"""

from __future__ import annotations

import numpy as np

from ...errors import UserError
from .fitted import Fitted


def forecast(fitted_by_law: dict[str, Fitted] | Fitted, rates, steps,
             warmup_steps: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loss, low, high) at 1-based ``steps`` under the per-step ``rates``.

    ``fitted_by_law``: the :class:`Fitted` that :func:`~.choose.fit` returned (its ``by_law`` gives the band),
    or a dict of fitted laws whose first entry is the one to centre on.
    """
    if isinstance(fitted_by_law, Fitted):
        centre = fitted_by_law
        laws = list(fitted_by_law.by_law.values()) or [centre]
    elif isinstance(fitted_by_law, dict) and fitted_by_law and all(isinstance(f, Fitted)
                                                                     for f in fitted_by_law.values()):
        laws = list(fitted_by_law.values())
        centre = laws[0]
    else:
        raise UserError("forecast takes a Fitted (from fit) or a non-empty dict of law name -> Fitted")
    loss = centre.predict(rates, steps, warmup_steps)
    others = [f.predict(rates, steps, warmup_steps) for f in laws if f is not centre]
    scale = max(centre.mean_rel_error, centre.heldout_rel_error or 0.0)
    low = np.minimum.reduce([loss * (1 - scale), *others])
    high = np.maximum.reduce([loss * (1 + scale), *others])
    return loss, low, high
