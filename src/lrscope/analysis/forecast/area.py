"""The area law: the loss as a power law in the area under the rate, with no annealing term.

    L(t) = L0 + A * (S1(t) + s0)^-alpha,   S1(t) = sum of eta over the updates before row t

It is the schedule-aware laws (:mod:`.laws`) with their annealing term taken out, or the plain power law with
steps replaced by the area.  What it changes: a decay buys no drop of its own; it only slows the progress the
area brings.  That is what multi-epoch training shows once the training loss heads for zero (the net fits its
examples, and the gradient noise a decay would quiet goes with the loss): on the digits CNN
(bench/bench_forecast.py) a decay brings no fall beyond what the constant rate reaches in the same epochs, and
the constant rate ends lowest (5e-4 against 1.4e-3 after a 20/30-epoch multistep).  Tissue's and the
multi-power law, fitted on one decayed run there, credit the decay with a drop: their mean relative error on
the other schedules is 3 to 18 times this law's, and they rank the final losses at Spearman -0.48 to 0.67
where this law reaches 0.94 from each fit run.  ``s0`` plays the part of the multi-power law's warm-up area
S_W: it keeps the first rows finite.

Use it (``law="area"``) for a training loss that falls by orders of magnitude; where the loss settles on a
noise floor that a decay lowers (language models, most validation losses), the annealing laws are the ones.
It needs no decay in the fitted run, and :func:`~.choose.fit` never chooses it on its own.
"""

from __future__ import annotations

from .laws import PowerLaw


class AreaLaw(PowerLaw):
    """L = L0 + A * (S1 + s0)^-alpha, S1 the area under the rate (no annealing term)."""

    name = "area"
    title = "power law in the area under the rate"
    names = ("L0", "A", "alpha", "s0")

    def features(self, run):
        return run.s1

    def user_params(self, theta, scale):
        L0, A, alpha, s0 = (float(v) for v in theta)
        area = scale.peak * scale.horizon  # the area that is 1 in the fit's units
        return {"L0": L0, "A": A * area**alpha, "alpha": alpha, "s0": s0 * area}
