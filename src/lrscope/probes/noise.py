"""Gradient noise: |G|^2, tr(Sigma) and the simple noise scale B_simple = tr(Sigma) / |G|^2.

G is the true (full-data) gradient of the mean loss and Sigma the covariance of one example's gradient.  A
batch of B examples is cut into m equal slices of b = B // m examples (the remainder is left out) and the
gradient of each slice g_1..g_m is taken at the same parameters.  With g = mean_j g_j::

    tr(Sigma)_est = b / (m - 1) * sum_j |g_j - g|^2        (E[.] = tr(Sigma): unbiased sample variance)
    |G|^2_est     = |g|^2 - tr(Sigma)_est / (m b)           (E|g|^2 = |G|^2 + tr(Sigma) / (m b))

This *is* the two-batch-size estimator of McCandlish, Kaplan, Amodei et al. 2018, "An Empirical Model of
Large-Batch Training" (arXiv:1812.06162, appendix A.1) with B_small = b (|G_small|^2 averaged over the m
slices) and B_big = m b:  S = (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big) works out to the expression
above, and so does |G|^2 = (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small).  With m = B (one
example per slice) it is the exact per-example estimate, computed with ``torch.func.vmap(grad(...))``.  Each
single estimate is unbiased but noisy; :class:`NoiseMeter` smooths numerator and denominator separately
(bias-corrected EMAs), as the paper advises, and the ratio of the smoothed values is B_simple.

Under torch.distributed the W ranks' own gradients are the slices: :func:`noise_from_rank_gradients` takes
the per-rank batch as B_small and the global batch as B_big, from two numbers a data-parallel step has anyway
(:class:`RankGradientNorms` notes them inside DDP's all-reduce).

Measuring never disturbs training: gradients come from ``torch.autograd.grad`` (``p.grad`` is left alone),
module buffers (batch-norm running statistics) are restored, and the RNG state is forked, so a run with
:class:`NoiseHook` gives bitwise the same losses as one without.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UserError
from ..train.data import epoch_batches, steps_per_epoch
from ..train.distributed import DistContext, current

# one measurement costs about two training steps of a small model (an extra forward and backward pass, in
# slices), so measuring every 50 steps keeps the overhead near 4 % (bench/bench_noise.py)
DEFAULT_EVERY = 50
STEP_FIELDS = ("grad_sq", "noise_trace", "b_simple", "noise_batch", "noise_groups")


@dataclass(frozen=True)
class NoiseEstimate:
    """One measurement on one batch: unbiased |G|^2 and tr(Sigma), and the examples it used."""

    grad_sq: float
    noise_trace: float
    batch_size: int
    groups: int

    @property
    def b_simple(self) -> float:
        """tr(Sigma) / |G|^2 of this one measurement (inf when the |G|^2 estimate is not positive)."""
        return self.noise_trace / self.grad_sq if self.grad_sq > 0 else math.inf

    def to_record(self) -> dict:
        """The fields a step record carries (b_simple is null when |G|^2_est <= 0: it is an estimate)."""
        b = self.b_simple
        return {
            "grad_sq": self.grad_sq,
            "noise_trace": self.noise_trace,
            "b_simple": b if math.isfinite(b) else None,
            "noise_batch": self.batch_size,
            "noise_groups": self.groups,
        }


def estimate_from_slices(slice_grads: torch.Tensor, slice_size: int) -> NoiseEstimate:
    """The estimate from the flat gradients of m >= 2 slices of ``slice_size`` examples each (shape [m, P]).

    ``slice_size=1`` with one row per example gives the per-example estimate.
    """
    grads = torch.as_tensor(slice_grads, dtype=torch.float64)
    if grads.dim() != 2 or grads.shape[0] < 2:
        raise UserError(
            f"need the gradients of at least 2 slices as an [m, P] array; got shape {tuple(grads.shape)}"
        )
    m, b = grads.shape[0], int(slice_size)
    if b < 1:
        raise UserError(f"slice size must be >= 1; got {slice_size}")
    mean = grads.mean(0)
    trace = b * float(((grads - mean) ** 2).sum()) / (m - 1)
    grad_sq = float(mean @ mean) - trace / (m * b)
    return NoiseEstimate(grad_sq=grad_sq, noise_trace=trace, batch_size=m * b, groups=m)


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(mod, nn.modules.batchnorm._BatchNorm) for mod in model.modules())


class NoiseMeter:
    """Measure gradient noise on batches of your own loop.

        meter = NoiseMeter(groups=4)
        est = meter.measure(model, loss_fn, x, y)     # a NoiseEstimate; the model is left exactly as it was
        meter.b_simple                                # EMA(tr Sigma) / EMA(|G|^2)

    ``groups``: slices per batch (>= 2; more slices, less noise, more cost); ``"auto"`` (default) takes 8
    slices (computed together with ``torch.func.vmap``, nearly as cheap as 2) or, for a model with batch norm
    in training mode, 4 slices one after another (each slice normalises with its own statistics, so slices
    must not be tiny); ``groups="example"`` takes per-example gradients (one slice per example, via
    ``torch.func.vmap``; not for models with batch norm in training mode, whose per-example gradient is
    undefined).  ``loss_fn`` must average over the batch (``reduction="mean"``). ``ema``: smoothing of the
    running numerator and denominator (bias-corrected, as in Adam).
    """

    def __init__(self, groups: int | str = "auto", ema: float = 0.9):
        if groups not in ("example", "auto") and not (isinstance(groups, int) and groups >= 2):
            raise UserError(f"groups must be an integer >= 2, 'auto' or 'example'; got {groups!r}")
        if not 0.0 <= ema < 1.0:
            raise UserError(f"ema must be in [0, 1); got {ema}")
        self.groups = groups
        self.ema = float(ema)
        self._num = 0.0
        self._den = 0.0
        self._weight = 0.0

    # ---- smoothing

    def update(self, estimate: NoiseEstimate) -> NoiseEstimate:
        """Fold one estimate into the running EMAs; returns it."""
        self._num = self.ema * self._num + (1 - self.ema) * estimate.noise_trace
        self._den = self.ema * self._den + (1 - self.ema) * estimate.grad_sq
        self._weight = self.ema * self._weight + (1 - self.ema)
        return estimate

    @property
    def noise_trace(self) -> float:
        return self._num / self._weight if self._weight else math.nan

    @property
    def grad_sq(self) -> float:
        return self._den / self._weight if self._weight else math.nan

    @property
    def b_simple(self) -> float:
        den = self.grad_sq
        return self.noise_trace / den if den > 0 else math.nan

    def state_dict(self) -> dict:
        return {"num": self._num, "den": self._den, "weight": self._weight}

    def load_state_dict(self, state: dict) -> None:
        self._num, self._den, self._weight = float(state["num"]), float(state["den"]), float(state["weight"])

    # ---- measuring

    def from_per_example(self, grads) -> NoiseEstimate:
        """The estimate from per-example gradients you computed ([B, P] tensor, or a list of per-parameter
        [B, ...] tensors); folded into the EMAs.
        """
        if isinstance(grads, (list, tuple)):
            grads = torch.cat([torch.as_tensor(g).reshape(len(g), -1) for g in grads], dim=1)
        return self.update(estimate_from_slices(grads, 1))

    def measure(self, model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> NoiseEstimate:
        """Measure on (x, y) at the model's current parameters, in its current mode (folded into the EMAs)."""
        n = int(x.shape[0])
        params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        if not params:
            raise UserError("the model has no parameters that require gradients")
        if getattr(loss_fn, "reduction", "mean") != "mean":
            raise UserError(
                f"the loss function must average over the batch (reduction='mean'); "
                f"got reduction={loss_fn.reduction!r}"
            )
        per_example = self.groups == "example"
        if per_example and model.training and _has_batchnorm(model):
            raise UserError(
                "per-example gradients are undefined for a model with batch norm in training mode; "
                "use groups=2 or more"
            )
        batchnorm = model.training and _has_batchnorm(model)
        groups = (4 if batchnorm else 8) if self.groups == "auto" else self.groups
        m = n if per_example else min(int(groups), n)
        b = n // m
        if m < 2:
            raise UserError(f"need a batch of at least 2 examples to measure gradient noise; got {n}")
        x, y = x[: m * b], y[: m * b]
        devices = [x.device.index or 0] if x.is_cuda else []
        buffers = {name: buf.detach().clone() for name, buf in model.named_buffers()}
        try:
            with torch.random.fork_rng(devices=devices):
                if _has_batchnorm(model) and model.training:
                    grads = self._slice_grads_loop(model, loss_fn, params, x, y, m, b)
                else:
                    grads = self._slice_grads_vmap(model, loss_fn, params, buffers, x, y, m, b)
        finally:
            with torch.no_grad():
                for name, buf in model.named_buffers():
                    buf.copy_(buffers[name])
        return self.update(estimate_from_slices(grads, b))

    @staticmethod
    def _slice_grads_loop(model, loss_fn, params, x, y, m, b) -> torch.Tensor:
        rows = []
        names = list(params)
        for j in range(m):
            loss = loss_fn(model(x[j * b : (j + 1) * b]), y[j * b : (j + 1) * b])
            grads = torch.autograd.grad(loss, [params[k] for k in names], allow_unused=True)
            rows.append(
                torch.cat(
                    [
                        (g if g is not None else torch.zeros_like(params[k])).reshape(-1).detach()
                        for k, g in zip(names, grads, strict=True)
                    ]
                )
            )
        return torch.stack(rows)

    @staticmethod
    def _slice_grads_vmap(model, loss_fn, params, buffers, x, y, m, b) -> torch.Tensor:
        from torch.func import functional_call, grad, vmap

        detached = {k: p.detach() for k, p in params.items()}

        def slice_loss(p, xs, ys):
            return loss_fn(functional_call(model, (p, buffers), (xs,)), ys)

        xs = x.reshape(m, b, *x.shape[1:])
        ys = y.reshape(m, b, *y.shape[1:])
        grads = vmap(grad(slice_loss), in_dims=(None, 0, 0))(detached, xs, ys)
        return torch.cat([grads[k].reshape(m, -1) for k in params], dim=1)


