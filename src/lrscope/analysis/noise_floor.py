"""The SGD noise floor: how far above the valley floor constant-rate SGD bounces, and what a decay removes.

With rate alpha, momentum beta and batch size B, SGD on a locally quadratic loss settles at an excess loss

    L_floor(alpha) = alpha tr(Sigma) / (4 B (1 - beta))

where Sigma is the covariance of one example's gradient.  This is the stationary point of the noisy quadratic
model (Zhang et al. 2019, arXiv:1907.04164: s_i* = alpha c_i / (B h_i (2 - alpha h_i)), summed as 1/2 sum h_i
s_i* with alpha h_i << 1) and the trace of the Ornstein-Uhlenbeck stationary covariance (Mandt, Hoffman & Blei
2017, arXiv:1704.04289: E[L - L*] = eps tr(C) / (4 S), with no need for H and C to commute).  Momentum enters
through the effective rate alpha / (1 - beta) (Smith, Kindermans, Ying & Le 2018).  A cut alpha1 -> alpha2
therefore removes

    delta L = (alpha1 - alpha2) tr(Sigma) / (4 B (1 - beta))

and it does so quickly: mode i relaxes in about (1 - beta) / (2 alpha2 h_i) steps, so the sharp directions
(which hold most of the excess) settle within a few steps — the cliff in the curve.  What keeps falling
afterwards (the bias term, the flat directions) is not part of this prediction.  The prediction is for the
*immediate* drop; it ignores the curvature correction 1 / (1 - alpha h_i / 2) and weight decay (whose gradient
carries no noise).

tr(Sigma) is measured during training (``lrscope.probes.noise``; step records carry ``noise_trace``).  The
band of a prediction is the 10th-90th percentile interval of the mean of the measurements used (seeded
bootstrap), so it says how well tr(Sigma) is known, not how well the model fits.

NumPy only: this module never imports torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import UserError
from ..validate import is_number

PREDICT_SCHEMA = "lrscope.predict/1"
MIN_MEASUREMENTS = 8  # look back further than the last epoch (at the same rate) until this many are found
LOOKBACK_EPOCHS = 3
# then, on a plateau (training loss within PLATEAU_TOL of this epoch's), pool up to PLATEAU_MEASUREMENTS: near a
# fit tr(Sigma) is heavy-tailed, and the mean of a few measurements reads low (bench/RESULTS.md)
PLATEAU_TOL = 0.10
PLATEAU_MEASUREMENTS = 32
PLATEAU_EPOCHS = 50
FORMULA = "delta_L = (lr_from - lr_to) * tr(Sigma) / (4 * B * (1 - momentum))"


def floor_excess(lr, noise_trace, batch_size, momentum=0.0):
    """Stationary excess loss alpha tr(Sigma) / (4 B (1 - beta)) (vectorised over any argument)."""
    return (
        np.asarray(lr)
        * np.asarray(noise_trace)
        / (4.0 * np.asarray(batch_size) * (1.0 - np.asarray(momentum)))
    )


def predicted_drop(lr_from, lr_to, noise_trace, batch_size, momentum=0.0):
    """(alpha1 - alpha2) tr(Sigma) / (4 B (1 - beta)): the immediate fall of the training loss at a decay."""
    return floor_excess(np.asarray(lr_from) - np.asarray(lr_to), noise_trace, batch_size, momentum)


def mean_band(
    values, lo: float = 10.0, hi: float = 90.0, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` by a seeded bootstrap (the value itself when only one).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    if v.size == 1:
        return (float(v[0]), float(v[0]))
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    low, high = np.percentile(means, [lo, hi])
    return (float(low), float(high))


@dataclass
class Prediction:
    """The noise-floor prediction of a decay at the end of ``epoch`` (JSON: lrscope.predict/1)."""

    epoch: int
    lr_from: float
    lr_to: float
    loss_now: float
    predicted_drop: float
    predicted_loss_after: float
    band: tuple[float, float]
    noise_trace: float
    noise_measurements: int
    measured_epochs: list[int]
    batch_size: int
    momentum: float
    floor_now: float
    floor_after: float
    formula: str = FORMULA
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        doc = {"schema": PREDICT_SCHEMA, **asdict(self)}
        doc["band"] = [float(b) if math.isfinite(b) else None for b in self.band]
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in doc.items()}



def noise_measurements(
    step_records: list[dict], epoch_records: list[dict], epoch: int, lr: float | None = None
) -> tuple[np.ndarray, list[int]]:
    """tr(Sigma) measurements recorded during ``epoch`` (1-based), extended back over earlier epochs at the
    same rate until MIN_MEASUREMENTS are found (at most LOOKBACK_EPOCHS in all), then further back while the
    run sat on a plateau (each earlier epoch's training loss within PLATEAU_TOL of this epoch's) until
    PLATEAU_MEASUREMENTS are found (at most PLATEAU_EPOCHS).  Returns (values, epochs used).

    Step records count (their fractional ``epoch`` lies in (E - 1, E]); without step measurements the epoch
    records' ``noise_trace`` means are used.
    """
    by_epoch: dict[int, list[float]] = {}
    for r in step_records:
        t, e = r.get("noise_trace"), r.get("epoch")
        if is_number(t) and is_number(e):
            by_epoch.setdefault(math.ceil(float(e) - 1e-9), []).append(float(t))
    if not by_epoch:
        for r in epoch_records:
            if is_number(r.get("noise_trace")) and is_number(r.get("epoch")):
                by_epoch[int(r["epoch"])] = [float(r["noise_trace"])]
    lr_of = {
        int(r["epoch"]): float(r["lr"])
        for r in epoch_records
        if is_number(r.get("epoch")) and is_number(r.get("lr"))
    }
    loss_of = {
        int(r["epoch"]): float(r["train_loss"])
        for r in epoch_records
        if is_number(r.get("epoch")) and is_number(r.get("train_loss"))
    }
    values: list[float] = []
    used: list[int] = []
    for e in range(epoch, max(epoch - PLATEAU_EPOCHS, 0), -1):
        if e != epoch and lr is not None and e in lr_of and not math.isclose(lr_of[e], lr, rel_tol=1e-6):
            break
        if len(values) >= MIN_MEASUREMENTS or epoch - e >= LOOKBACK_EPOCHS:  # past the first stretch
            on_plateau = e in loss_of and epoch in loss_of and loss_of[e] <= loss_of[epoch] * (1 + PLATEAU_TOL)
            if len(values) >= PLATEAU_MEASUREMENTS or not on_plateau:
                break
        if e in by_epoch:
            values.extend(by_epoch[e])
            used.append(e)
    return np.asarray(values, dtype=np.float64), sorted(used)


def predict_decay(
    epoch_records: list[dict], step_records: list[dict], config: dict, lr_to: float, epoch: int | None = None
) -> Prediction:
    """Predict the immediate drop of the training loss if the rate went to ``lr_to`` after ``epoch`` completed
    epochs (default: the last epoch recorded).  ``config`` needs ``batch_size`` (and ``momentum``,
    ``optimizer``).
    """
    epochs = {int(r["epoch"]): r for r in epoch_records if is_number(r.get("epoch"))}
    if not epochs:
        raise UserError("the run has no epoch records in metrics.jsonl; nothing to predict from")
    if epoch is None:
        epoch = max(epochs)
    if epoch not in epochs:
        raise UserError(
            f"the run has no epoch record for epoch {epoch}; recorded: {min(epochs)}..{max(epochs)}"
        )
    record = epochs[epoch]
    lr_from = float(record["lr"])
    if not is_number(lr_to) or lr_to < 0:
        raise UserError(f"--to expects a learning rate >= 0; got {lr_to}")
    if lr_to >= lr_from:
        raise UserError(
            f"--to {lr_to:g} is not below the rate of epoch {epoch} ({lr_from:g}); the noise-floor model "
            "predicts the effect of decays, not of increases"
        )
    optimizer = str(config.get("optimizer", "sgd")).lower()
    if optimizer != "sgd":
        raise UserError(f"the noise-floor model is for SGD; this run used {optimizer}")
    batch_size = config.get("batch_size")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise UserError(f"the run's config.json gives no batch size (batch_size: {batch_size!r})")
    momentum = float(config.get("momentum", 0.0) or 0.0)
    traces, used = noise_measurements(step_records, epoch_records, epoch, lr_from)
    if traces.size == 0:
        raise UserError(
            f"the run has no gradient-noise measurements for epoch {epoch}; record them with "
            "`lrscope train ... --noise-every K` (or NoiseHook in your own loop)"
        )
    trace = float(traces.mean())
    drop = float(predicted_drop(lr_from, lr_to, trace, batch_size, momentum))
    low, high = (float(predicted_drop(lr_from, lr_to, t, batch_size, momentum)) for t in mean_band(traces))
    loss_now = float(record.get("train_loss", math.nan))
    notes = []
    if traces.size < 4:
        notes.append(
            f"only {traces.size} noise measurement(s) behind this prediction; the band is unreliable"
        )
    return Prediction(
        epoch=epoch,
        lr_from=lr_from,
        lr_to=float(lr_to),
        loss_now=loss_now,
        predicted_drop=drop,
        predicted_loss_after=loss_now - drop,
        band=(low, high),
        noise_trace=trace,
        noise_measurements=int(traces.size),
        measured_epochs=used,
        batch_size=batch_size,
        momentum=momentum,
        floor_now=float(floor_excess(lr_from, trace, batch_size, momentum)),
        floor_after=float(floor_excess(lr_to, trace, batch_size, momentum)),
        notes=notes,
    )


def decay_gain(
    lr: float, noise_trace: float, batch_size: int, momentum: float = 0.0, factor: float = 0.1
) -> float:
    """What a decay by ``factor`` now would gain: the part of the floor it removes."""
    return float(predicted_drop(lr, lr * factor, noise_trace, batch_size, momentum))


# ---------------------------------------------------------------- explain integration


def _columns(log) -> dict[str, np.ndarray]:
    cols = getattr(log, "columns", log)
    if not isinstance(cols, dict):
        raise TypeError("noise_findings expects a RunLog or a dict of columns")
    return {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}


def _column(cols: dict, log, role: str, *names: str) -> np.ndarray | None:
    role_of = getattr(log, "roles", {}) or {}
    for name in (role_of.get(role), *names):
        if name and name in cols:
            return cols[name]
    return None


def _decay_rows(lr: np.ndarray, events) -> list[int]:
    """Rows k where the rate of row k is below that of row k - 1: from ``events`` when given, else from lr."""
    rows = []
    if events:
        for ev in events:
            get = ev.get if isinstance(ev, dict) else (lambda k, _e=ev: getattr(_e, k, None))
            k = next((get(key) for key in ("row", "index", "i") if get(key) is not None), None)
            before, after = get("lr_before"), get("lr_after")
            if k is None or (before is not None and after is not None and not after < before):
                continue
            rows.append(int(k))
        return sorted(set(r for r in rows if 0 < r < len(lr)))
    for k in range(1, len(lr)):
        if np.isfinite(lr[k]) and np.isfinite(lr[k - 1]) and lr[k] < lr[k - 1] * 0.999:
            rows.append(k)
    return rows


def noise_findings(
    log, events=None, *, batch_size: int | None = None, momentum: float | None = None
) -> list[dict]:
    """Findings about the noise floor for ``lrscope explain``.

    ``log``: a RunLog (or a dict of equal-length columns) with one row per epoch holding the rate (role
    ``lr``), the train loss (role ``train_loss``) and the epoch means of ``noise_trace`` written by NoiseHook.
    ``events``: the decays (dicts or objects with ``row``/``index`` and optionally
    ``lr_before``/``lr_after``); None: found from the lr column.  ``batch_size``/``momentum``: from the run's
    config.json when ``log.path`` is a run directory and they are not given.  Returns [] when the log has no
    noise measurements.

    Each finding is a dict: ``{"kind": "noise_floor_decay" | "noise_floor_gain", "row", "epoch", "text",
    ...}`` with the numbers (``predicted_drop``, ``observed_drop``, ``ratio``, ``gain``) alongside the
    sentence.
    """
    cols = _columns(log)
    lr = _column(cols, log, "lr", "lr")
    loss = _column(cols, log, "train_loss", "train_loss")
    trace = cols.get("noise_trace")
    if lr is None or loss is None or trace is None or not np.isfinite(trace).any():
        return []
    if batch_size is None or momentum is None:
        config = _config_of(log)
        batch_size = batch_size if batch_size is not None else config.get("batch_size")
        momentum = momentum if momentum is not None else config.get("momentum", 0.0)
        if str(config.get("optimizer", "sgd")).lower() != "sgd":
            return []
    if not batch_size:
        return []
    momentum = float(momentum or 0.0)
    x = _column(cols, log, "epoch", "epoch")
    x = x if x is not None else np.arange(1, len(lr) + 1, dtype=np.float64)
    findings = []
    for k in _decay_rows(lr, events):
        t = trace[k - 1]
        if not (np.isfinite(t) and np.isfinite(loss[k - 1]) and np.isfinite(loss[k])):
            continue
        pred = float(predicted_drop(lr[k - 1], lr[k], t, batch_size, momentum))
        obs = float(loss[k - 1] - loss[k])
        ratio = obs / pred if pred > 0 else math.nan
        verdict = (
            "as the model predicts"
            if 1 / 1.5 <= ratio <= 1.5
            else "more than the floor explains: the bias term was still falling"
            if ratio > 1.5
            else "less than predicted: part of the floor relaxes slowly (flat directions)"
        )
        text = (
            f"After epoch {x[k - 1]:g} the rate fell from {lr[k - 1]:.3g} to {lr[k]:.3g}. The noise-floor model "
            f"predicts an immediate drop of {pred:.3g} in the training loss "
            f"(lr x tr(Sigma) / (4B(1-momentum)), "
            f"tr(Sigma) = {t:.3g}); the run fell {obs:.3g} ({verdict}). "
            f"The fall is the noise floor shrinking: "
            f"with a smaller rate, SGD's gradient noise no longer holds it {pred:.3g} above the valley floor."
        )
        findings.append(
            {
                "kind": "noise_floor_decay",
                "row": int(k),
                "epoch": float(x[k - 1]),
                "lr_before": float(lr[k - 1]),
                "lr_after": float(lr[k]),
                "noise_trace": float(t),
                "predicted_drop": pred,
                "observed_drop": obs,
                "ratio": ratio,
                "text": text,
            }
        )
    last = int(np.flatnonzero(np.isfinite(trace))[-1])
    if np.isfinite(lr[last]) and lr[last] > 0:
        gain = decay_gain(float(lr[last]), float(trace[last]), int(batch_size), momentum)
        share = gain / loss[last] if np.isfinite(loss[last]) and loss[last] > 0 else math.nan
        text = (
            f"In the stage still running (rate {lr[last]:.3g}, epoch {x[last]:g}) the noise floor holds the "
            f"training loss about {gain / 0.9:.3g} above the valley floor; "
            f"a tenfold decay now would gain about "
            f"{gain:.3g}" + (f" ({share * 100:.2g}% of the current loss)." if np.isfinite(share) else ".")
        )
        findings.append(
            {
                "kind": "noise_floor_gain",
                "row": last,
                "epoch": float(x[last]),
                "lr": float(lr[last]),
                "noise_trace": float(trace[last]),
                "gain": gain,
                "text": text,
            }
        )
    return findings


def _config_of(log) -> dict:
    path = getattr(log, "path", "") or ""
    if not path:
        return {}
    from pathlib import Path

    from ..logs.rundir import read_config

    p = Path(path)
    run = p if p.is_dir() else p.parent
    try:
        return read_config(run)
    except UserError:
        return {}


# ---------------------------------------------------------------- a run directory
