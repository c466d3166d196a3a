"""``lrscope forecast LOG [LOG ...] --to TARGET ...``: fit a loss law on the user's run(s), then predict the loss
under other schedules (issue 18; the laws and the fit are :mod:`lrscope.analysis.forecast`).

A TARGET is a schedule spec (predicted every ``--every`` steps up to its horizon) or the path of another log
whose LR column defines the schedule (predicted at that log's own steps, and compared with its loss when it has
one).  ``--longer STAGE:N`` asks what the loss after the next decay would have been had a stage run N more x
units; ``--best FAMILY`` searches a family of specs for the lowest predicted final loss.  The document is
``lrscope.forecast/1``; errors in it are fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.forecast import Curve, curve_from_log, fit, forecast, rates_from_schedule, step_rates
from ..analysis.forecast.fromlog import assumed_warmup
from ..analysis.forecast.longer import longer_stage, parse_longer
from ..console import Progress, quiet, track
from ..errors import UserError
from ..logs.read import DEFAULT_MAX_BYTES, read_runs
from ..logs.runlog import RunLog, path_label
from ..schedules import parse_schedule
from ..validate import check_choice, check_int
from .forecast_family import expand_family

SCHEMA = "lrscope.forecast/1"
LAWS = ("auto", "mpl", "tissue", "power", "area")
HOWS = ("auto", "hold", "interpolate")
MAX_EXTRAPOLATION = 10.0  # a target horizon beyond this many times the fitted run's is refused
MAX_POINTS = 100_000  # predicted points per target


@dataclass
class FittedLogs:
    """The fitted run(s) and their logs, as the job keeps them."""

    law: object  # the lrscope.analysis.forecast.Fitted of the chosen law
    curves: list[Curve]
    logs: list[RunLog]
    notes: list[str]

    @property
    def last_step(self) -> int:
        return max(int(c.step[-1]) for c in self.curves)


@dataclass
class Target:
    name: str
    step: np.ndarray
    rates: np.ndarray
    logged_loss: np.ndarray | None = None
    spec: str | None = None


def _loss_role(log: RunLog, loss: str | None) -> str:
    if loss is None:
        return "train_loss" if log.has("train_loss") else "val_loss"
    return "train_loss"  # --loss COL was read into the train_loss role


def _curves(paths, *, loss, schedule, how, warmup, max_bytes) -> tuple[list[Curve], list[RunLog], list[str]]:
    curves, logs, notes = [], [], []
    for path in paths:
        for log in read_runs(path, loss=loss, max_bytes=max_bytes):
            name = log.run or path_label(path)
            curve, read_notes = curve_from_log(log, loss=_loss_role(log, loss), schedule=schedule, how=how,
                                               warmup_steps=warmup, name=name)
            curves.append(curve)
            logs.append(log)
            notes.extend(f"{name}: {n}" for n in read_notes if n)
    return curves, logs, notes


def fit_logs(paths, *, loss=None, law="auto", schedule=None, how="auto", warmup=None,
             max_bytes=DEFAULT_MAX_BYTES, progress: Progress = quiet) -> FittedLogs:
    """Read every run of ``paths`` and fit ``law`` to them jointly.

    ``warmup``: the warm-up's length in steps when the log starts after it; None takes a log whose first row comes
    after step 1 to start where its warm-up ended (a linear ramp from 0 over the steps before it, as the
    published curves of the forecasting papers are logged); 0 holds the first logged rate back to step 1.
    """
    check_choice("--law", law, LAWS)
    check_choice("--how", how, HOWS)
    if warmup is not None:
        warmup = check_int("--warmup", warmup, low=0, high=10**9)
    spec = parse_schedule(schedule) if schedule is not None else None
    curves, logs, notes = _curves(paths, loss=loss, schedule=spec, how=how, warmup=warmup, max_bytes=max_bytes)
    kind = "train" if all(_loss_role(log, loss) == "train_loss" for log in logs) else "val"
    return FittedLogs(fit(curves, law, loss_kind=kind, progress=progress), curves, logs, notes)


def _grid(horizon: int, every: int, first: int) -> np.ndarray:
    """Every ``every`` steps from ``first`` (where the fitted rows start: the laws say nothing about a warm-up)
    to ``horizon``, which is always included."""
    start = max(every, first)
    steps = np.arange(start, horizon + 1, every, dtype=np.float64)
    if not steps.size or steps[-1] != horizon:
        steps = np.append(steps, float(horizon))
    return steps


def _spacing(fitted: FittedLogs) -> int:
    gaps = np.concatenate([np.diff(c.step) for c in fitted.curves if c.step.size > 1] or [np.array([1.0])])
    return max(1, int(round(float(np.median(gaps)))))


def _spec_horizon(schedule) -> int | None:
    total = getattr(schedule, "total", None)
    return int(total) if isinstance(total, (int, float)) and total > 0 else None


def _looks_like_path(text: str) -> bool:
    return Path(text).exists() or "/" in text or Path(text).suffix.lower() in (".csv", ".json", ".jsonl", ".txt",
                                                                                ".log", ".tsv")


def target_of(text: str, fitted: FittedLogs, *, every: int | None, steps: int | None, how: str, warmup: int,
              max_bytes) -> Target:
    """A TARGET: a log's own steps, rates and loss, or a spec on a grid of ``every`` steps."""
    if _looks_like_path(text):
        if not Path(text).exists():
            raise UserError(f"--to {text}: no such file (a target is a schedule spec or the path of a log)")
        runs = read_runs(text, max_bytes=max_bytes)
        log = runs[-1]
        name = path_label(text)
        lr, step = log.role("lr"), log.role("step")
        if lr is None or step is None:
            raise UserError(f"--to {text}: a target log needs a step and a learning-rate column (it has "
                            f"{', '.join(log.columns)})")
        role = _loss_role(log, None)
        warmup = assumed_warmup(log, warmup)
        if log.has(role):
            curve, _ = curve_from_log(log, loss=role, how=how, warmup_steps=warmup, name=name)
            return Target(name, curve.step, curve.rates, curve.loss)
        keep = np.isfinite(step) & np.isfinite(lr)
        rates, _ = step_rates(step[keep], lr[keep], how=how, warmup_steps=warmup)
        return Target(name, step[keep], rates)
    schedule = parse_schedule(text)
    horizon = steps or _spec_horizon(schedule) or fitted.last_step
    horizon = check_int("the target's horizon in steps (--steps)", horizon, low=1, high=10**9)
    every = every or _spacing(fitted)
    first = min(int(c.step[c.after_warmup][0]) if c.after_warmup.any() else int(c.step[0]) for c in fitted.curves)
    grid = _grid(horizon, every, min(first, horizon))
    if grid.size > MAX_POINTS:
        raise UserError(f"--to {text}: {grid.size} points to predict at --every {every}; at most {MAX_POINTS} "
                        f"(give a larger --every)")
    return Target(schedule.spec, grid, rates_from_schedule(schedule, horizon), spec=schedule.spec)


