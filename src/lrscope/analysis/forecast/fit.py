"""Fitting one law to one or several runs: robust, bounded, from several deterministic starts.

- Residuals are log(predicted) - log(logged) (relative errors, so every row and every model size weighs the
  same), under a Huber loss with delta HUBER_DELTA = 1e-3: a spike or a logging glitch costs linearly, not
  quadratically.
- Rates are divided by the fitted runs' peak and steps by their longest horizon (:class:`~.laws.Scale`), so
  the bounds and starting grids hold for any model and rate range.
- Starts: for every point of the law's grid of non-linear constants, the linear constants (L0, A, the annealing
  amplitude) solve a non-negative least squares on relative residuals; the START_COUNT best points are refined by
  ``scipy.optimize.least_squares`` (trust-region reflective, within bounds) for PROBE_EVALUATIONS evaluations
  each, and the one with the lowest robust cost is carried on to convergence.
- Several runs share one set of constants (their residuals are stacked).  Only the rows after each run's
  warm-up are fitted; a run logged at more than FIT_ROWS rows is averaged over consecutive groups of rows to
  FIT_ROWS, and its errors are measured on those averages (a per-step log's noise is not the law's error).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares, nnls

from ...errors import UserError
from .curve import Curve
from .fitted import Fitted
from .laws import Law, Scale, make_run

HUBER_DELTA = 1e-3
START_COUNT = 3
FIT_ROWS = 256
MIN_ROWS = 8  # logged rows after the warm-up, over all runs of a fit
MIN_CURVE_ROWS = 3
PROBE_EVALUATIONS = 40  # each start gets this many evaluations; the best one then up to MAX_EVALUATIONS
MAX_EVALUATIONS = 300
MISFIT_ERROR = 0.002  # a mean error above 0.2 % ...
MISFIT_RATIO = 3.0  # ... and 3 times the row-to-row noise is a law missing the curve, not noise


def scale_of(curves: list[Curve]) -> Scale:
    """The units of a fit: the highest rate any run used, and the longest run's last logged step."""
    peak = max(float(c.rates.max()) for c in curves)
    horizon = max(float(c.step[-1]) for c in curves)
    return Scale(peak, horizon)