# ---------------------------------------------------------------- gradient noise across ranks


def noise_from_rank_gradients(sum_local_sq: float, global_sq: float, local_batch: int,
                              world: int) -> NoiseEstimate:
    """The two-batch-size estimate of McCandlish et al. 2018 ("An Empirical Model of Large-Batch Training",
    arXiv:1812.06162, appendix A.1) with the per-rank batch as B_small = b and the global batch as
    B_big = W b, from two numbers a data-parallel step has anyway:

        |G_small|^2 = (1/W) sum_r |g_r|^2      (``sum_local_sq`` = sum_r |g_r|^2, before the all-reduce)
        |G_big|^2   = |g|^2                    (``global_sq``: the all-reduced, averaged gradient)
        tr(Sigma)   = (|G_small|^2 - |G_big|^2) / (1/b - 1/(W b)) = b (sum_r |g_r|^2 - W |g|^2) / (W - 1)
        |G|^2       = (W b |G_big|^2 - b |G_small|^2) / (W b - b) = |g|^2 - tr(Sigma) / (W b)

    Identical to :func:`estimate_from_slices` with the W rank gradients as the slices; every rank must hold
    ``local_batch`` examples (skip the last, uneven batch of an epoch).
    """
    if world < 2:
        raise UserError("the rank-gradient noise estimate needs at least 2 ranks")
    b, w = int(local_batch), int(world)
    trace = b * (float(sum_local_sq) - w * float(global_sq)) / (w - 1)
    grad_sq = float(global_sq) - trace / (w * b)
    if not (math.isfinite(trace) and math.isfinite(grad_sq)):
        raise UserError("the gradient norms are not finite; cannot estimate the gradient noise")
    return NoiseEstimate(grad_sq=grad_sq, noise_trace=trace, batch_size=w * b, groups=w)