def check_horizon(target: Target, fitted: FittedLogs, notes: list[str]) -> None:
    """A horizon past the fitted run's (by more than one logged interval) is an extrapolation: a note, and a
    refusal beyond 10x."""
    horizon, last = float(target.step[-1]), float(fitted.last_step)
    if horizon > MAX_EXTRAPOLATION * last:
        raise UserError(f"--to {target.name}: its horizon ({horizon:.0f} steps) is {horizon / last:.1f}x the fitted "
                        f"run's ({last:.0f}); the laws are not trusted beyond {MAX_EXTRAPOLATION:g}x")
    if horizon > last + _spacing(fitted):
        notes.append(f"{target.name}: an extrapolation to {horizon:.0f} steps, {horizon / last:.2g}x the fitted "
                     f"run's {last:.0f}: trust it less the further it goes")


def _finite(values) -> list:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def target_document(target: Target, fitted: FittedLogs) -> dict:
    loss, low, high = forecast(fitted.law, target.rates, target.step)
    doc = {"name": target.name, "step": _finite(target.step), "loss": _finite(loss), "low": _finite(low),
           "high": _finite(high), "final_loss": float(loss[-1]),
           "final_band": [float(low[-1]), float(high[-1])],
           "lr": _finite(target.rates[np.asarray(target.step, dtype=np.int64) - 1])}
    if target.spec is not None:
        doc["spec"] = target.spec
    if target.logged_loss is not None:
        rel = np.abs(loss - target.logged_loss) / target.logged_loss
        doc.update(logged_loss=_finite(target.logged_loss), mean_rel_error=float(rel.mean()),
                   max_rel_error=float(rel.max()), final_logged_loss=float(target.logged_loss[-1]))
    return doc


