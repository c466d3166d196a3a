"""One run to fit or to compare with: logged (step, loss) rows and the rate of every optimizer step.

:class:`Curve` checks its input when it is built (one-line :class:`UserError` for NaN, non-positive losses, rates
that do not cover the logged steps).  :func:`annealing` says whether a run holds what the schedule-aware laws
learn from: a rate decrease after the warm-up, with logged rows after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UserError
from .rates import checked_rates, checked_steps, warmup_end

# A run is annealed when at least ANNEALED_ROWS logged rows (after the warm-up) sit at a rate at least
# ANNEAL_FRACTION below the highest rate before them: a decrease the loss had rows to respond to.
ANNEAL_FRACTION = 0.1
ANNEALED_ROWS = 3
# A decrease is sharp when 10 % to 90 % of it happens within SHARP_SPAN of the steps after the warm-up (a step or
# a wsd cooldown); otherwise smooth (cosine, linear to the end).
SHARP_SPAN = 0.3


@dataclass
class Curve:
    """One run's logged rows and per-step rates.

    ``step``: 1-based optimizer steps of the logged rows, increasing; ``loss``: the loss at those rows (> 0);
    ``rates``: ``rates[t-1]`` is the rate optimizer step t used, for every step 1..max(step) (longer is allowed);
    ``warmup_steps``: the warm-up's length, 0 = read it from ``rates`` (:func:`~.rates.warmup_end`).
    """

    step: np.ndarray
    loss: np.ndarray
    rates: np.ndarray
    name: str = ""
    warmup_steps: int = 0

    def __post_init__(self):
        label = self.label
        self.step = checked_steps(self.step, f"{label}: step")
        loss = np.asarray(self.loss, dtype=np.float64).ravel()
        if loss.size != self.step.size:
            raise UserError(f"{label}: step and loss must have one value per row; got {self.step.size} steps and "
                            f"{loss.size} losses")
        if not np.all(np.isfinite(loss)):
            raise UserError(f"{label}: the loss holds NaN or infinite values at {int((~np.isfinite(loss)).sum())} "
                            f"rows; drop them or give a log without them")
        if np.any(loss <= 0):
            raise UserError(f"{label}: the laws need a positive loss; got {loss.min():g} (a log-probability or a "
                            f"shifted metric?)")
        self.loss = loss
        self.rates = checked_rates(self.rates, f"{label}: rates")
        if self.rates.size < self.step[-1]:
            raise UserError(f"{label}: rates cover steps 1-{self.rates.size} but the log reaches step "
                            f"{int(self.step[-1])}; expected one rate per optimizer step up to the last row")
        self.rates = self.rates[: int(self.step[-1])]
        if int(self.warmup_steps) < 0:
            raise UserError(f"{label}: warmup_steps must be >= 0; got {self.warmup_steps!r}")
        self.warmup_steps = int(self.warmup_steps)

    @property
    def label(self) -> str:
        return self.name or "curve"

    @property
    def warmup(self) -> int:
        """The warm-up's length in steps: ``warmup_steps`` when given, else what the rates show."""
        return self.warmup_steps if self.warmup_steps > 0 else warmup_end(self.rates)

    @property
    def after_warmup(self) -> np.ndarray:
        """Mask of the rows logged after the warm-up (the rows the laws describe)."""
        return self.step > self.warmup


@dataclass(frozen=True)
class Annealing:
    """What a run's rates hold for the annealing terms: ``annealed`` (a decrease with rows after it), the step
    where it starts (``start``: the first step ANNEAL_FRACTION below the peak), how long 10-90 % of the decrease
    takes (``span``, steps) and whether that is ``sharp``."""

    annealed: bool
    start: int
    span: int
    sharp: bool


def annealing(curve: Curve) -> Annealing:
    """Whether ``curve`` anneals after its warm-up, where, and how sharply."""
    rates = curve.rates
    warm = curve.warmup
    peak = np.maximum.accumulate(rates)
    low = rates <= (1 - ANNEAL_FRACTION) * peak
    low[:warm] = False
    rows = curve.step[low[curve.step - 1]]
    if rows.size < ANNEALED_ROWS:
        return Annealing(False, 0, 0, False)
    drops = np.clip(rates[:-1] - rates[1:], 0, None)
    drops[: max(warm - 1, 0)] = 0
    total = np.cumsum(drops)
    span = int(np.searchsorted(total, 0.9 * total[-1]) - np.searchsorted(total, 0.1 * total[-1]))
    length = max(rates.size - warm, 1)
    return Annealing(True, int(np.argmax(low)) + 1, span, span <= SHARP_SPAN * length)
