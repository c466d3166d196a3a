"""What an LR range test found: one :class:`Sweep` per repeat, and the :class:`FinderResult` that combines them.

With several repeats every rule is combined as the median in log space; ``spread`` is log10(max/min) of the
per-repeat suggestions, in decades.  ``band`` and ``peak_band`` say where the rates within 1 % of the best
validation loss are expected, around the suggestion and around 1cycle's peak (the range's top), from the
regret bench (:func:`lrscope.analysis.finder_curve.band_around`).  The JSON document is ``lrscope.finder/1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..schedules import fill_auto
from .finder_confirm import REFINE_LIMIT, ConfirmResult
from .finder_curve import BAND, PEAK_BAND, PRIMARY, RULES, band_around

SCHEMA = "lrscope.finder/1"


@dataclass
class Sweep:
    """One pass of the range test: the rates used, the loss at each, and what the rules read off."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    fit: np.ndarray
    slope: np.ndarray
    suggestions: dict[str, float]
    range: tuple[float, float]
    interval: tuple[float, float]
    stopped: str  # "completed", "diverged", "loader exhausted"
    seed: int | None = None
    reliable: bool = True
    rule: str = PRIMARY  # the rule behind this sweep's suggestion

    def to_json(self) -> dict[str, Any]:
        return {
            "lrs": _finite_list(self.lrs),
            "losses": _finite_list(self.losses),
            "smoothed": _finite_list(self.smoothed),
            "fit": _finite_list(self.fit),
            "slope": _finite_list(self.slope),
            "suggestions": dict(self.suggestions),
            "range": list(self.range),
            "interval": list(self.interval),
            "stopped": self.stopped,
            "seed": self.seed,
            "reliable": self.reliable,
            "rule": self.rule,
        }


@dataclass
class FinderResult:
    """What :func:`lrscope.probes.finder.find_lr` found.  ``lrs``/``losses``/``smoothed``: the first sweep;
    ``sweeps``: all.  Drawn by :func:`lrscope.viz.finder.plot_finder`."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    suggestions: dict[str, float]
    range: tuple[float, float]
    spread: float | None
    interval: tuple[float, float]
    sweeps: list[Sweep]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    reliable: bool = True
    seconds: float = 0.0
    band: tuple[float, float] = (math.nan, math.nan)
    peak_band: tuple[float, float] = (math.nan, math.nan)
    rule: str = PRIMARY  # the rule behind ``suggestion`` (``turn`` for a model with BatchNorm)
    confirmed: ConfirmResult | None = None  # the recipe trained around the suggestion (lrscope find --confirm)

    @property
    def repeats(self) -> int:
        return len(self.sweeps)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "suggestion": float(self.suggestion),
            "suggestions": {k: float(v) for k, v in self.suggestions.items()},
            "range": [float(self.range[0]), float(self.range[1])],
            "spread_decades": None if self.spread is None else float(self.spread),
            "interval": [float(self.interval[0]), float(self.interval[1])],
            "band": _finite_list(self.band),
            "peak_band": _finite_list(self.peak_band),
            "rule": self.rule,
            "reliable": bool(self.reliable),
            "repeats": self.repeats,
            "settings": dict(self.settings),
            "notes": list(self.notes),
            "seconds": round(float(self.seconds), 4),
            "sweeps": [s.to_json() for s in self.sweeps],
            **({"confirm": self.confirmed.to_json()} if self.confirmed is not None else {}),
        }

    def fill_auto(self, spec: str) -> str:
        """``spec`` with each ``auto`` replaced by this result's number for it (:func:`lrscope.schedules.fill_auto`:
        ``max_lr`` the range's top, ``base_lr``/``min_lr`` its bottom, any other rate the suggestion)."""
        low, high = self.range
        return fill_auto(spec, self.suggestion, low, high)

    def apply(self, optimizer) -> list[float]:
        """Set the suggested rate on ``optimizer`` (any object with torch's ``param_groups``), keeping the
        groups' ratios: the group with the highest rate gets the suggestion, a group at k times that rate gets
        k * suggestion (layer-wise decay survives).  ``initial_lr`` is set too where a scheduler wrote one, so a
        scheduler created or resumed afterwards starts from the new rates.  Returns the rates set.

        >>> class Opt: param_groups = [{"lr": 0.1}, {"lr": 0.01, "initial_lr": 0.01}]
        >>> r = FinderResult(np.zeros(1), np.zeros(1), np.zeros(1), 0.3, {}, (0.03, 0.3), None, (0.2, 0.4), [], {})
        >>> r.apply(Opt), Opt.param_groups[1]
        ([0.3, 0.03], {'lr': 0.03, 'initial_lr': 0.03})
        """
        groups = list(getattr(optimizer, "param_groups", []))
        if not groups:
            raise ValueError("apply() needs an optimizer with param_groups (a torch optimizer)")
        rates = [float(g["lr"]) for g in groups]
        top = max(rates)
        out = []
        for group, rate in zip(groups, rates, strict=True):
            new = float(self.suggestion) * (rate / top if top > 0 else 1.0)
            new = float(f"{new:.15g}")  # 0.3 * 0.1 / 0.1 is 0.30000000000000004 otherwise
            if hasattr(group["lr"], "fill_"):  # a tensor rate (capturable optimizers): keep the tensor
                group["lr"].fill_(new)
            else:
                group["lr"] = new
            if "initial_lr" in group:
                group["initial_lr"] = new
            out.append(new)
        return out

    def summary(self) -> str:
        """Two lines: the constant rate with its band, then 1cycle's peak and the cyclical range, the spread
        and the noise interval; a third with what --confirm trained, where it ran."""
        low, high = self.range
        text = f"suggested lr {self.suggestion:.3g} (constant rate"
        if all(math.isfinite(v) for v in self.band):
            text += f"; within 1% of the best validation loss expected at {self.band[0]:.3g} .. {self.band[1]:.3g}"
        text += f")\n1cycle max_lr {high:.3g}; cyclical range {low:.3g} .. {high:.3g}"
        if self.spread is not None:
            text += f"; spread over {self.repeats} repeats {self.spread:.2f} decades"
        low, high = self.interval
        text += f"; 90% interval from the curve's noise {low:.3g} .. {high:.3g}"
        if self.confirmed is not None:
            c = self.confirmed
            tried = ", ".join(f"{r:.3g}: {v:.4g}" if math.isfinite(v) else f"{r:.3g}: diverged"
                              for r, v in zip(c.rates, c.val_losses, strict=True))
            text += (f"\nconfirmed by training: lr {c.chosen:.3g} ({c.factor:.3g}x the finder's {c.base:.3g}) had the "
                     f"lowest validation loss of {len(c.rates)} runs ({tried})")
            run = c.details[c.chosen_index].get("run_dir")
            if run:
                text += f"; its run: {run}"
            if not math.isclose(c.refined, c.chosen, rel_tol=1e-9):
                text += (f"\ntrain the recipe at lr {c.refined:.3g}: the loss parabola through that run and its "
                         f"neighbours has its minimum towards it (moved at most {10 ** REFINE_LIMIT:.2g}x)")
        return text


