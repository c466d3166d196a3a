"""The LR range test, made to be trusted (Smith 2017, "Cyclical Learning Rates for Training Neural Networks").

``find_lr`` trains the user's model for ``num_iter`` optimizer steps while the learning rate rises from
``start_lr`` to ``end_lr`` (exponentially by default), records the loss of every step, and reads a suggested
learning rate and an LR range for cyclical / 1cycle schedules off the curve (:mod:`lrscope.analysis.finder_curve`
says how, and why the suggestion moves little with the seed).  Afterwards the model, optimizer, GradScaler
and RNGs are exactly as they came in, whatever happened during the sweep (:mod:`lrscope.probes.state`).

With ``repeats`` > 1 the sweep runs again from the same starting state with further data (the loader is
simply iterated on, so a shuffling loader gives new orders) and, when ``seed`` is given, per-repeat seeds
derived from it with ``numpy.random.SeedSequence``.  The repeats are combined (every rule the median in log
space) by :func:`lrscope.analysis.finder_result.combine_sweeps`.

The learning rate of the sweep is written into *every* param group (per-group ratios are not kept; the
suggestion is the rate for a single-group optimizer).  The loss recorded at step i is the loss of the batch
that step i's update then uses, at lr[i] (torch-lr-finder and fastai record the same pair).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..analysis.finder_curve import debiased_ema, suggest, sweep_lrs
from ..analysis.finder_result import FinderResult, Sweep, combine_sweeps
from ..console import Progress, quiet
from ..errors import UserError
from ..validate import check_choice, check_float, check_int, unsigned_seed
from .state import preserved

__all__ = ["find_lr", "uses_batchnorm", "check_sweep_settings", "FinderResult", "Sweep", "debiased_ema", "suggest",
           "sweep_lrs"]

MAX_ITER = 100_000  # optimizer steps in one sweep (the rates are held in memory, one float each)
MAX_REPEATS = 100
MAX_RATE = 1e6


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


def _loss_tensor(value) -> torch.Tensor:
    """The loss a training step returned: a tensor, or a dict / model output holding one under "loss"."""
    if isinstance(value, torch.Tensor):
        return value
    loss = value.get("loss") if hasattr(value, "get") else getattr(value, "loss", None)
    if isinstance(loss, torch.Tensor):
        return loss
    raise UserError(f"step_loss must return the loss as a tensor (or a dict holding it under 'loss'); got "
                    f"{type(value).__name__}")


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
                 scaler, val_loader, batch_fn, device, step_loss=None):
        self.model, self.optimizer, self.loss_fn, self.batches = model, optimizer, loss_fn, batches
        self.step_loss = step_loss
        self.lrs, self.smooth, self.diverge, self.acc = lrs, smooth, diverge, accumulation_steps
        self.amp, self.scaler, self.val_loader = amp, scaler, val_loader
        self.batch_fn, self.device = batch_fn, device
        self.dist = _distributed()
        self.world = self.dist.get_world_size() if self.dist else 1
        self.amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.skipped = 0

    def _forward(self, batch):
        if self.step_loss is not None:
            batch = _to(batch, self.device)
            if self.amp:
                with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
                    return _loss_tensor(self.step_loss(batch))
            return _loss_tensor(self.step_loss(batch))
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
                n = 1 if self.step_loss is not None else len(self.batch_fn(batch)[1])
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

    def sweep(self, first: bool, progress: Callable[[int, str], None]) -> tuple[np.ndarray, np.ndarray, str]:
        """One sweep; ``progress(steps done, status)`` after every step."""
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
            progress(i, f"lr {self.lrs[i - 1]:.2g}, loss {value:.3g}")
            if smoothed > self.diverge * best:
                stopped = "diverged"
                break
        return self.lrs[:i].copy(), losses[:i], stopped


def uses_batchnorm(model: torch.nn.Module) -> bool:
    """Whether ``model`` holds a BatchNorm layer (1d/2d/3d, lazy or synchronised): the weights in front of it
    are then scale-invariant, and the rate the run tolerates is not the one the short sweep sees.

    >>> uses_batchnorm(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)))
    True
    >>> uses_batchnorm(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)))
    False
    """
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def find_lr(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable | None, loader, *,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100, mode: str = "exp",
            smooth: float = 0.98, diverge: float = 4.0, repeats: int = 1, accumulation_steps: int = 1,
            amp: bool | Any = False, val_loader=None, batch_fn: Callable | None = None,
            seed: int | None = None, step_loss: Callable | None = None, batchnorm: bool | None = None,
            progress: Progress = quiet) -> FinderResult:
    """Run the LR range test on ``model`` and return a :class:`FinderResult` (see the module docstring).

    ``num_iter`` counts optimizer steps (each of ``accumulation_steps`` micro-batches; under AMP a step the
    GradScaler skips is not counted).  The sweep stops early when the debiased EMA of the loss
    (``smooth`` = beta) passes ``diverge`` x its best, or the loss is not finite.  ``amp`` is False, True
    (autocast: float16 with an internal GradScaler on CUDA, bfloat16 on CPU) or your own
    ``torch.amp.GradScaler`` (used, then restored).
    ``val_loader``: record the mean loss over that whole loader after every step (Smith's variant; slow).
    ``batch_fn(batch) -> (inputs, targets)`` for batches that are not (inputs, targets) tuples or usual dicts;
    inputs may be a tensor, a tuple (``model(*inputs)``) or a dict (``model(**inputs)``).
    ``step_loss(batch) -> loss`` instead of ``loss_fn``: the loss of one whole batch (already on the model's
    device) computed by your own code, e.g. a LightningModule's ``training_step`` or a Hugging Face model's
    ``model(**batch).loss``; a dict or model output holding ``"loss"`` is accepted.  Give one of the two.
    Under ``torch.distributed`` every rank must call this; the loss is averaged across ranks, so all ranks see
    the same curve and stop together.
    ``batchnorm``: whether the model normalises with BatchNorm, which places the suggestion and 1cycle's peak
    higher (see :mod:`lrscope.analysis.finder_curve`); None (the default) looks for BatchNorm layers in
    ``model``.
    ``progress(steps done, steps in all, status)`` is called after every step (silent by default).
    """
    if (loss_fn is None) == (step_loss is None):
        raise UserError("give find_lr one of loss_fn (called as loss_fn(model(inputs), targets)) or step_loss "
                        "(called as step_loss(batch)); got " + ("neither" if loss_fn is None else "both"))
    _check_inputs(model, optimizer, loss_fn or step_loss, start_lr, end_lr, num_iter, mode, smooth, diverge,
                  repeats, accumulation_steps)
    t0 = time.perf_counter()
    batchnorm = uses_batchnorm(model) if batchnorm is None else bool(batchnorm)
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
                   batch_fn=batch_fn or default_batch_fn, device=device, step_loss=step_loss)
        for k in range(repeats):
            if k:
                snap.restore(rng=False)  # same starting weights; the data stream and RNGs go on
                if scaler is not None and scaler is not user_scaler:
                    scaler = run.scaler = torch.amp.GradScaler("cuda")
            if seeds[k] is not None:
                _seed_all(seeds[k])
            sweep_lrs_k, losses, stopped = run.sweep(
                first=(k == 0), progress=lambda i, status, k=k: progress(k * num_iter + i, repeats * num_iter, status))
            progress((k + 1) * num_iter, repeats * num_iter, stopped)  # a sweep that stopped early is done
            if len(losses) < 10:
                raise UserError(f"the range test stopped after {len(losses)} steps ({stopped}); at least 10 "
                                "are needed: give a longer loader, a lower start_lr or a larger diverge")
            found = suggest(sweep_lrs_k, losses, batchnorm=batchnorm)
            for note in found["notes"]:
                tagged = f"repeat {k + 1}: {note}" if repeats > 1 else note
                notes.append(tagged)
            sweeps.append(Sweep(lrs=sweep_lrs_k, losses=losses, smoothed=debiased_ema(losses, smooth),
                                fit=found["fit"], slope=found["slope"], suggestions=found["suggestions"],
                                range=found["range"], interval=found["interval"], stopped=stopped,
                                seed=seeds[k], reliable=found["reliable"], rule=found["rule"]))
    per_pass = num_iter * accumulation_steps
    if batches.passes > 1:
        notes.append(f"the loader was cycled: {batches.total} batches over {batches.passes} passes "
                     f"({per_pass} per sweep)")
    if any(s.stopped == "loader exhausted" for s in sweeps):
        notes.append("the loader is a one-shot iterator and ran out before num_iter steps; pass a "
                     "re-iterable loader (e.g. a DataLoader) to get the full sweep")
    if run.skipped:
        notes.append(f"{run.skipped} optimizer step(s) skipped by the GradScaler were not counted")
    return combine_sweeps(sweeps, notes, time.perf_counter() - t0, dict(
        start_lr=float(start_lr), end_lr=float(end_lr), num_iter=num_iter, mode=mode, smooth=smooth,
        diverge=diverge, repeats=repeats, accumulation_steps=accumulation_steps, amp=use_amp,
        validation=val_loader is not None, seed=seed, world_size=run.world, batchnorm=batchnorm,
        lr_in_every_param_group=True))