def _fit_document(fitted: FittedLogs) -> dict:
    law = fitted.law
    runs = []
    for curve in fitted.curves:
        runs.append({"name": curve.label, "step": _finite(curve.step), "loss": _finite(curve.loss),
                     "fitted": _finite(law.predict(curve.rates, curve.step, curve.warmup_steps or None)),
                     "lr": _finite(curve.rates[curve.step.astype(np.int64) - 1])})
    return {"rows": law.rows, "mean_rel_error": law.mean_rel_error, "max_rel_error": law.max_rel_error,
            "heldout_rel_error": law.heldout_rel_error, "choice": law.choice, "runs": runs}


def forecast_job(logs, targets=(), *, loss=None, law="auto", every=None, steps=None, schedule=None, how="auto",
                 warmup=None, longer=(), best=None, max_bytes=DEFAULT_MAX_BYTES) -> dict:
    """The ``lrscope.forecast/1`` document for ``lrscope forecast`` (see the module docstring)."""
    logs = [logs] if isinstance(logs, (str, Path)) else list(logs)
    if not targets and not longer and best is None:
        raise UserError("nothing to forecast: give --to TARGET (a spec or a log), --longer STAGE:N or --best FAMILY")
    if every is not None:
        every = check_int("--every", every, low=1, high=10**9)
    if steps is not None:
        steps = check_int("--steps", steps, low=1, high=10**9)
    wanted = [parse_longer(text) for text in longer]  # refuse a bad --longer before any fit
    family = expand_family(best) if best is not None else []
    with track("forecast") as tick:
        fitted = fit_logs(logs, loss=loss, law=law, schedule=schedule, how=how, warmup=warmup, max_bytes=max_bytes,
                          progress=tick)
        notes = list(fitted.notes) + list(fitted.law.notes)
        made = [target_of(t, fitted, every=every, steps=steps, how=how, warmup=warmup, max_bytes=max_bytes)
                for t in targets]
        for target in made:
            check_horizon(target, fitted, notes)
        doc = {"schema": SCHEMA, "law": fitted.law.law, "params": dict(fitted.law.params),
               "fit": _fit_document(fitted), "targets": [target_document(t, fitted) for t in made], "notes": notes,
               "loss_name": fitted.law.loss_kind + " loss"}
        if wanted:
            doc["longer"] = [longer_stage(fitted.law, fitted.curves[0], fitted.logs[0], stage, amount)
                             for stage, amount in wanted]
        if family:
            doc["best"] = best_of_family(best, family, fitted, every=every, steps=steps, notes=notes, progress=tick)
    return doc


def best_of_family(text: str, specs: list[str], fitted: FittedLogs, *, every, steps, notes,
                   progress: Progress = quiet) -> dict:
    """Each spec of the family predicted to its horizon; the one with the lowest final loss first."""
    rows = []
    for i, spec in enumerate(specs):
        progress(i, len(specs), "--best: forecasting the candidates")
        target = target_of(spec, fitted, every=every, steps=steps, how="auto", warmup=None, max_bytes=None)
        check_horizon(target, fitted, [])
        loss, low, high = forecast(fitted.law, target.rates, target.step[-1:])
        rows.append({"spec": target.spec, "final_loss": float(loss[-1]), "low": float(low[-1]),
                     "high": float(high[-1]), "horizon": int(target.step[-1])})
    progress(len(specs), len(specs), "--best: forecasting the candidates")
    rows.sort(key=lambda r: r["final_loss"])
    horizons = {r["horizon"] for r in rows}
    if len(horizons) > 1:
        notes.append(f"--best {text}: the candidates end at different steps ({', '.join(map(str, sorted(horizons)))}); "
                     "a longer run is lower for that reason alone")
    close = [r["spec"] for r in rows[1:] if r["final_loss"] <= rows[0]["high"]]
    return {"family": text, "best": rows[0]["spec"], "candidates": rows, "within_band_of_best": close}


def plot_forecast_job(doc: dict, out) -> Path:
    """Draw the document (lrscope.viz.forecast) to ``out``."""
    from ..viz.forecast import plot_forecast

    return plot_forecast(doc, out)
