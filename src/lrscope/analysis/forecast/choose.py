"""``fit``: the public entry point.  Refuses what cannot be learned, fits the law asked for, or chooses one.

``law="auto"`` fits both schedule-aware laws (the multi-power law and Tissue's) and measures held-out errors
where the data allow it:

- two or more runs: leave one run out (at most MAX_FOLDS folds, the first runs; a fold is skipped when the runs
  left have no annealing), the error on the run left out.  This measures what a forecast does (carry the law
  over to another schedule), and the law with the lower error is chosen.
- one run whose decay starts well before its end (at most EARLY_DECAY of its rows after the warm-up come
  before the decay, and HELDOUT_FRACTION of them can be held back after the decay's first half): the rows after
  a point halfway between the decay's start and the end of the log, so the fitted part keeps an annealing.
  Both errors are reported (``heldout_rel_error``, ``choice``) but do not choose: a run's own tail tests the
  law in time under the same schedule, and on the public curves the law it prefers forecasts the other
  schedules better in 7 of the 14 one-run fits, the default in 10 (bench/RESULTS.md: choosing by the tail
  raised their summed mean error from 3.00 to 3.50 percentage points).

A single run takes the default: the multi-power law after a sharp decay (its power-law response to a drop is
what a sudden cut shows), Tissue's law after a smooth one (from a cosine run alone the multi-power law's drop
constants are not pinned down and carry over worse).  ``choice`` says which path was taken and why.  The
plain power law is never chosen (it ignores the schedule), nor the area law (:mod:`.area`, for a training loss
heading for zero), only fitted when asked for.

Tissue's lambda is fitted when a fitted run has a sharp decay (the response after the drop pins the
momentum's time scale down); after smooth decays alone it is not identified and is held at the paper's 0.999.
"""

from __future__ import annotations

import numpy as np

from ...console import Progress, quiet
from ...errors import UserError
from .area import AreaLaw
from .curve import Curve, annealing
from .fit import MIN_CURVE_ROWS, fit_law, relative_errors
from .fitted import Fitted
from .laws import Law, MultiPowerLaw, PowerLaw, TissueLaw

LAW_NAMES = ("auto", "mpl", "tissue", "power", "area")
AUTO_LAWS = ("mpl", "tissue")
LOSS_KINDS = ("train", "val")
TITLES = {"mpl": "the multi-power law", "tissue": "Tissue's LR-annealing law", "power": "the power law in steps",
          "area": "the power law in the area under the rate"}
NO_ANNEALING = ("power", "area")  # laws without an annealing term: they fit a run with no decay
DEFAULT_LAMBDA = 0.999
MAX_FOLDS = 5
EARLY_DECAY = 0.6
HELDOUT_FRACTION = 0.2
REFUSAL = ("no annealing in this run: the drop a decay brings cannot be learned from it; fit on a run with a "
           "decay, or give two runs")


def make_law(name: str, curves: list[Curve]) -> Law:
    """The law object for ``name``, set up for these runs (Tissue's lambda fitted only after a sharp decay)."""
    if name == "mpl":
        return MultiPowerLaw()
    if name == "power":
        return PowerLaw()
    if name == "area":
        return AreaLaw()
    sharp = any(a.annealed and a.sharp for a in map(annealing, curves))
    return TissueLaw(None if sharp else DEFAULT_LAMBDA)


def truncated(curve: Curve, rows: int) -> Curve:
    """The first ``rows`` logged rows of ``curve`` (and its rates up to the last of them)."""
    last = int(curve.step[rows - 1])
    return Curve(curve.step[:rows], curve.loss[:rows], curve.rates[:last], curve.name, curve.warmup)


def law_notes(fitted: Fitted) -> list[str]:
    """What the user should know about how a law was set up for these runs."""
    if isinstance(fitted.model, TissueLaw) and fitted.model.lam is not None:
        return [f"Tissue's lambda held at {fitted.model.lam} (the paper's value): without a sharp decay the runs do "
                f"not pin the annealing momentum's time scale down"]
    return []


def heldout_plan(curves: list[Curve]) -> tuple[list[tuple[list[Curve], Curve, np.ndarray]], str]:
    """Folds (runs to fit, run to test, mask of its rows to test) and a sentence saying what is held out."""
    if len(curves) >= 2:
        folds = []
        for i, test in enumerate(curves):
            rest = curves[:i] + curves[i + 1:]
            if any(annealing(c).annealed for c in rest):
                folds.append((rest, test, test.after_warmup))
            if len(folds) == MAX_FOLDS:
                break
        return folds, f"leaving out one run at a time ({len(folds)} folds)" if folds else ""
    curve = curves[0]
    a = annealing(curve)
    after = np.nonzero(curve.after_warmup)[0]
    if not a.annealed or after.size == 0:
        return [], ""
    first = int(np.searchsorted(curve.step, a.start))
    rows = after.size
    if first - after[0] > EARLY_DECAY * rows:
        return [], ""
    split = first + (after[-1] + 1 - first) // 2  # rows before this index are fitted
    held = after[-1] + 1 - split
    if held < max(HELDOUT_FRACTION * rows, MIN_CURVE_ROWS) or split - first < MIN_CURVE_ROWS:
        return [], ""
    head = truncated(curve, split)
    if not annealing(head).annealed:
        return [], ""
    mask = np.zeros(curve.step.size, dtype=bool)
    mask[split:] = True
    return [([head], curve, mask)], f"holding back the last {held} rows (after step {int(curve.step[split - 1])})"


