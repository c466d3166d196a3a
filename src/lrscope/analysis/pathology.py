"""Losses that are not a training curve to judge: NaN or infinite values, a loss that explodes by orders of
magnitude, one that rises throughout, and one that goes negative.  Each is named in a finding of kind
"pathology"; the stage verdicts then give no advice to train longer (:func:`blocks_advice`).

Rules, on the raw column of the loss (the series a finding works from drops non-finite values):

- NaN: the loss stops having finite values at row r while the rows it was logged on continue, NaN, for at
  least two more of its own logging intervals up to the end (a dense column: every row; a sparse one: the rows
  where a column logged with it, such as the rate, is finite).  NaNs the loss recovers from are counted, not
  called a divergence.
- infinite: any +-inf value.
- exploding: on a running median (window 5, or fewer points; long curves binned first), the last level is
  at least 100x the lowest level before it, and above where the run started.
- rising throughout: the least-squares slope of log loss against x over the whole run is positive and
  significant (> 3 se), the end level is at least 10 % above the start level, and the lowest level is in the
  first fifth of the run (it never had a real fall).
- negative: any finite value below zero.  Some objectives allow it (a Gaussian or flow negative
  log-likelihood, an ELBO, a loss with a constant offset), so this is a note, not an error: relative changes
  and log scales mean nothing for such a loss, and its changes are quoted in its own units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .explanation import Finding
from .smooth import bin_medians, linear_slope
from .wording import Context, fmt, metric_word

GROWTH = math.log(100.0)
RISE = math.log(1.10)


@dataclass
class Pathology:
    kind: str  # "nan" | "nan_rows" (recovered) | "inf" | "exploding" | "rising" | "negative"
    role: str
    row: int | None
    text: str


def pathologies(ctx: Context) -> list[Pathology]:
    """Every pathology of the run's losses (computed once per explanation)."""
    if "pathologies" not in ctx.memo:
        found: list[Pathology] = []
        for role in ("train_loss", "val_loss"):
            name = ctx.log.roles.get(role)
            if name is None or name not in ctx.log.columns:
                continue
            found.extend(_of_column(ctx, role, np.asarray(ctx.log.columns[name], dtype=np.float64)))
        ctx.memo["pathologies"] = found
    return ctx.memo["pathologies"]


def blocks_advice(ctx: Context) -> list[Pathology]:
    """The pathologies that make "train longer" meaningless: any but recovered NaN rows, of the training loss or
    of the metric the stages are judged on."""
    return [p for p in pathologies(ctx) if p.kind != "nan_rows" and p.role in ("train_loss", ctx.primary)]


def pathology_findings(ctx: Context) -> list[Finding]:
    return [Finding("pathology", p.row, p.text) for p in pathologies(ctx)]


def _logged_rows(ctx: Context, name: str, values: np.ndarray) -> np.ndarray:
    """Rows where this column was logged, finite or NaN: the rows of its companion (the column whose finite rows
    match its own best, Jaccard >= 0.9 up to its last finite row; the rate, a second loss, else the x column),
    and its own finite rows.  Without a companion, only its finite rows (no NaN can be told from "not logged")."""
    n = len(values)
    fin = np.isfinite(values) | np.isinf(values)
    if not fin.any():
        return np.zeros(0, dtype=int)
    upto = int(np.flatnonzero(fin)[-1]) + 1
    best, best_j = None, 0.9
    for other, v in ctx.log.columns.items():
        if other == name or len(v) != n:
            continue
        ok = np.isfinite(v)
        inter = float((ok[:upto] & fin[:upto]).sum())
        union = float((ok[:upto] | fin[:upto]).sum())
        j = inter / union if union else 0.0
        # a tie goes to a metric or the rate rather than the x column, which is finite on every merged row
        if j > best_j or (j == best_j and best is not None and other != ctx.log.x_name):
            best, best_j = ok, j
    if best is None:
        return np.flatnonzero(fin)
    logged = best | fin
    first = int(np.flatnonzero(fin)[0])
    logged[:first] = False  # rows before the first value: not logged yet, not NaN
    return np.flatnonzero(logged)


