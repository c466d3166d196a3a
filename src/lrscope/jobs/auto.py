"""``auto`` in a schedule spec, resolved for a run: the LR range test runs first (same data, model, optimizer,
batch size and seed as the run) and :func:`lrscope.schedules.fill_auto` puts its answer in.  Which answer
depends on the parameter the word stands for:

- ``max_lr`` (onecycle's peak, triangular's top): the range's upper bound (the turn / 1.5, or 3x the
  turn for a model with BatchNorm, where the turn is where 80 % of the loss drop is done:
  :mod:`lrscope.analysis.finder_curve`);
- ``base_lr`` and ``min_lr`` (triangular's bottom, a floor): the range's lower bound (10 % of the drop);
- any other rate (constant, step, multistep, cosine, ...'s ``lr``; linear's ``start``): the suggestion (the
  turn / 3; the turn itself with BatchNorm).

So on digits + cnn ``onecycle(auto, total=60)`` becomes ``onecycle(0.197, total=60)`` and
``triangular(auto, auto, 8)`` becomes ``triangular(0.0249, 0.197, 8)``.
"""

from __future__ import annotations

import dataclasses

from ..console import note
from ..schedules import check_spec, has_auto
from ..train import distributed
from .find import as_train_config, find_for_config


def resolve_auto(spec: str, config, *, result=None) -> str:
    """``spec`` with every ``auto`` replaced by a number from a range test on ``config``'s run (``result``: a
    range test already run on it).  Returns the spec text unchanged when there is no ``auto``."""
    if not has_auto(spec):
        return spec
    check_spec(spec)  # a spec that will not read is refused before the range test, not after it
    config = as_train_config(config)
    if result is None:
        result = find_for_config(dataclasses.replace(config, schedule="constant(0.1)"))
    filled = result.fill_auto(spec)  # read as parse_schedule reads it: same refusals
    low, high = result.range
    if distributed.is_main():
        note(f"auto: range test suggests {result.suggestion:.3g}, range {low:.3g} .. {high:.3g}; "
             f"schedule {filled}")
    return filled