def heldout_error(name: str, folds, tick=None) -> float | None:
    """The mean over folds of the mean relative error on the held-out rows; None without folds.  ``tick()``
    after each fold's fit."""
    errors = []
    for train, test, mask in folds:
        fitted = fit_law(train, make_law(name, train))
        if tick is not None:
            tick()
        errors.append(float(relative_errors(fitted.model, fitted.theta, fitted.scale, test, mask).mean()))
    return float(np.mean(errors)) if errors else None


def checked_inputs(curves, law: str, loss_kind: str) -> list[Curve]:
    if law not in LAW_NAMES:
        raise UserError(f"law must be one of {', '.join(LAW_NAMES)}; got {law!r}")
    if loss_kind not in LOSS_KINDS:
        raise UserError(f"loss_kind must be one of {', '.join(LOSS_KINDS)}; got {loss_kind!r}")
    if isinstance(curves, Curve):
        curves = [curves]
    curves = list(curves)
    if not curves:
        raise UserError("no run to fit: give at least one curve")
    if not all(isinstance(c, Curve) for c in curves):
        raise UserError("fit takes Curve objects (lrscope.analysis.forecast.Curve)")
    return curves


def fit(curves: list[Curve] | Curve, law: str = "auto", *, loss_kind: str = "train",
        progress: Progress = quiet) -> Fitted:
    """Fit ``law`` ("auto", "mpl", "tissue", "power" or "area") to one or several runs (shared constants).

    A run set without a rate decrease after the warm-up is refused for the schedule-aware laws (and auto);
    ``law="power"`` and ``law="area"`` (:mod:`.area`) fit any run.  The returned :class:`Fitted` carries every law
    fitted in ``by_law``.  ``progress(fits done, fits in all, status)`` after each fit (one per law, and one
    per held-out fold and law).
    """
    curves = checked_inputs(curves, law, loss_kind)
    found = [annealing(c) for c in curves]
    if law not in NO_ANNEALING and not any(a.annealed for a in found):
        raise UserError(REFUSAL)
    notes = [f"{c.label} has no annealing: the annealing terms are learned from the other runs"
             for c, a in zip(curves, found, strict=True) if not a.annealed] if law not in NO_ANNEALING else []
    folds, how = heldout_plan(curves)
    names = AUTO_LAWS if law == "auto" else (law,)
    done, total = [0], len(names) * (1 + len(folds))

    def advance(name: str) -> None:
        done[0] += 1
        progress(done[0], total, f"fitting {TITLES[name]}")

    if law != "auto":
        fitted = fit_law(curves, make_law(law, curves), loss_kind=loss_kind)
        advance(law)
        fitted.heldout_rel_error = heldout_error(law, folds, lambda: advance(law))
        fitted.choice = f"{TITLES[law]}, as asked"
        fitted.notes = notes + law_notes(fitted) + fitted.notes
        fitted.by_law = {law: fitted}
        return fitted
    fits = {}
    for name in AUTO_LAWS:
        fits[name] = fit_law(curves, make_law(name, curves), loss_kind=loss_kind)
        advance(name)
    for name, fitted in fits.items():
        fitted.heldout_rel_error = heldout_error(name, folds, lambda name=name: advance(name))
    if folds and len(curves) >= 2:
        chosen = min(AUTO_LAWS, key=lambda n: (fits[n].heldout_rel_error, AUTO_LAWS.index(n)))
        other = next(n for n in AUTO_LAWS if n != chosen)
        choice = (f"{TITLES[chosen]}: its held-out error ({how}) is {100 * fits[chosen].heldout_rel_error:.3g} %, "
                  f"against {100 * fits[other].heldout_rel_error:.3g} % for {TITLES[other]}")
    else:
        sharp = any(a.annealed and a.sharp for a in found)
        chosen = "mpl" if sharp else "tissue"
        other = next(n for n in AUTO_LAWS if n != chosen)
        kind = "a sharp decay (a step or a short cooldown)" if sharp else "a smooth decay only"
        if folds:
            why = (f"held-out errors ({how}): {100 * fits[chosen].heldout_rel_error:.3g} % against "
                   f"{100 * fits[other].heldout_rel_error:.3g} % for {TITLES[other]}, not used to choose: a run's "
                   f"own tail does not tell which law carries over to another schedule")
        else:
            why = "no rows can be held out to compare the laws (the decay comes too close to the end of the run)"
        choice = f"{TITLES[chosen]}, the default after {kind}; {why}"
    result = fits[chosen]
    result.choice = choice
    for fitted in fits.values():
        fitted.notes = notes + law_notes(fitted) + fitted.notes
    result.by_law = {chosen: result, **{n: f for n, f in fits.items() if n != chosen}}
    for fitted in fits.values():
        if fitted is not result:
            fitted.by_law = result.by_law
    return result