def _of_column(ctx: Context, role: str, values: np.ndarray) -> list[Pathology]:
    out: list[Pathology] = []
    word = metric_word(ctx, role) if role in ctx.series else role.replace("_", " ")
    name = ctx.log.roles[role]
    finite = np.isfinite(values)
    if not finite.any():
        return out
    logged = _logged_rows(ctx, name, values)
    nan_logged = logged[np.isnan(values[logged])]
    last_finite = int(np.flatnonzero(finite)[-1])
    trailing = nan_logged[nan_logged > last_finite]
    inf_rows = np.flatnonzero(np.isinf(values))
    if len(inf_rows):
        r = int(inf_rows[0])
        out.append(
            Pathology(
                "inf",
                role,
                r,
                f"The {word} became infinite at {ctx.where(r)}: the run diverged (the loss overflowed). "
                "Nothing after it can be judged; a lower rate, gradient clipping or a longer warm-up is the usual "
                "fix.",
            )
        )
    if len(trailing) >= 2 and not len(inf_rows):
        r = int(trailing[0])
        before = fmt(float(values[last_finite]))
        out.append(
            Pathology(
                "nan",
                role,
                r,
                f"The {word} became NaN at {ctx.where(r)} (last finite value {before} at "
                f"{ctx.where(last_finite)}) and stayed NaN to the end: the run diverged. Nothing after it can be "
                "judged; a lower rate, gradient clipping or a longer warm-up is the usual fix.",
            )
        )
    inner = nan_logged[nan_logged < last_finite]
    if len(inner) and len(trailing) < 2:
        out.append(
            Pathology(
                "nan_rows",
                role,
                int(inner[0]),
                f"The {word} was NaN on {len(inner)} logged row(s), first at {ctx.where(int(inner[0]))}, and "
                "recovered: those rows are left out.",
            )
        )
    s = ctx.series.get(role)
    y = values[finite]
    rows = np.flatnonzero(finite)
    if (y < 0).any():
        r = int(rows[int(np.argmin(y))])
        out.append(
            Pathology(
                "negative",
                role,
                r,
                f"The {word} goes below zero (lowest {fmt(float(y.min()))} at {ctx.where(r)}). Some objectives "
                "allow that (a Gaussian or flow negative log-likelihood, an ELBO, a loss with a constant offset), "
                "so it is not an error here; but percentages and a log scale mean nothing for such a loss, so "
                "its changes are quoted in its own units.",
            )
        )
        return out  # growth and rise on a log scale do not apply
    if s is None or len(y) < 6 or any(p.kind in ("inf",) for p in out):
        return out
    # long step-level curves: block medians (about MAX_POINTS) keep the running median cheap and robust
    xs = np.asarray(ctx.x, dtype=np.float64)[rows]
    if not np.all(np.isfinite(xs)):
        return out
    rows, g, _ = bin_medians(rows, np.log(np.maximum(y, np.finfo(float).tiny)))
    xs = np.asarray(ctx.x, dtype=np.float64)[rows]
    w = min(5, max(1, len(g) // 6))
    level = np.median(np.lib.stride_tricks.sliding_window_view(g, w), axis=1)
    low = np.minimum.accumulate(level)
    end = float(level[-1])
    if end - float(low[-1]) >= GROWTH and end > float(level[0]):
        lowest = int(np.argmin(level))
        cross = lowest + int(np.argmax(level[lowest:] >= float(level[lowest]) + math.log(10.0)))
        r = int(rows[min(cross + w - 1, len(rows) - 1)])
        out.append(
            Pathology(
                "exploding",
                role,
                r,
                f"The {word} exploded: from {fmt(math.exp(float(level[lowest])))} at "
                f"{ctx.where(int(rows[lowest]))} it grew by orders of magnitude to {fmt(math.exp(end))} at the end "
                f"(past 10x its lowest level at {ctx.where(r)}): the run diverged. Training longer will not help; "
                "a lower rate, gradient clipping or a longer warm-up is the usual fix.",
            )
        )
        return out
    if role != "train_loss" and "train_loss" in ctx.log.roles:
        return out  # a validation loss rising while training falls is overfitting, not a broken run
    slope, se = linear_slope(xs, g)
    q = max(2, len(g) // 10)
    start_level, end_level = float(np.median(g[:q])), float(np.median(g[-q:]))
    lowest = int(np.argmin(level))
    if slope > 3 * se and end_level - start_level >= RISE and lowest <= len(level) // 5:
        out.append(
            Pathology(
                "rising",
                role,
                int(rows[0]),
                f"The {word} rose throughout the run ({fmt(math.exp(start_level))} at the start, "
                f"{fmt(math.exp(end_level))} at the end) and never had a real fall: the model is not learning at "
                "this setting (a rate too high, or a problem with the data or the loss). Training longer will not "
                "help.",
            )
        )
    return out