def measure_across_ranks(model, loss_fn, x, y, ctx: DistContext) -> NoiseEstimate:
    """Gradient noise from this rank's share (x, y) of one global batch: each rank's gradient g_r of its
    mean loss (at the current parameters, no step taken, buffers and RNG untouched), then
    :func:`noise_from_rank_gradients` with the per-rank batch and the global batch as the two sizes.
    Costs one forward and backward pass and one all-reduce of the gradient; every rank must call it with
    equally many examples.
    """
    import torch.distributed as dist

    params = [p for p in model.parameters() if p.requires_grad]
    buffers = [b.detach().clone() for b in model.buffers()]
    devices = [x.device.index or 0] if x.is_cuda else []
    try:
        with torch.random.fork_rng(devices=devices):
            grads = torch.autograd.grad(loss_fn(model(x), y), params)
    finally:
        with torch.no_grad():
            for buffer, saved in zip(model.buffers(), buffers, strict=True):
                buffer.copy_(saved)
    flat = torch.cat([g.reshape(-1) for g in grads]).double()
    local_sq = float(flat @ flat)
    dist.all_reduce(flat)
    flat /= ctx.world_size
    (sum_local_sq,) = ctx.sum(local_sq)
    return noise_from_rank_gradients(sum_local_sq, float(flat @ flat), int(y.shape[0]), ctx.world_size)


