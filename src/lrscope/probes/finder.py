"""The LR range test, made to be trusted (Smith 2017, "Cyclical Learning Rates for Training Neural Networks").

``find_lr`` trains the user's model for ``num_iter`` optimizer steps while the learning rate rises from
``start_lr`` to ``end_lr`` (exponentially by default), records the loss of every step, and reads a suggested
learning rate and an LR range for cyclical / 1cycle schedules off the curve.  Afterwards the model,
optimizer, GradScaler and RNGs are exactly as they came in (:mod:`lrscope.probes.state`), whatever happened
during the sweep.

How the suggestion is made (and why it moves little with the seed)
------------------------------------------------------------------
Finders that take ``argmin(np.gradient(loss))`` differentiate a noisy curve point by point, so one lucky
batch moves the answer by a decade.  Here, on the raw losses of one sweep, against x = log10(lr):

1. Spikes are clipped: each loss is limited to its running median (7 points) +/- 3 robust standard
   deviations (1.4826 x the median absolute deviation), and losses far above the starting level are capped
   (divergence).
2. A centred local quadratic regression with a Gaussian kernel (bandwidth h = max(2 grid steps, span/50)
   decades, i.e. about 0.14 decade for 100 points over 7 decades; Cleveland 1979, "Robust locally weighted
   regression") gives a smooth loss ``fit`` and its slope d loss / d log10 lr at every point, without the
   lag of an EMA.
3. Only the part of the curve before the fit's minimum counts.  Rules read off it:
   - ``steepest``: the most negative slope;
   - ``midpoint``: where the fit crosses halfway between its starting level and its minimum
     (log-interpolated);
   - ``valley`` (fastai's rule, on the fit): about halfway along the longest decreasing stretch;
   - ``minimum_over_10``: the lr at the fit's minimum divided by 10.
4. The suggestion is ``combined`` = the geometric mean of ``steepest`` and ``midpoint``: the first is a
   derivative (sharp but noisier), the second a level crossing (a zeroth-order statistic, much steadier);
   both sit in the steep middle of the descent.
5. ``range`` = (where 10 % of the drop is done, where 90 % is done): the lower and upper bounds for a
   cyclical schedule (Smith 2017) and the upper bound is the peak for 1cycle (Smith & Topin 2018).

With ``repeats`` > 1 the sweep runs again from the same starting state with further data (the loader is
simply iterated on, so a shuffling loader gives new orders) and, when ``seed`` is given, per-repeat seeds
derived from it with ``numpy.random.SeedSequence``.  Every rule is combined as the median in log space;
``spread`` is log10(max/min) of the per-repeat suggestions, in decades.  Every result also carries
``interval``: a 90 % interval for the suggestion from a wild bootstrap of the fit's residuals (Rademacher
signs; Wu 1986), i.e. how far the curve's own noise could move it, so one sweep says something about its own
reliability.

The learning rate of the sweep is written into *every* param group (per-group ratios are not kept; the
suggestion is the rate for a single-group optimizer).  The loss recorded at step i is the loss of the batch
that step i's update then uses, at lr[i] (torch-lr-finder and fastai record the same pair).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import UserError
from ..validate import check_choice, check_float, check_int, unsigned_seed
from .state import preserved

__all__ = ["find_lr", "FinderResult", "Sweep", "suggest", "sweep_lrs"]

SCHEMA = "lrscope.finder/1"
RULES = ("combined", "steepest", "midpoint", "valley", "minimum_over_10")
_BOOTSTRAP = 40
MAX_ITER = 100_000  # optimizer steps in one sweep (the rates are held in memory, one float each)
MAX_REPEATS = 100
MAX_RATE = 1e6


# ---------------------------------------------------------------- results


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

    def to_json(self) -> dict[str, Any]:
        return {
            "lrs": _finite_list(self.lrs), "losses": _finite_list(self.losses),
            "smoothed": _finite_list(self.smoothed), "fit": _finite_list(self.fit),
            "slope": _finite_list(self.slope), "suggestions": dict(self.suggestions),
            "range": list(self.range), "interval": list(self.interval), "stopped": self.stopped,
            "seed": self.seed,
            "reliable": self.reliable,
        }


@dataclass
class FinderResult:
    """What :func:`find_lr` found.  ``lrs``/``losses``/``smoothed``: the first sweep; ``sweeps``: all."""

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
            "reliable": bool(self.reliable),
            "repeats": self.repeats,
            "settings": dict(self.settings),
            "notes": list(self.notes),
            "seconds": round(float(self.seconds), 4),
            "sweeps": [s.to_json() for s in self.sweeps],
        }

    def plot(self, ax=None):
        """Raw and fitted loss against lr (log axis), the slope on a twin axis, every suggestion marked."""
        from ..viz.finder import plot_finder

        return plot_finder(self, ax=ax)

    def summary(self) -> str:
        low, high = self.range
        text = f"suggested lr {self.suggestion:.3g}; range {low:.3g} .. {high:.3g}"
        if self.spread is not None:
            text += f"; spread over {self.repeats} repeats {self.spread:.2f} decades"
        low, high = self.interval
        return text + f"; 90% interval from the curve's noise {low:.3g} .. {high:.3g}"


def _finite_list(values) -> list:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float).tolist()]


# ---------------------------------------------------------------- the rules (numpy only)


def sweep_lrs(start_lr: float, end_lr: float, num_iter: int, mode: str = "exp") -> np.ndarray:
    """lr[i], i = 0..n-1: ``start * (end/start)**(i/(n-1))`` (exp) or ``start + (end-start) i/(n-1)``."""
    r = np.arange(num_iter) / (num_iter - 1)
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** r
    return start_lr + (end_lr - start_lr) * r


def debiased_ema(losses: np.ndarray, beta: float) -> np.ndarray:
    """s_i = m_i / (1 - beta^(i+1)), m_i = beta m_{i-1} + (1 - beta) loss_i (Kingma & Ba 2015)."""
    out = np.empty(len(losses))
    m = 0.0
    for i, value in enumerate(losses):
        m = beta * m + (1.0 - beta) * value
        out[i] = m / (1.0 - beta ** (i + 1)) if beta > 0 else value
    return out


def _running_median(y: np.ndarray, half: int = 3) -> np.ndarray:
    """Centred running median over 2*half+1 points (edges padded), for one curve (n,) or many (n, B)."""
    from numpy.lib.stride_tricks import sliding_window_view

    pad = [(half, half)] + [(0, 0)] * (y.ndim - 1)
    padded = np.pad(y, pad, mode="edge")
    return np.median(sliding_window_view(padded, 2 * half + 1, axis=0), axis=-1)


def _robust_clip(y: np.ndarray) -> np.ndarray:
    """Clip spikes to running median +/- 3 robust sd, and cap the divergent tail above the starting level."""
    med = _running_median(y)
    mad = 1.4826 * np.median(np.abs(y - med), axis=0) + 1e-12
    y = np.clip(y, med - 3 * mad, med + 3 * mad)
    head = max(3, len(y) // 10)
    start = np.median(med[:head], axis=0)
    floor = np.min(med, axis=0)
    return np.minimum(y, start + np.maximum(start - floor, 1e-12))


def _local_quadratic(x: np.ndarray, h: float):
    """Rows of a Gaussian-kernel local quadratic fit: (F, S) with fit = F @ y and slope = S @ y."""
    d = x[None, :] - x[:, None]
    w = np.exp(-0.5 * (d / h) ** 2)
    basis = np.stack([w, w * d, w * d * d])  # 3 x n x n: the weighted design, transposed
    moments = np.stack([(w * d**k).sum(1) for k in range(5)], axis=1)  # n x 5
    a = np.stack([moments[:, 0:3], moments[:, 1:4], moments[:, 2:5]], axis=1)  # n x 3 x 3
    a_inv = np.linalg.pinv(a)
    f = np.einsum("ik,kij->ij", a_inv[:, 0, :], basis)
    s = np.einsum("ik,kij->ij", a_inv[:, 1, :], basis)
    return f, s


def _bandwidth(x: np.ndarray) -> float:
    span = float(x[-1] - x[0])
    step = float(np.median(np.diff(x))) if len(x) > 1 else span
    return max(2.0 * step, span / 50.0, 1e-6)


def _crossing(x: np.ndarray, fit: np.ndarray, imin: int, level: float) -> float:
    """log10 lr where the fit, walking left from its minimum, last rises above ``level`` (interpolated)."""
    k = imin
    while k > 0 and fit[k - 1] < level:
        k -= 1
    if k == 0:
        return float(x[0])
    t = (fit[k - 1] - level) / max(fit[k - 1] - fit[k], 1e-300)
    return float(x[k - 1] + min(max(t, 0.0), 1.0) * (x[k] - x[k - 1]))


def _valley(fit: np.ndarray, imin: int) -> int:
    """fastai's valley on the fit: the longest decreasing run before the minimum, a bit past its middle."""
    best = (0, 0)
    i = 0
    while i <= imin:
        j = i
        while j + 1 <= imin and fit[j + 1] < fit[j]:
            j += 1
        if j - i > best[1] - best[0]:
            best = (i, j)
        i = j + 1
    length = best[1] - best[0]
    return best[0] + length // 3 + length // 6


