"""Confirming the range test's rate by training the recipe itself at a few rates around it.

A range test reads the training loss over about a hundred steps.  What decides the best rate of a whole run can
lie beyond what those steps show: the SGD noise floor the run ends on (a constant rate bounces at a level
proportional to rate x gradient noise) and, on noisy data, how far the run fits the noise.  On lrscope's noisy
Gaussian clusters the best constant rate lies 10-20x below the sweep's turn, where the training loss alone
suggests the opposite (bench/RESULTS.md, "LR finder regret", issue 20).  Only the validation loss of runs as
long as the real one sees that, so :func:`confirm_lr` trains the recipe at

    r_k = r * 10**d_k,  d_k in CONFIRM_OFFSETS = (-1.5, -1.0, -0.5, 0.0, +0.5)

(``r``: the finder's suggestion, or 1cycle's peak) and keeps the candidate with the lowest validation loss.
When the best candidate is the highest or the lowest, the optimum may lie beyond the offsets (a BatchNorm net's
1cycle peak can sit a decade above the sweep's rate), so up to CONFIRM_EXTEND more runs go half a decade at a
time past that end until a worse rate brackets the best.

The best run is the model to keep.  The rate to train with next is refined between candidates: the vertex of
the parabola through the best run and its two neighbours in log10(rate),

    x* = x_b - ((x_b - x_a)^2 (L_b - L_c) - (x_b - x_c)^2 (L_b - L_a))
               / (2 ((x_b - x_a)(L_b - L_c) - (x_b - x_c)(L_b - L_a))),

moved at most REFINE_LIMIT = 0.15 decade (1.4x) from x_b.  Unclipped, the vertex is pulled away from the
steep side of the loss (the cliff above the best rate: 1.84 points lost on the bench's digits CNN with SGD at
a constant rate, against -0.14 for the best run's rate) and mean regret rose to 0.46; clipped, the
refined rate lies within 2x of the grid's optimum in 82-84 % of cases for limits 0.10-0.20, against 72 % for
the best run's own rate (bench/RESULTS.md).

The offsets reach further down than up because the sweep's rate is already at the top of what trains stably
(the turn, or its third) and the misses that training reveals are all below it.  The cost is five to seven runs
of the recipe, against a grid search's seven or more rates per seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CONFIRM_OFFSETS = (-1.5, -1.0, -0.5, 0.0, 0.5)  # decades around the finder's rate
CONFIRM_EXTEND = 2  # runs at most beyond an end of the offsets, while the best candidate sits at that end
REFINE_LIMIT = 0.15  # decades the refined rate may move from the best run's
CONFIRM_SCHEMA = "lrscope.finder-confirm/1"


def confirm_rates(rate: float, offsets: tuple[float, ...] = CONFIRM_OFFSETS) -> list[float]:
    """The candidate rates ``rate * 10**d`` for ``d`` in ``offsets``, lowest first.

    >>> [f"{r:.3g}" for r in confirm_rates(0.1)]
    ['0.00316', '0.01', '0.0316', '0.1', '0.316']
    """
    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise ValueError(f"the rate to confirm must be a positive number; got {rate!r}")
    if not offsets:
        raise ValueError("confirm needs at least one offset")
    return [float(rate) * 10.0 ** d for d in sorted(offsets)]


def choose_confirmed(val_losses: list[float]) -> int:
    """Index of the lowest finite validation loss (the first of equals); a run that diverged reports a
    non-finite loss and is never chosen.

    >>> choose_confirmed([0.9, 0.7, float("nan"), 0.8])
    1
    """
    finite = [(loss, i) for i, loss in enumerate(val_losses) if isinstance(loss, int | float) and math.isfinite(loss)]
    if not finite:
        raise ValueError("every candidate rate diverged or gave no validation loss: the recipe does not train "
                         "at any of them")
    return min(finite)[1]


def beyond_end(rates: list[float], val_losses: list[float]) -> float | None:
    """The next rate to train when the best candidate is the highest or the lowest (the optimum may lie beyond
    it): one more step past that end, the step being the ratio of the two end rates; None when the best is
    bracketed by worse (or diverged) neighbours.

    >>> beyond_end([0.01, 0.1, 1.0], [0.9, 0.8, 0.7])     # best at the top: try 10
    10.0
    >>> beyond_end([0.01, 0.1, 1.0], [0.9, 0.7, 0.8]) is None
    True
    """
    if len(rates) < 2:
        return None
    best = choose_confirmed(val_losses)
    if best == len(rates) - 1:
        return rates[-1] * (rates[-1] / rates[-2])
    if best == 0:
        return rates[0] * (rates[0] / rates[1])
    return None


def refine_rate(rates: list[float], val_losses: list[float], limit: float = REFINE_LIMIT) -> float:
    """The rate between candidates to train with: the vertex of the parabola through the best run and its two
    neighbours (log10 rate against validation loss), at most ``limit`` decades from the best run's rate.  The
    best run's own rate where it has no finite neighbour on each side or the three do not curve upwards.

    >>> f"{refine_rate([0.01, 0.1, 1.0], [0.9, 0.5, 0.6]):.3g}"     # vertex 10^-0.7, clipped to 10^-0.85
    '0.141'
    >>> refine_rate([0.01, 0.1, 1.0], [0.9, 0.5, float("nan")])     # no finite upper neighbour
    0.1
    """
    best = choose_confirmed(val_losses)
    if not 0 < best < len(rates) - 1 or not all(math.isfinite(v) for v in val_losses[best - 1:best + 2]):
        return rates[best]
    (xa, xb, xc), (la, lb, lc) = [math.log10(r) for r in rates[best - 1:best + 2]], val_losses[best - 1:best + 2]
    denominator = (xb - xa) * (lb - lc) - (xb - xc) * (lb - la)
    if denominator >= 0:  # flat or curving downwards: no minimum between them
        return rates[best]
    vertex = xb - 0.5 * ((xb - xa) ** 2 * (lb - lc) - (xb - xc) ** 2 * (lb - la)) / denominator
    return 10.0 ** min(max(vertex, xb - limit), xb + limit)


@dataclass
class ConfirmResult:
    """What :func:`confirm_lr` measured: the candidate rates, each one's validation loss (and whatever else its
    training returned, in ``details``), and the chosen one."""

    base: float  # the finder's rate the candidates are spread around
    rates: list[float]
    val_losses: list[float]
    chosen_index: int
    details: list[dict[str, Any]]

    @property
    def chosen(self) -> float:
        return self.rates[self.chosen_index]

    @property
    def factor(self) -> float:
        """chosen / base: how far training moved the finder's rate."""
        return self.chosen / self.base

    @property
    def refined(self) -> float:
        """The rate to train the recipe with next (:func:`refine_rate`): between the best run and its better
        neighbour, at most REFINE_LIMIT decades from the best run."""
        return refine_rate(self.rates, self.val_losses)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": CONFIRM_SCHEMA,
            "base": float(self.base),
            "chosen": float(self.chosen),
            "factor": float(self.factor),
            "refined": float(self.refined),
            "candidates": [
                {"rate": float(r), "val_loss": float(v) if math.isfinite(v) else None, **d}
                for r, v, d in zip(self.rates, self.val_losses, self.details, strict=True)
            ],
        }


