"""Evaluate a model's loss (and accuracy) at many points theta0 + sum_d c[k, d] * direction_d, without
touching the user's model.

Each point's parameters are ``theta0 + c1*d1 + c2*d2`` (fused ``torch._foreach`` list ops).  There are three
ways to run the points:

* **loop**: one forward per point, written in place into one private copy of the model.
* **threads** (CPU): the same loop split over W worker threads (W = ``torch.get_num_threads()``), each with its
  own private copy and one intra-op thread; convolutional copies and the batch go to ``channels_last``, and the
  batch is fed in pieces whose activations fit about CACHE_BYTES (the loss is their size-weighted mean, exact for
  a mean-reduced loss, as with loaders).  On small convolutional models torch's intra-op threading scales poorly
  (2 threads did 1.3x the work of one in our trials), while independent points scale almost perfectly, and
  oneDNN's channels-last kernels ran the 3x3 convolutions of the landscape benchmark 2-3x faster single-threaded.
  Together: about 2x the plain loop on 2 cores (bench/RESULTS.md).
* **vmap**: K points at once, ``vmap(functional_call)`` over parameters stacked along a new leading dim, K
  chosen so that K * (3 * parameter bytes + activation bytes of one forward) fits ``memory_budget``.  Wins
  for small MLPs (where the per-point Python overhead dominates), and on GPUs.  On a CPU, ``vmap`` over
  convolution weights becomes a grouped convolution, which ran several times slower than the plain loop.

``mode="auto"``: for convolutional models on a CPU (and whenever BatchNorm statistics are recomputed or
buffers move with the point) the loop, as threads when several CPU threads are available and W copies fit
``memory_budget``; otherwise it times the first chunk with vmap and with the loop and keeps the faster.
Point 0 is always evaluated first by the plain loop, so a batch that does not fit the model is reported as
a :class:`UserError` before any batching.

Data: an ``(inputs, targets)`` pair, or an iterable of such pairs (a DataLoader).  Batches are the outer
loop and points the inner one, so each batch is read once for all points (twice with ``bn="recompute"``);
the loss is averaged over batches weighted by batch size (exact for a mean-reduced loss).

BatchNorm: ``bn="eval"`` (default) evaluates with the model's running statistics; ``bn="recompute"`` first
re-estimates them at every point (a forward pass over all the data with the BatchNorm layers in training
mode and a cumulative average, like ``torch.optim.swa_utils.update_bn``) into private buffers, then
evaluates in eval mode.  The user's module leaves exactly as it came: parameters, buffers and every
submodule's train/eval flag.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from ..console import Progress, quiet
from ..errors import UserError
from .directions import named_params

MODES = ("auto", "loop", "threads", "vmap")
BN_MODES = ("eval", "recompute")
DEFAULT_BUDGET = 512 * 2**20
CACHE_BYTES = 4 * 2**20  # threads mode: a worker's forward runs on pieces of the batch whose activations fit this
MIN_CHUNK_SAMPLES = 32
MAX_CHUNK = 256


@dataclass
class Evaluation:
    """Per-point mean loss (and accuracy where it applies), how the points were run, and the data seen."""

    loss: np.ndarray
    acc: np.ndarray | None
    mode: str
    chunk: int
    samples: int
    batches: int


# ---------------------------------------------------------------- data


def _is_pair(data) -> bool:
    return (
        isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)
    )


def as_batches(data, *, passes: int = 1) -> Sequence | Iterable:
    """An (inputs, targets) pair -> [pair]; a loader -> itself (a one-shot iterator is read into a list when
    ``passes`` > 1, since it can be iterated only once)."""
    if _is_pair(data):
        return [tuple(data)]
    if isinstance(data, torch.Tensor) or not hasattr(data, "__iter__"):
        raise UserError(
            f"data must be an (inputs, targets) pair of tensors or a loader of such pairs; "
            f"got {type(data).__name__}"
        )
    if passes > 1 and iter(data) is data:
        data = list(data)
    return data


def _split(batch) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise UserError(f"each batch must be an (inputs, targets) pair; got {type(batch).__name__}")
    return batch[0], batch[1]


# ---------------------------------------------------------------- the module's state, kept and restored


@contextlib.contextmanager
def preserved_modes(model: nn.Module):
    """Restore every submodule's ``training`` flag (and BatchNorm momentum) on exit, whatever happens."""
    modes = [(m, m.training) for m in model.modules()]
    momenta = [(m, m.momentum) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
        for m, momentum in momenta:
            m.momentum = momentum


def _bn_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


def _fresh_bn_buffers(bn_modules, device) -> dict[str, torch.Tensor]:
    fresh = {}
    for name, m in bn_modules:
        prefix = f"{name}." if name else ""
        fresh[prefix + "running_mean"] = torch.zeros_like(m.running_mean, device=device)
        fresh[prefix + "running_var"] = torch.ones_like(m.running_var, device=device)
        fresh[prefix + "num_batches_tracked"] = torch.zeros_like(m.num_batches_tracked, device=device)
    return fresh


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def is_classification(outputs: torch.Tensor, targets: torch.Tensor) -> bool:
    """Integer class-index targets and 2-D outputs [batch, classes]."""
    return (
        outputs.dim() == 2
        and targets.dim() == 1
        and not targets.is_floating_point()
        and not targets.is_complex()
        and targets.dtype != torch.bool
        and outputs.shape[0] == targets.shape[0]
    )


# ---------------------------------------------------------------- the evaluator


class PointEvaluator:
    """Loss at theta0 + sum_d coords[k, d] * directions[d] for every k; see the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable,
        base: Sequence[torch.Tensor],
        directions: Sequence[Sequence[torch.Tensor]],
        coords,
        *,
        buffer_base: dict | None = None,
        buffer_directions: Sequence[dict] | None = None,
        bn: str = "eval",
        mode: str = "auto",
        memory_budget: int = DEFAULT_BUDGET,
        accuracy: bool | None = None,
        progress: Progress = quiet,
    ):
        if mode not in MODES:
            raise UserError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if bn not in BN_MODES:
            raise UserError(f"bn must be one of {', '.join(BN_MODES)}; got {bn!r}")
        self.model, self.loss_fn = model, loss_fn
        self.names = [n for n, _ in named_params(model)]
        self.base = list(base)
        self.directions = [list(d) for d in directions]
        if any(len(d) != len(self.names) for d in self.directions) or len(self.base) != len(self.names):
            raise UserError(
                f"directions must hold one tensor per parameter ({len(self.names)}); got "
                f"{[len(d) for d in self.directions]}"
            )
        coords = np.asarray(coords, dtype=np.float64)
        self.coords = coords.reshape(len(coords), len(self.directions))
        self.coord_list = self.coords.tolist()
        self.device = self.base[0].device
        # private copies: whatever a forward does to buffers happens to these, never to the user's
        self.buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
        self.buffer_base = buffer_base or {}
        self.buffer_directions = [d for d in (buffer_directions or []) if d]
        self.moving_buffers = bool(self.buffer_base) and bool(self.buffer_directions)
        self.bn_modules = _bn_modules(model) if bn == "recompute" else []
        self.bn = "recompute" if self.bn_modules else "eval"
        self.mode_requested = mode
        self.memory_budget = int(memory_budget)
        self.accuracy = accuracy
        self.copy, self.copy_params = (
            _working_copy(model) if not (self.bn == "recompute" or self.moving_buffers) else (None, None)
        )
        self._worker_copies: list[tuple[nn.Module, list[torch.Tensor]]] = []  # threads mode: one per worker
        self._sample_bytes = 0.0  # activation bytes of one sample's forward (threads mode)
        self.progress = progress
        self._done, self._total = 0, len(self.coords)
        self._counting = threading.Lock()  # threads mode: the workers count their points together

    # -- one point's parameters and buffers

    def params(self, k: int) -> dict[str, torch.Tensor]:
        c = self.coord_list[k]
        out = torch._foreach_add(self.base, self.directions[0], alpha=c[0])
        for d in range(1, len(self.directions)):
            torch._foreach_add_(out, self.directions[d], alpha=c[d])
        return dict(zip(self.names, out, strict=False))

    def point_buffers(self, k: int) -> dict[str, torch.Tensor]:
        if not self.moving_buffers:
            return self.buffers
        c = self.coord_list[k]
        moved = dict(self.buffers)
        for name, value in self.buffer_base.items():
            v = value.clone()
            for d, bdir in enumerate(self.buffer_directions):
                v.add_(bdir[name], alpha=c[d])
            moved[name] = v
        return moved

    # -- running

    def _advance(self, points: int) -> None:
        """``points`` more points scored on the current batch (called by every way of running them)."""
        with self._counting:
            self._done += points
            done = self._done
        self.progress(done, self._total, "")

    def run(self, data) -> Evaluation:
        n_points = len(self.coords)
        batches = as_batches(data, passes=2 if self.bn == "recompute" else 1)
        with preserved_modes(self.model), torch.inference_mode():
            self.model.eval()
            stats = self._recompute_stats(batches) if self.bn == "recompute" else None
            loss_sum = torch.zeros(n_points, dtype=torch.float64)
            correct = torch.zeros(n_points, dtype=torch.float64)
            samples, n_batches, mode, chunk = 0, 0, None, 1
            known = len(batches) if hasattr(batches, "__len__") else None
            for batch in batches:
                self._total = n_points * (known or n_batches + 1)
                x, y = _split(batch)
                x, y = x.to(self.device), y.to(self.device)
                n = int(y.shape[0]) if y.dim() > 0 else 1
                if n_batches == 0:
                    losses, corrects, use_acc = self._first_point(x, y, stats)
                    self.accuracy = use_acc
                    self._advance(1)
                    mode, chunk, rest_l, rest_c = self._choose_and_run(x, y, stats, range(1, n_points))
                    losses, corrects = [losses, *rest_l], [corrects, *rest_c]
                else:
                    losses, corrects = self._run_points(mode, chunk, x, y, stats, range(n_points))
                weight = float(n)
                loss_sum += torch.stack([t.reshape(-1) for t in losses]).reshape(-1).double().cpu() * weight
                if self.accuracy:
                    correct += torch.stack([t.reshape(-1) for t in corrects]).reshape(-1).double().cpu()
                samples += n
                n_batches += 1
            if n_batches == 0:
                raise UserError("the data loader yielded no batches")
        loss = (loss_sum / samples).numpy()
        acc = (correct / samples).numpy() if self.accuracy else None
        return Evaluation(loss=loss, acc=acc, mode=mode, chunk=chunk, samples=samples, batches=n_batches)

    def _write_point(self, k: int, params: list[torch.Tensor]) -> None:
        """Point k into a private copy's parameters in place: fused list ops, no allocation."""
        c = self.coord_list[k]
        torch._foreach_copy_(params, self.base)
        for d, direction in enumerate(self.directions):
            torch._foreach_add_(params, direction, alpha=c[d])

    def _forward(self, k: int, x, stats) -> torch.Tensor:
        if self.copy is not None and stats is None:
            self._write_point(k, self.copy_params)
            return self.copy(x)
        buffers = self.point_buffers(k) if stats is None else {**self.buffers, **stats[k]}
        return functional_call(self.model, (self.params(k), buffers), (x,))

    def _score(self, out, y):
        loss = self.loss_fn(out, y)
        if self.accuracy:
            return loss, (out.argmax(dim=1) == y).sum()
        return loss, None

    def _first_point(self, x, y, stats):
        try:
            out = self._forward(0, x, stats)
            loss = self.loss_fn(out, y)
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(
                f"the batch does not fit the model: inputs {tuple(x.shape)}, targets {tuple(y.shape)} "
                f"-> {first}"
            ) from None
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise UserError(
                "loss_fn must return a scalar (a mean-reduced loss); got "
                f"{getattr(loss, 'shape', type(loss).__name__)}"
            )
        use_acc = is_classification(out, y) if self.accuracy is None else bool(self.accuracy)
        return loss, ((out.argmax(dim=1) == y).sum() if use_acc else None), use_acc

    def _loop(self, x, y, stats, points):
        losses, corrects = [], []
        for k in points:
            loss, c = self._score(self._forward(k, x, stats), y)
            losses.append(loss)
            corrects.append(c)
            self._advance(1)
        return losses, corrects

    # -- threads: the loop over points split across CPU worker threads

    def _thread_workers(self, x) -> int:
        """How many worker threads pay here (1: use the plain loop)."""
        if self.device.type != "cpu" or self.copy is None or self.bn == "recompute" or self.moving_buffers:
            return 1
        param_bytes = sum(t.numel() * t.element_size() for t in self.base)
        activations = _activation_bytes(self.model, self.buffers, self.params(0), x)
        self._sample_bytes = activations / max(1, len(x))
        per_worker = param_bytes + activations
        return int(max(1, min(torch.get_num_threads(), self.memory_budget // max(per_worker, 1))))

    def _cache_chunks(self, x, y) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) cut into near-equal pieces whose activations fit about CACHE_BYTES (one piece when it all
        fits, or when the targets are not per-sample)."""
        n = len(x)
        if not self._sample_bytes or y.dim() == 0 or len(y) != n:
            return [(x, y)]
        pieces = min(math.ceil(n * self._sample_bytes / CACHE_BYTES), max(1, n // MIN_CHUNK_SAMPLES))
        if pieces <= 1:
            return [(x, y)]
        return list(zip(torch.tensor_split(x, pieces), torch.tensor_split(y, pieces), strict=True))

    def _channels_last(self, x) -> bool:
        return x.dim() == 4 and any(isinstance(m, nn.Conv2d) for m in self.model.modules())

    def _threads(self, x, y, points, workers: int):
        points = list(points)
        workers = max(1, min(workers, len(points)))
        if not points:
            return [], []
        channels_last = self._channels_last(x)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        n = len(y) if y.dim() > 0 else 1
        pieces = self._cache_chunks(x, y)
        copies = self._worker_copies
        while len(copies) < workers:
            clone, params = _working_copy(self.model)
            if channels_last:
                clone.to(memory_format=torch.channels_last)  # parameters keep their identity
            copies.append((clone, params))
        losses: list = [None] * len(points)
        corrects: list = [None] * len(points)

        def work(w: int) -> None:
            torch.set_num_threads(1)  # this thread's own intra-op setting: the points are the parallelism
            clone, params = copies[w]
            with torch.inference_mode():
                for i in range(w, len(points), workers):
                    self._write_point(points[i], params)
                    if len(pieces) == 1:
                        losses[i], corrects[i] = self._score(clone(x), y)
                    else:  # a mean-reduced loss over the batch is the size-weighted mean over its pieces
                        scored = [(self._score(clone(xp), yp), len(yp)) for xp, yp in pieces]
                        losses[i] = sum(loss * size for (loss, _), size in scored) / n
                        corrects[i] = sum(hits for (_, hits), _ in scored) if self.accuracy else None
                    self._advance(1)

        threads = torch.get_num_threads()
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lrscope-points") as pool:
                for future in [pool.submit(work, w) for w in range(workers)]:
                    future.result()
        finally:
            torch.set_num_threads(threads)  # MKL's setting is process-wide: put it back
        return losses, corrects

    def _vmap_chunk(self, x, y, points: list[int]):
        c = torch.tensor([self.coord_list[k] for k in points], dtype=self.base[0].dtype, device=self.device)
        stacked = {}
        for i, name in enumerate(self.names):
            t = self.base[i].unsqueeze(0).expand(len(points), *self.base[i].shape).clone()
            for d, direction in enumerate(self.directions):
                t.add_(c[:, d].reshape(-1, *([1] * direction[i].dim())) * direction[i].unsqueeze(0))
            stacked[name] = t

        def one(params):
            out = functional_call(self.model, (params, self.buffers), (x,))
            loss = self.loss_fn(out, y)
            hits = (out.argmax(dim=1) == y).sum() if self.accuracy else torch.zeros((), device=out.device)
            return loss, hits

        losses, hits = vmap(one)(stacked)
        return list(losses.unbind()), list(hits.unbind())

    def _vmap(self, x, y, points, chunk):
        points = list(points)
        losses, corrects = [], []
        for start in range(0, len(points), chunk):
            lo, co = self._vmap_chunk(x, y, points[start : start + chunk])
            losses += lo
            corrects += co
            self._advance(len(lo))
        return losses, corrects

    def _run_points(self, mode, chunk, x, y, stats, points):
        if mode == "vmap":
            return self._vmap(x, y, points, chunk)
        if mode == "threads":
            return self._threads(x, y, points, chunk)
        return self._loop(x, y, stats, points)

    def _chunk_size(self, x) -> int:
        param_bytes = sum(t.numel() * t.element_size() for t in self.base)
        per_point = 3 * param_bytes + _activation_bytes(self.model, self.buffers, self.params(0), x)
        return int(max(1, min(MAX_CHUNK, self.memory_budget // max(per_point, 1))))

    def _auto_prefers_loop(self) -> bool:
        return (
            self.bn == "recompute"
            or self.moving_buffers
            or len(self.coords) < 8
            or (self.device.type == "cpu" and has_conv(self.model))
        )

    def _choose_and_run(self, x, y, stats, points):
        """Pick loop or vmap for this evaluation and run ``points`` (all but point 0) of the first batch."""
        points = list(points)
        requested = self.mode_requested
        if requested == "vmap" and (self.bn == "recompute" or self.moving_buffers):
            raise UserError(
                "mode='vmap' cannot recompute BatchNorm statistics or move buffers; use mode='loop'"
            )
        if requested == "threads":
            if self.device.type != "cpu" or self.copy is None:
                raise UserError("mode='threads' runs on a CPU, without recomputed BatchNorm statistics or moving "
                                "buffers; use mode='loop'")
            workers = max(2, self._thread_workers(x))
            return "threads", workers, *self._threads(x, y, points, workers)
        if requested == "loop" or (requested == "auto" and self._auto_prefers_loop()) or not points:
            workers = self._thread_workers(x) if requested == "auto" and len(points) >= 8 else 1
            if workers > 1:
                return "threads", workers, *self._threads(x, y, points, workers)
            return "loop", 1, *self._loop(x, y, stats, points)
        chunk = self._chunk_size(x)
        if requested == "vmap":
            try:
                return "vmap", chunk, *self._vmap(x, y, points, chunk)
            except RuntimeError as error:
                raise UserError(
                    f"this model cannot be evaluated under torch.func.vmap ({error}); use mode='loop'"
                ) from None
        # auto: time one chunk each way on real points, keep the faster for the rest
        probe = min(chunk, max(1, len(points) // 4))
        first, second, rest = points[:probe], points[probe : 2 * probe], points[2 * probe :]
        try:
            t0 = _now(self.device)
            lv, cv = self._vmap(x, y, first, chunk)
            t_vmap = (_now(self.device) - t0) / len(first)
        except RuntimeError:  # an op without a batching rule: the loop always works
            return "loop", 1, *self._loop(x, y, stats, points)
        t0 = _now(self.device)
        ll, cl = self._loop(x, y, stats, second)
        t_loop = (_now(self.device) - t0) / max(len(second), 1)
        mode = "vmap" if t_vmap < t_loop else "loop"
        lr, cr = self._run_points(mode, chunk, x, y, stats, rest)
        return mode, (chunk if mode == "vmap" else 1), lv + ll + lr, cv + cl + cr

    def _recompute_stats(self, batches) -> list[dict[str, torch.Tensor]]:
        """Per point, BatchNorm running statistics re-estimated over all the data (cumulative average)."""
        stats = [_fresh_bn_buffers(self.bn_modules, self.device) for _ in range(len(self.coords))]
        for _, m in self.bn_modules:
            m.momentum = None
            m.training = True
        seen = 0
        for batch in batches:
            x, _ = _split(batch)
            x = x.to(self.device)
            for k in range(len(self.coords)):
                self._forward(k, x, stats)
            seen += 1
        for _, m in self.bn_modules:
            m.training = False
        if seen == 0:
            raise UserError("the data loader yielded no batches")
        return stats


def _working_copy(model: nn.Module):
    """A private deep copy in eval mode whose parameters the loop overwrites in place (one copy for all points).

    ``functional_call`` re-binds every parameter on every call, which cost about as much as a small MLP's forward
    in our trials; writing into a copy costs three fused list ops.  Models that cannot be deep-copied fall back to
    ``functional_call`` (None).
    """
    try:
        with torch.no_grad():
            clone = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - any module deepcopy cannot handle simply takes the functional path
        return None, None
    clone.eval()
    params = [p for _, p in named_params(clone)]
    for p in params:
        p.requires_grad_(False)
    return clone, params


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _activation_bytes(model: nn.Module, buffers, params, x) -> int:
    """Bytes of every leaf module's output in one forward at ``params`` (about the live activations)."""
    total = [0]

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            total[0] += output.numel() * output.element_size()

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        functional_call(model, (params, buffers), (x,))
    finally:
        for h in handles:
            h.remove()
    return total[0]


def evaluate_points(
    model: nn.Module, loss_fn: Callable, data, base, directions, coords, **options
) -> Evaluation:
    """Loss (and accuracy) at ``base + sum_d coords[k, d] * directions[d]`` for every row k of ``coords``.

    Options: ``buffer_base``/``buffer_directions`` (buffers that move with the point, for interpolation),
    ``bn`` ("eval" | "recompute"), ``mode`` ("auto" | "loop" | "vmap"), ``memory_budget`` (bytes for a vmap
    chunk), ``accuracy`` (None: when the task is classification), ``progress`` (called as ``progress(points
    scored, points in all, "")`` as they are scored; over several batches each point counts once per batch).
    """
    return PointEvaluator(model, loss_fn, base, directions, coords, **options).run(data)