def averaged_rows(step: np.ndarray, loss: np.ndarray, limit: int = FIT_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` rows: consecutive groups averaged (steps rounded half up, so they stay increasing)."""
    if step.size <= limit:
        return step, loss
    starts = np.linspace(0, step.size, limit + 1).astype(np.int64)[:-1]
    counts = np.diff(np.append(starts, step.size))
    mean_step = np.floor(np.add.reduceat(step.astype(np.float64), starts) / counts + 0.5).astype(np.int64)
    return mean_step, np.add.reduceat(loss, starts) / counts


def fitted_rows(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    keep = curve.after_warmup
    if keep.sum() < MIN_CURVE_ROWS:
        raise UserError(f"{curve.label}: {int(keep.sum())} logged rows after the {curve.warmup}-step warm-up; a law "
                        f"needs at least {MIN_CURVE_ROWS} per run (and {MIN_ROWS} in all)")
    return curve.step[keep], curve.loss[keep]


class Objective:
    """Stacked log residuals of one law over several runs, and their Jacobian."""

    def __init__(self, law: Law, features: list, y: list[np.ndarray]):
        self.law, self.features, self.y = law, features, y
        self.log_y = np.log(np.concatenate(y))
        self.floor = 1e-6 * np.concatenate(y)  # a formula at or below zero costs as a huge relative miss

    def predicted(self, theta: np.ndarray) -> np.ndarray:
        return np.concatenate([self.law.value(theta, f) for f in self.features])

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        pred = self.predicted(theta)
        return np.log(np.maximum(pred, self.floor)) - self.log_y

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        pairs = [self.law.value_and_jacobian(theta, f) for f in self.features]
        pred = np.maximum(np.concatenate([p for p, _ in pairs]), 1e-12)
        return np.concatenate([J for _, J in pairs]) / pred[:, None]


def grid_starts(law: Law, objective: Objective, lower: np.ndarray, upper: np.ndarray) -> list[np.ndarray]:
    """The START_COUNT best grid points, each with its linear constants solved (non-negative least squares)."""
    y = np.concatenate(objective.y)
    scored = []
    for point in law.grid():
        X = np.concatenate([law.basis(point, f) for f in objective.features])
        if not np.all(np.isfinite(X)):
            continue
        coef, _ = nnls(X / y[:, None], np.ones_like(y))
        theta = np.clip(law.assemble(coef, point), lower, upper)
        cost = float(np.sum(objective.residuals(theta) ** 2))
        if np.isfinite(cost):
            scored.append((cost, len(scored), theta))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [theta for _, _, theta in scored[:START_COUNT]]


def interior(theta: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``theta`` moved just inside its bounds (least_squares' trust region wants strictly feasible starts)."""
    margin = 1e-9 * np.maximum(upper - lower, 1e-12)
    return np.clip(theta, lower + margin, upper - margin)


def relative_errors(fitted_law: Law, theta: np.ndarray, scale: Scale, curve: Curve,
                    rows: np.ndarray | None = None, signed: bool = False) -> np.ndarray:
    """|predicted - logged| / logged at ``rows`` (a mask of the curve's rows; default: after its warm-up),
    averaged to FIT_ROWS as the fit averages them (so a per-step log's noise is not read as the law's error);
    ``signed``: without the absolute value."""
    mask = curve.after_warmup if rows is None else rows
    steps, loss = averaged_rows(curve.step[mask], curve.loss[mask])
    run = make_run(curve.rates, curve.warmup, steps, scale)
    pred = fitted_law.value(theta, fitted_law.features(run))
    errors = (pred - loss) / loss
    return errors if signed else np.abs(errors)


def misfit_note(law: Law, residuals: list[np.ndarray]) -> list[str]:
    """A sentence when the law misses the curve's shape: its mean error is above MISFIT_ERROR and more than
    MISFIT_RATIO times the row-to-row noise (the scatter of consecutive residuals' differences, robustly),
    i.e. the residuals run in long stretches of one sign rather than scattering around the law."""
    flat = np.concatenate(residuals)
    mean = float(np.abs(flat).mean())
    steps = np.concatenate([np.diff(r) for r in residuals if r.size > 1])
    noise = float(1.4826 * np.median(np.abs(steps)) / np.sqrt(2)) if steps.size else 0.0
    if mean <= MISFIT_ERROR or mean <= MISFIT_RATIO * noise:
        return []
    return [f"the {law.title} misses the shape of this curve (mean error {100 * mean:.2g} % against "
            f"{100 * noise:.2g} % row-to-row noise): forecasts from it are not reliable"]


def fit_law(curves: list[Curve], law: Law, *, loss_kind: str = "train") -> Fitted:
    """``law`` fitted to ``curves`` jointly (no annealing check: :func:`~.choose.fit` does that)."""
    rows = [fitted_rows(c) for c in curves]
    total = sum(r[0].size for r in rows)
    if total < max(MIN_ROWS, len(law.names) + 1):
        raise UserError(f"{total} logged rows after the warm-up; the {law.title} needs at least "
                        f"{max(MIN_ROWS, len(law.names) + 1)}")
    scale = scale_of(curves)
    features, ys, notes = [], [], []
    for curve, (step, loss) in zip(curves, rows, strict=True):
        step_fit, loss_fit = averaged_rows(step, loss)
        if step_fit.size < step.size:
            notes.append(f"{curve.label}: fitted on {step_fit.size} averages of consecutive rows (of {step.size} "
                         f"logged); its errors are measured on those averages")
        features.append(law.features(make_run(curve.rates, curve.warmup, step_fit, scale)))
        ys.append(loss_fit)
    y_max = float(max(y.max() for y in ys))
    lower, upper = law.bounds(y_max)
    objective = Objective(law, features, ys)
    jac = objective.jacobian if type(law).jacobian is not Law.jacobian else "2-point"

    def refined(start, evaluations):
        return least_squares(objective.residuals, interior(start, lower, upper), jac=jac, bounds=(lower, upper),
                             loss="huber", f_scale=HUBER_DELTA, x_scale="jac", max_nfev=evaluations)

    best = None
    starts = grid_starts(law, objective, lower, upper)
    law.release()
    for start in starts:
        result = refined(start, PROBE_EVALUATIONS)
        if best is None or result.cost < best.cost:
            best = result
    if best is not None and best.status == 0:  # the most promising start, polished to convergence
        best = refined(best.x, MAX_EVALUATIONS)
    if best is None:
        raise UserError(f"the {law.title} could not be evaluated on these runs (the rates or losses are degenerate)")
    theta = best.x
    signed = [relative_errors(law, theta, scale, c, signed=True) for c in curves]
    errors = np.abs(np.concatenate(signed))
    return Fitted(
        law=law.name, params=law.user_params(theta, scale), rows=int(total),
        mean_rel_error=float(errors.mean()), max_rel_error=float(errors.max()), heldout_rel_error=None,
        notes=notes + misfit_note(law, signed) + bound_notes(law, theta, lower, upper), choice="", theta=theta,
        scale=scale, model=law,
        curves=tuple(c.label for c in curves), loss_kind=loss_kind,
    )


def bound_notes(law: Law, theta: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> list[str]:
    """Sentences for constants the fit pushed to a bound (the data did not pin them down)."""
    notes = []
    span = upper - lower
    for i, name in enumerate(law.names):
        if i in law.linear and i != 0 and theta[i] <= lower[i] + 1e-6 * span[i]:
            notes.append(f"the fit put {name} at 0: these runs show no effect of that term")
        elif i not in law.linear and (theta[i] <= lower[i] + 1e-6 * span[i] or theta[i] >= upper[i] - 1e-6 * span[i]):
            notes.append(f"{name} ended at a bound of its range: the runs do not pin it down")
    return notes