def confirm_lr(train_at: Callable[[float], Any], rate: float, *,
               offsets: tuple[float, ...] = CONFIRM_OFFSETS, extend: int = CONFIRM_EXTEND) -> ConfirmResult:
    """Train at each candidate around ``rate`` (:func:`confirm_rates`) and keep the lowest validation loss;
    while the best is the highest or lowest candidate, train up to ``extend`` more rates beyond that end
    (:func:`beyond_end`), so that the rate kept is bracketed by worse ones whenever the budget allows.

    ``train_at(lr)`` trains the full recipe from the same initial weights at peak rate ``lr`` and returns its
    final validation loss: a number, or a dict with ``"val_loss"`` and anything else worth keeping (accuracy,
    a run directory), which lands in :attr:`ConfirmResult.details`.  A diverged run returns ``nan`` or
    ``inf``.  ``rate`` is what the finder gave for the recipe's schedule: ``result.suggestion`` for a constant
    or step schedule, ``result.range[1]`` for 1cycle's peak.

    >>> result = confirm_lr(lambda lr: (lr - 0.01) ** 2, 0.1)   # a recipe whose best rate is 0.01
    >>> f"{result.chosen:.3g}", f"{result.factor:.3g}"
    ('0.01', '0.1')
    """
    if not (isinstance(extend, int) and extend >= 0):
        raise ValueError(f"extend must be a whole number >= 0; got {extend!r}")
    rates = confirm_rates(rate, offsets)
    losses, details = [], []
    for lr in rates:
        loss, extra = _trained(train_at, lr)
        losses.append(loss)
        details.append(extra)
    for _ in range(extend):
        lr = beyond_end(rates, losses)
        if lr is None:
            break
        loss, extra = _trained(train_at, lr)
        at = 0 if lr < rates[0] else len(rates)
        rates.insert(at, lr)
        losses.insert(at, loss)
        details.insert(at, extra)
    return ConfirmResult(float(rate), rates, losses, choose_confirmed(losses), details)


def _trained(train_at: Callable[[float], Any], lr: float) -> tuple[float, dict[str, Any]]:
    """``train_at(lr)``'s validation loss and the rest of what it returned."""
    got = train_at(lr)
    if isinstance(got, dict):
        if "val_loss" not in got:
            raise ValueError(f"train_at({lr:.3g}) returned a dict without 'val_loss': {sorted(got)}")
        loss, extra = got["val_loss"], {k: v for k, v in got.items() if k != "val_loss"}
    else:
        loss, extra = got, {}
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        raise ValueError(f"train_at({lr:.3g}) must return the validation loss as a number; got "
                         f"{type(loss).__name__}") from None
    return loss, extra
