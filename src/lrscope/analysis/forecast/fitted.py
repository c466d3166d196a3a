"""A fitted law: its constants, how well it fits, and the loss it predicts under any per-step rate sequence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import UserError
from .laws import Law, Scale, make_run
from .rates import checked_rates, checked_steps, warmup_end

PREDICT_CHUNK = 2048  # rows per evaluation: bounds the multi-power law's (rows x blocks) matrix


@dataclass
class Fitted:
    """One law fitted to one or several runs (shared constants).

    ``params``: the constants in the user's units (rates and steps as logged); ``rows``: logged rows fitted (after
    the warm-up); ``mean_rel_error``/``max_rel_error``: |predicted - logged| / logged over those rows, fractions;
    ``heldout_rel_error``: the mean relative error on rows the fit did not see (None when the data allow no
    held-out part); ``notes``: sentences the user should read; ``choice``: why this law (``law="auto"``);
    ``by_law``: every law fitted for the choice, this one included (the band of :func:`~.band.forecast`).
    """

    law: str
    params: dict[str, float]
    rows: int
    mean_rel_error: float
    max_rel_error: float
    heldout_rel_error: float | None
    notes: list[str]
    choice: str
    theta: np.ndarray = field(repr=False)
    scale: Scale = field(repr=False)
    model: Law = field(repr=False)
    curves: tuple[str, ...] = ()
    loss_kind: str = "train"
    by_law: dict[str, Fitted] = field(default_factory=dict, repr=False)

    def predict(self, rates, steps, warmup_steps: int | None = None) -> np.ndarray:
        """The loss at 1-based optimizer ``steps`` under the per-step ``rates`` (``rates[t-1]``: step t's rate).

        ``warmup_steps``: where the target's warm-up ends (None: read from the rates).  Inside the warm-up the
        laws say nothing meaningful; the values there are the formula's.  A formula that falls below zero far
        from the fitted run (a loss cannot) is cut at 0.
        """
        steps = checked_steps(steps, "forecast steps")
        rates = checked_rates(rates, "forecast rates")
        if rates.size < steps[-1]:
            raise UserError(f"forecast rates cover steps 1-{rates.size} but a forecast was asked at step "
                            f"{int(steps[-1])}; give one rate per step up to the last")
        warm = warmup_end(rates[: int(steps[-1])]) if warmup_steps is None else int(warmup_steps)
        out = np.empty(steps.size)
        for start in range(0, steps.size, PREDICT_CHUNK):
            part = steps[start: start + PREDICT_CHUNK]
            run = make_run(rates, warm, part, self.scale)
            out[start: start + part.size] = self.model.value(self.theta, self.model.features(run))
        return np.maximum(out, 0.0)

    def to_json(self) -> dict:
        """The fit as plain JSON values (what ``lrscope forecast --json`` reports under "fit")."""
        return {"law": self.law, "params": dict(self.params), "rows": self.rows,
                "mean_rel_error": self.mean_rel_error, "max_rel_error": self.max_rel_error,
                "heldout_rel_error": self.heldout_rel_error, "notes": list(self.notes), "choice": self.choice,
                "curves": list(self.curves), "loss_kind": self.loss_kind}