class RankGradientNorms:
    """A DDP communication hook that notes |g_r|^2, this rank's own gradient before the all-reduce, then
    all-reduces as DDP would (average over ranks).  With it, :meth:`estimate` after a step costs one scalar
    all-reduce: no extra forward or backward pass.

        norms = RankGradientNorms.attach(ddp_model)
        loss.backward(); optimizer.step()
        estimate = norms.estimate(model, local_batch)   # every rank, at the same steps
    """

    def __init__(self):
        self.local_sq = 0.0  # |g_r|^2 of the last completed backward pass (a tensor once measured)
        self._running = 0.0  # summed over the buckets of the backward pass in progress (kept on the device)

    @classmethod
    def attach(cls, ddp_model) -> RankGradientNorms:
        norms = cls()
        ddp_model.register_comm_hook(norms, _noting_allreduce)
        return norms

    def estimate(self, model, local_batch: int, ctx: DistContext | None = None) -> NoiseEstimate:
        """The estimate for the last backward pass (``model``: the unwrapped model, whose ``.grad`` holds the
        averaged gradient)."""
        ctx = ctx or current()
        global_sq = sum(float(p.grad.double().pow(2).sum()) for p in model.parameters() if p.grad is not None)
        (sum_local_sq,) = ctx.sum(float(self.local_sq))
        return noise_from_rank_gradients(sum_local_sq, global_sq, local_batch, ctx.world_size)


def _noting_allreduce(state: RankGradientNorms, bucket):
    """DDP comm hook: add this bucket's |local gradient|^2 to ``state``, then the default mean all-reduce."""
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    # no .item() here: on a GPU that would stall the backward pass at every bucket
    state._running = state._running + torch.linalg.vector_norm(bucket.buffer(), dtype=torch.float64).square()
    if bucket.is_last():
        state.local_sq, state._running = state._running, 0.0
    return allreduce_hook(None, bucket)


# ---------------------------------------------------------------- the training hook