def _rules(x: np.ndarray, fit: np.ndarray, slope: np.ndarray) -> tuple[dict[str, float], tuple[float, float]]:
    """Every rule for one fitted curve, as log10 lr."""
    imin = int(np.argmin(fit))
    head = max(3, imin // 3)
    top = float(np.median(fit[:head])) if imin > 0 else float(fit[0])
    low = float(fit[imin])
    steep = int(np.argmin(slope[: imin + 1]))
    out = {
        "steepest": float(x[steep]),
        "midpoint": _crossing(x, fit, imin, top - 0.5 * (top - low)),
        "valley": float(x[_valley(fit, imin)]),
        "minimum_over_10": float(x[imin]) - 1.0,
    }
    out["combined"] = 0.5 * (out["steepest"] + out["midpoint"])
    drop = top - low
    bounds = (_crossing(x, fit, imin, top - 0.1 * drop), _crossing(x, fit, imin, top - 0.9 * drop))
    return {k: out[k] for k in RULES}, bounds


def suggest(lrs, losses, *, bootstrap: int = _BOOTSTRAP) -> dict[str, Any]:
    """Read the suggestions off one curve (see the module docstring).

    Returns a dict with ``fit``, ``slope`` (d loss / d log10 lr), ``suggestions`` (lr per rule), ``range``,
    ``interval`` (90 % bootstrap interval of the combined suggestion), ``notes`` (why it may be unreliable)
    and ``reliable``.
    """
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    ok = np.isfinite(losses) & (lrs > 0)
    n_ok = int(ok.sum())
    if n_ok < 10:
        raise UserError(f"the range test produced {n_ok} usable points; at least 10 are needed "
                        "(lower start_lr, raise num_iter, or check the loss for NaN)")
    x = np.log10(lrs[ok])
    y = _robust_clip(losses[ok])
    f, s = _local_quadratic(x, _bandwidth(x))
    fit, slope = f @ y, s @ y
    rules, bounds = _rules(x, fit, slope)
    notes = []
    imin = int(np.argmin(fit))
    head = max(3, imin // 3)
    top = float(np.median(fit[:head])) if imin > 0 else float(fit[0])
    drop = top - float(fit[imin])
    noise = float(np.median(np.abs(y - fit))) * 1.4826
    reliable = True
    if drop <= 3 * noise or drop <= 0.02 * abs(top):
        notes.append(f"the loss hardly fell during the sweep (drop {drop:.3g} against noise {noise:.3g}): "
                     "the suggestion is unreliable; widen the lr range or check the model")
        reliable = False
    if imin >= len(fit) - 2:
        notes.append("the loss was still falling at end_lr: raise end_lr to see where it turns")
    if imin <= 1:
        notes.append("the loss was lowest at start_lr: lower start_lr")
        reliable = False
    interval = (rules["combined"], rules["combined"])
    if bootstrap > 0:
        rng = np.random.default_rng(0)  # own generator: never touches the global RNGs
        resid = y - fit
        signs = rng.choice([-1.0, 1.0], size=(len(y), bootstrap))
        ys = fit[:, None] + resid[:, None] * signs
        fits, slopes = f @ ys, s @ ys
        values = [_rules(x, fits[:, b], slopes[:, b])[0]["combined"] for b in range(bootstrap)]
        lo, hi = np.percentile(values, [5, 95])
        interval = (float(lo), float(hi))
    full_fit = np.full(len(lrs), np.nan)
    full_slope = np.full(len(lrs), np.nan)
    full_fit[ok], full_slope[ok] = fit, slope
    return {
        "fit": full_fit, "slope": full_slope,
        "suggestions": {k: float(10.0**v) for k, v in rules.items()},
        "range": (float(10.0 ** bounds[0]), float(10.0 ** bounds[1])),
        "interval": (float(10.0 ** interval[0]), float(10.0 ** interval[1])),
        "notes": notes, "reliable": reliable,
    }


# ---------------------------------------------------------------- batches


_INPUT_KEYS = ("inputs", "input", "x", "image", "images", "features", "data")
_TARGET_KEYS = ("targets", "target", "y", "label", "labels")


def default_batch_fn(batch):
    """(inputs, targets) from a tuple/list batch (first two items) or a dict with usual key names."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, dict):
        inputs = next((batch[k] for k in _INPUT_KEYS if k in batch), None)
        targets = next((batch[k] for k in _TARGET_KEYS if k in batch), None)
        if inputs is not None and targets is not None:
            return inputs, targets
        raise UserError(f"cannot tell inputs from targets in a dict batch with keys {sorted(batch)}; "
                        "pass batch_fn=lambda b: (inputs, targets)")
    raise UserError(f"batches must be (inputs, targets) tuples or dicts; got {type(batch).__name__} "
                    "(pass batch_fn=lambda b: (inputs, targets))")


def _to(obj, device: torch.device):
    if isinstance(obj, torch.Tensor):
        return obj if obj.device == device else obj.to(device, non_blocking=True)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


def _call(model, inputs):
    if isinstance(inputs, torch.Tensor):
        return model(inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)


class _Exhausted(Exception):
    pass


class _Cycle:
    """Endless batches from a re-iterable loader; a one-shot iterator ends with :class:`_Exhausted`."""

    def __init__(self, loader):
        self.loader = loader
        self.iterator = iter(loader)
        self.passes = 1
        self.in_pass = 0
        self.total = 0

    def next(self):
        try:
            batch = next(self.iterator)
        except StopIteration:
            if self.total == 0:
                raise UserError("the loader yielded no batches") from None
            self.iterator = iter(self.loader)
            if self.iterator is self.loader:
                raise _Exhausted from None
            self.passes += 1
            try:
                batch = next(self.iterator)
            except StopIteration:
                raise _Exhausted from None
        self.total += 1
        return batch


# ---------------------------------------------------------------- the sweep


def check_sweep_settings(start_lr, end_lr, num_iter, mode="exp", smooth=0.98, diverge=4.0, repeats=1,
                         accumulation_steps=1) -> None:
    """UserError naming the first bad sweep setting (no model needed: the CLI checks before loading data)."""
    start_lr = check_float("start_lr", start_lr, low=0.0, low_open=True, high=MAX_RATE)
    end_lr = check_float("end_lr", end_lr, low=0.0, low_open=True, high=MAX_RATE)
    if start_lr >= end_lr:
        raise UserError(f"start_lr must be below end_lr; got start_lr={start_lr:g} >= end_lr={end_lr:g}")
    check_int("num_iter", num_iter, low=10, high=MAX_ITER)
    check_choice("mode", mode, ("exp", "linear"))
    check_float("smooth", smooth, low=0.0, high=1.0, high_open=True)
    check_float("diverge (a multiple of the best smoothed loss)", diverge, low=1.0, low_open=True, high=1e6)
    check_int("repeats", repeats, low=1, high=MAX_REPEATS)
    check_int("accumulation_steps", accumulation_steps, low=1, high=10_000)


def _check_inputs(model, optimizer, loss_fn, start_lr, end_lr, num_iter, mode, smooth, diverge, repeats,
                  accumulation_steps):
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise UserError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    if not callable(loss_fn):
        raise UserError(f"loss_fn must be callable; got {type(loss_fn).__name__}")
    check_sweep_settings(start_lr, end_lr, num_iter, mode, smooth, diverge, repeats, accumulation_steps)
    own = {id(p) for p in model.parameters()}
    foreign = sum(1 for g in optimizer.param_groups for p in g["params"] if id(p) not in own)
    if foreign:
        raise UserError(f"the optimizer holds {foreign} parameter(s) that are not the model's; "
                        "build the optimizer from model.parameters()")
    if not any(g["params"] for g in optimizer.param_groups):
        raise UserError("the optimizer has no parameters")


def _loader_generators(loader) -> list[torch.Generator]:
    found = []
    for owner in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None),
                  getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        g = getattr(owner, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


def _distributed():
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist
    return None


def _seed_all(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _set_lr(groups, lr: float) -> None:
    for group in groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


class _Run:
    """Everything one sweep needs; ``sweep()`` runs it once from the model's current state."""

    def __init__(self, model, optimizer, loss_fn, batches, lrs, *, smooth, diverge, accumulation_steps, amp,
                 scaler, val_loader, batch_fn, device):
        self.model, self.optimizer, self.loss_fn, self.batches = model, optimizer, loss_fn, batches
        self.lrs, self.smooth, self.diverge, self.acc = lrs, smooth, diverge, accumulation_steps
        self.amp, self.scaler, self.val_loader = amp, scaler, val_loader
        self.batch_fn, self.device = batch_fn, device
        self.dist = _distributed()
        self.world = self.dist.get_world_size() if self.dist else 1
        self.amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.skipped = 0

    def _forward(self, batch):
        inputs, targets = self.batch_fn(batch)
        inputs, targets = _to(inputs, self.device), _to(targets, self.device)
        if self.amp:
            with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
                return self.loss_fn(_call(self.model, inputs), targets)
        return self.loss_fn(_call(self.model, inputs), targets)

    def _validate(self) -> torch.Tensor:
        self.model.eval()
        total, count = torch.zeros((), device=self.device, dtype=torch.float64), 0
        with torch.no_grad():
            for batch in self.val_loader:
                loss = self._forward(batch)
                n = len(self.batch_fn(batch)[1])
                total += loss.detach().double() * n
                count += n
        self.model.train()
        if count == 0:
            raise UserError("val_loader yielded no batches")
        return total / count

    def step(self, lr: float) -> tuple[float, bool]:
        """One optimizer step at ``lr``: returns (the loss, whether the step really happened)."""
        _set_lr(self.optimizer.param_groups, lr)
        self.optimizer.zero_grad(set_to_none=True)
        total = None
        for _ in range(self.acc):
            loss = self._forward(self.batches.next())
            scaled = loss / self.acc if self.acc > 1 else loss
            (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            total = loss.detach() if total is None else total + loss.detach()
        stepped = True
        if self.scaler is not None:
            before = self.scaler.get_scale()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            stepped = self.scaler.get_scale() >= before  # the scale only shrinks when the step was skipped
        else:
            self.optimizer.step()
        value = total / self.acc if self.acc > 1 else total
        if self.val_loader is not None:
            value = self._validate()
        if self.dist is not None:
            value = value.detach().float().clone()
            self.dist.all_reduce(value)
            value = value / self.world
        return float(value), stepped

    def sweep(self, first: bool) -> tuple[np.ndarray, np.ndarray, str]:
        n = len(self.lrs)
        losses = np.full(n, np.nan)
        beta = self.smooth
        m, best, i, attempts = 0.0, math.inf, 0, 0
        stopped = "completed"
        self.model.train()
        while i < n:
            attempts += 1
            if attempts > 2 * n + 100:
                stopped = "too many skipped AMP steps"
                break
            try:
                value, stepped = self.step(float(self.lrs[i]))
            except _Exhausted:
                stopped = "loader exhausted"
                break
            if i == 0 and first and not math.isfinite(value):
                raise UserError(f"the loss on the first batch is {value} (before any update at start_lr): "
                                "check the model, the data and loss_fn")
            if not stepped:
                self.skipped += 1
                continue
            losses[i] = value
            if not math.isfinite(value):
                i += 1
                stopped = "diverged"
                break
            m = beta * m + (1.0 - beta) * value
            smoothed = m / (1.0 - beta ** (i + 1)) if beta > 0 else value
            best = min(best, smoothed)
            i += 1
            if smoothed > self.diverge * best:
                stopped = "diverged"
                break
        return self.lrs[:i].copy(), losses[:i], stopped


def find_lr(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable, loader, *,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100, mode: str = "exp",
            smooth: float = 0.98, diverge: float = 4.0, repeats: int = 1, accumulation_steps: int = 1,
            amp: bool | Any = False, val_loader=None, batch_fn: Callable | None = None,
            seed: int | None = None) -> FinderResult:
    """Run the LR range test on ``model`` and return a :class:`FinderResult` (see the module docstring).

    ``num_iter`` counts optimizer steps (each of ``accumulation_steps`` micro-batches; under AMP a step the
    GradScaler skips is not counted).  The sweep stops early when the debiased EMA of the loss
    (``smooth`` = beta) passes ``diverge`` x its best, or the loss is not finite.  ``amp`` is False, True
    (autocast: float16 with an internal GradScaler on CUDA, bfloat16 on CPU) or your own
    ``torch.amp.GradScaler`` (used, then restored).
    ``val_loader``: record the mean loss over that whole loader after every step (Smith's variant; slow).
    ``batch_fn(batch) -> (inputs, targets)`` for batches that are not (inputs, targets) tuples or usual dicts;
    inputs may be a tensor, a tuple (``model(*inputs)``) or a dict (``model(**inputs)``).
    Under ``torch.distributed`` every rank must call this; the loss is averaged across ranks, so all ranks see
    the same curve and stop together.
    """
    _check_inputs(model, optimizer, loss_fn, start_lr, end_lr, num_iter, mode, smooth, diverge, repeats,
                  accumulation_steps)
    t0 = time.perf_counter()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    device = params[0].device
    user_scaler = amp if (amp is not None and not isinstance(amp, bool)) else None
    scaler = user_scaler
    if amp is True and device.type == "cuda":
        scaler = torch.amp.GradScaler("cuda")
    use_amp = bool(amp is True or user_scaler is not None)
    lrs = sweep_lrs(float(start_lr), float(end_lr), num_iter, mode)
    notes: list[str] = []
    sweeps: list[Sweep] = []
    seeds = [None] * repeats if seed is None else [
        int(s) for s in np.random.SeedSequence(unsigned_seed(seed)).generate_state(repeats, dtype=np.uint32)]
    with preserved(model, optimizer, scaler=user_scaler, generators=_loader_generators(loader)) as snap:
        batches = _Cycle(loader)
        run = _Run(model, optimizer, loss_fn, batches, lrs, smooth=smooth, diverge=diverge,
                   accumulation_steps=accumulation_steps, amp=use_amp, scaler=scaler, val_loader=val_loader,
                   batch_fn=batch_fn or default_batch_fn, device=device)
        for k in range(repeats):
            if k:
                snap.restore(rng=False)  # same starting weights; the data stream and RNGs go on
                if scaler is not None and scaler is not user_scaler:
                    scaler = run.scaler = torch.amp.GradScaler("cuda")
            if seeds[k] is not None:
                _seed_all(seeds[k])
            sweep_lrs_k, losses, stopped = run.sweep(first=(k == 0))
            if len(losses) < 10:
                raise UserError(f"the range test stopped after {len(losses)} steps ({stopped}); at least 10 "
                                "are needed: give a longer loader, a lower start_lr or a larger diverge")
            found = suggest(sweep_lrs_k, losses)
            for note in found["notes"]:
                tagged = f"repeat {k + 1}: {note}" if repeats > 1 else note
                notes.append(tagged)
            sweeps.append(Sweep(lrs=sweep_lrs_k, losses=losses, smoothed=debiased_ema(losses, smooth),
                                fit=found["fit"], slope=found["slope"], suggestions=found["suggestions"],
                                range=found["range"], interval=found["interval"], stopped=stopped,
                                seed=seeds[k], reliable=found["reliable"]))
    per_pass = num_iter * accumulation_steps
    if batches.passes > 1:
        notes.append(f"the loader was cycled: {batches.total} batches over {batches.passes} passes "
                     f"({per_pass} per sweep)")
    if any(s.stopped == "loader exhausted" for s in sweeps):
        notes.append("the loader is a one-shot iterator and ran out before num_iter steps; pass a "
                     "re-iterable loader (e.g. a DataLoader) to get the full sweep")
    if run.skipped:
        notes.append(f"{run.skipped} optimizer step(s) skipped by the GradScaler were not counted")
    return _combine(sweeps, notes, time.perf_counter() - t0, dict(
        start_lr=float(start_lr), end_lr=float(end_lr), num_iter=num_iter, mode=mode, smooth=smooth,
        diverge=diverge, repeats=repeats, accumulation_steps=accumulation_steps, amp=use_amp,
        validation=val_loader is not None, seed=seed, world_size=run.world,
        lr_in_every_param_group=True))


def _log_median(values) -> float:
    return float(10.0 ** np.median(np.log10(np.asarray(values, dtype=float))))


def _combine(sweeps: list[Sweep], notes: list[str], seconds: float, settings: dict) -> FinderResult:
    suggestions = {rule: _log_median([s.suggestions[rule] for s in sweeps]) for rule in RULES}
    low = _log_median([s.range[0] for s in sweeps])
    high = _log_median([s.range[1] for s in sweeps])
    combined = [s.suggestions["combined"] for s in sweeps]
    spread = float(np.log10(max(combined) / min(combined))) if len(sweeps) > 1 else None
    interval = (_log_median([s.interval[0] for s in sweeps]), _log_median([s.interval[1] for s in sweeps]))
    reliable = sum(s.reliable for s in sweeps) * 2 > len(sweeps)
    stopped = [s.stopped for s in sweeps]
    if "diverged" in stopped:
        notes.append(f"the loss diverged and the sweep stopped early in {stopped.count('diverged')} of "
                     f"{len(sweeps)} sweep(s)")
    first = sweeps[0]
    return FinderResult(lrs=first.lrs, losses=first.losses, smoothed=first.smoothed,
                        suggestion=suggestions["combined"], suggestions=suggestions, range=(low, high),
                        spread=spread, interval=interval, sweeps=sweeps, settings=settings, notes=notes,
                        reliable=reliable, seconds=seconds)