def _finite_list(values) -> list:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float).tolist()]


def _log_median(values) -> float:
    return float(10.0 ** np.median(np.log10(np.asarray(values, dtype=float))))


def combine_sweeps(sweeps: list[Sweep], notes: list[str], seconds: float, settings: dict) -> FinderResult:
    """One result from the repeats: each rule and bound the median in log space, reliable when most were."""
    suggestions = {rule: _log_median([s.suggestions[rule] for s in sweeps]) for rule in RULES}
    low = _log_median([s.range[0] for s in sweeps])
    high = _log_median([s.range[1] for s in sweeps])
    rule = sweeps[0].rule
    primary = [s.suggestions[rule] for s in sweeps]
    spread = float(np.log10(max(primary) / min(primary))) if len(sweeps) > 1 else None
    interval = (_log_median([s.interval[0] for s in sweeps]), _log_median([s.interval[1] for s in sweeps]))
    reliable = sum(s.reliable for s in sweeps) * 2 > len(sweeps)
    stopped = [s.stopped for s in sweeps]
    if "diverged" in stopped:
        notes.append(
            f"the loss diverged and the sweep stopped early in {stopped.count('diverged')} of {len(sweeps)} sweep(s)"
        )
    first = sweeps[0]
    return FinderResult(
        lrs=first.lrs,
        losses=first.losses,
        smoothed=first.smoothed,
        suggestion=suggestions[rule],
        suggestions=suggestions,
        range=(low, high),
        spread=spread,
        interval=interval,
        sweeps=sweeps,
        settings=settings,
        notes=notes,
        reliable=reliable,
        seconds=seconds,
        band=band_around(suggestions[rule], BAND),
        peak_band=band_around(high, PEAK_BAND),
        rule=rule,
    )