class NoiseHook:
    """A hook for the reference runner (``lrscope train --noise-every K``): every K steps measure the gradient
    noise where the next step starts: at the parameters just after the step, on the batch the next step
    will take (see :meth:`_next_batch`), and put ``grad_sq``, ``noise_trace``,
    ``b_simple``, ``noise_batch`` and ``noise_groups`` into that step's record; at each epoch's end add to the
    epoch record ``noise_trace`` (mean of the epoch's measurements), ``noise_trace_q25``/``noise_trace_q75``,
    ``noise_n``, ``grad_sq`` (mean) and ``b_simple`` (ratio of the means, the smoothed estimate of McCandlish
    et al.).

    The default cadence (every 50 steps) costs about 4 % of a small model's training time; a denser one
    (every 8) makes ``lrscope predict`` steadier when epochs are short, at about 25-30 % overhead.
    """

    def __init__(self, every: int = DEFAULT_EVERY, groups: int | str = "auto"):
        if not (isinstance(every, int) and every >= 1):
            raise UserError(f"noise measurement cadence must be an integer >= 1 step; got {every!r}")
        self.every = every
        self.meter = NoiseMeter(groups=groups)
        self._epoch: list[NoiseEstimate] = []
        self._stream: list | None = None  # [epoch, batches drawn, iterator] replaying the loop's data order

    def after_step(self, state) -> None:
        if state.step % self.every:
            return
        dist = current()
        x, y = self._next_batch(state, dist.rank, dist.world_size)
        if dist.active:
            # per-rank batch and global batch are the estimator's two sizes; every rank takes part.  The
            # estimator needs equal shares: skip the (smaller) last batch of an epoch, on every rank alike
            if not self._next_is_full(state, dist.world_size):
                return
            estimate = self.meter.update(measure_across_ranks(state.model, state.loss_fn, x.to(dist.device),
                                                              y.to(dist.device), dist))
        else:
            estimate = self.meter.measure(state.model, state.loss_fn, x, y)
        self._epoch.append(estimate)
        state.extra.update(estimate.to_record())

    def _next_is_full(self, state, world_size: int) -> bool:
        """Whether the next global batch holds ``batch_size * world_size`` examples (only the last of an
        epoch can hold fewer)."""
        config, bundle = state.config, state.bundle
        n_steps = steps_per_epoch(bundle, config.batch_size, world_size)
        done = state.step - state.epoch * n_steps
        index = done if done < n_steps else 0
        return (index + 1) * config.batch_size * world_size <= bundle.n_train

    def _next_batch(self, state, rank: int = 0, world_size: int = 1) -> tuple:
        """The batch the next step will train on (replayed with ``epoch_batches``), or the step's own batch
        when the state does not say where the data comes from (a loop other than the reference runner).

        Not the batch just stepped on: the step has just lowered the loss of its own examples, and at a high
        rate their gradients then read far smaller than those of the examples the next step brings (tr(Sigma)
        4-7x low at rate 0.5, batch 16 on digits: docs/noise-floor.md).  The next batch's examples were last
        seen about an epoch ago, like every batch the loop trains on.
        """
        config, bundle = getattr(state, "config", None), getattr(state, "bundle", None)
        if config is None or bundle is None or not hasattr(config, "batch_size"):
            return state.batch
        n_steps = steps_per_epoch(bundle, config.batch_size, world_size)
        done = state.step - state.epoch * n_steps  # steps completed in the current epoch
        epoch, index = (state.epoch, done) if done < n_steps else (state.epoch + 1, 0)
        if self._stream is None or self._stream[0] != epoch or self._stream[1] > index:
            self._stream = [epoch, 0, epoch_batches(bundle, config.batch_size, config.seed, epoch, rank=rank,
                                                    world_size=world_size)]
        while True:
            batch = next(self._stream[2])
            self._stream[1] += 1
            if self._stream[1] > index:
                return batch

    def on_epoch_end(self, state, record: dict) -> None:
        if not self._epoch:
            return
        record.update(summarise(self._epoch))
        self._epoch = []

    def state_dict(self) -> dict:
        return {
            "meter": self.meter.state_dict(),
            "epoch": [[e.grad_sq, e.noise_trace, e.batch_size, e.groups] for e in self._epoch],
        }

    def load_state_dict(self, state: dict) -> None:
        self.meter.load_state_dict(state["meter"])
        self._epoch = [
            NoiseEstimate(float(g), float(t), int(b), int(m)) for g, t, b, m in state.get("epoch", [])
        ]


def summarise(estimates: list[NoiseEstimate]) -> dict:
    """Epoch-record fields from a list of measurements."""
    traces = torch.tensor([e.noise_trace for e in estimates], dtype=torch.float64)
    grad_sq = float(torch.tensor([e.grad_sq for e in estimates], dtype=torch.float64).mean())
    trace = float(traces.mean())
    q25, q75 = (float(v) for v in torch.quantile(traces, torch.tensor([0.25, 0.75], dtype=torch.float64)))
    return {
        "noise_trace": trace,
        "noise_trace_q25": q25,
        "noise_trace_q75": q75,
        "noise_n": len(estimates),
        "grad_sq": grad_sq,
        "b_simple": trace / grad_sq if grad_sq > 0 else None,
    }
