"""Curvature of the loss: Hessian-vector products, top eigenvalues (Lanczos or power iteration), Hutchinson
trace, and a training hook that tracks sharpness against the edge-of-stability thresholds.

HVP, forward-over-reverse (Pearlmutter 1994; the torch.func recipe): with f(theta) the mean loss,

    H v = d/de grad f(theta + e v) |_{e=0} = jvp(grad(f), (theta,), (v,))[1]

evaluated through ``torch.func.functional_call`` on private copies of the parameters and buffers: the user's
module, its ``.grad`` fields and its running statistics are never written.  Over a loader the HVP is the
batch-size weighted mean of the per-batch HVPs (one pass over the data per product, or per ``vmap``-ed block
of products).

Top eigenvalues: Lanczos (Lanczos 1950; Golub & Van Loan, Matrix Computations, ch. 10) with full
reorthogonalisation.  After j products the tridiagonal T_j's largest eigenvalues (Ritz values) approximate the
Hessian's largest; Lanczos stops when the top-k Ritz values change by less than ``tol`` (relative) from one
step to the next (and their residuals are small, see RESIDUAL_FACTOR).  The extreme eigenvalues converge at a
rate set by the gap (Kaniel-Paige), far faster than power iteration (error ~ (lambda_2/lambda_1)^(2j)), which
is kept as ``method="power"`` (with deflation, as PyHessian does).  "Top" means largest algebraic values: for
sharpness these are the positive top of the spectrum.

Trace: Hutchinson 1990, tr(H) = E[z^T H z] for Rademacher z; the running mean stops when it changes by less
than ``tol`` relative (after a few samples); the standard error is reported.

Edge of stability (Cohen, Kaur, Li, Kolter, Talwalkar, ICLR 2021, arXiv:2103.00065): gradient descent with
rate eta is stable along an eigendirection only while lambda < 2/eta; with heavy-ball momentum beta the
threshold is (2 + 2 beta)/eta, with Nesterov momentum (2 + 2 beta)/(eta (1 + 2 beta)) (their appendix).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

# torch.func.grad imports torch._dynamo on its first call (1-2 s on our CPUs); pay it when this module is
# imported rather than inside the first probe, so a probe's wall time is its own work (see bench/RESULTS.md).
import torch._dynamo  # noqa: E402,F401  isort: skip

from ..console import Progress, quiet
from ..errors import UserError
from ..validate import check_float, check_int
from .directions import named_params, unflatten
from .evaluate import _split, as_batches, preserved_modes
from .landscape import subset

METHODS = ("lanczos", "power")
MAX_K = 100  # top eigenvalues: Lanczos keeps a basis of a few times k parameter-sized vectors
# Lanczos also asks the Ritz pair's residual ||H y - theta y|| = |beta_j s_j| to be below this many tol
# (relative): a Ritz value can stall near a lower eigenvalue while the top direction is still faint in the
# Krylov space, and the step-to-step change alone then stops too early (seen on a small CNN: 6 % low).  The
# eigenvalue error is at most the residual and typically residual^2 / gap.
RESIDUAL_FACTOR = 10.0


class HessianOperator:
    """v -> H v for the mean loss of ``model`` on ``data`` (a batch or a loader), counting the products."""

    def __init__(self, model: nn.Module, loss_fn: Callable, data, *, train_mode: bool = False):
        named = named_params(model)
        self.model, self.loss_fn, self.train_mode = model, loss_fn, train_mode
        self.names = [n for n, _ in named]
        self.params = {n: p.detach().clone() for n, p in named}
        self.like = list(self.params.values())
        self.buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
        self.batches = as_batches(data, passes=2)
        self.size = sum(p.numel() for p in self.like)
        self.dtype, self.device = self.like[0].dtype, self.like[0].device
        self.count = 0
        self._checked = False

    def _loss(self, params, x, y):
        out = functional_call(self.model, (params, self.buffers), (x,))
        return self.loss_fn(out, y)

    def _data(self):
        seen = 0
        for batch in self.batches:
            x, y = _split(batch)
            seen += 1
            yield x.to(self.device), y.to(self.device)
        if seen == 0:
            raise UserError("the data loader yielded no batches")

    def _check(self, x, y) -> None:
        if self._checked:
            return
        try:
            with torch.no_grad():
                loss = self._loss(self.params, x, y)
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(
                f"the batch does not fit the model: inputs {tuple(x.shape)}, targets {tuple(y.shape)} "
                f"-> {first}"
            ) from None
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise UserError("loss_fn must return a scalar (a mean-reduced loss)")
        self._checked = True

    def _flat(self, tree) -> torch.Tensor:
        return torch.cat([tree[n].reshape(-1) for n in self.names])

    def _tree(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, unflatten(flat, self.like), strict=False))

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a flat vector v (one pass over the data)."""
        return self.matmat(v.unsqueeze(0))[0]

    def matmat(self, vs: torch.Tensor) -> torch.Tensor:
        """H v_i for the rows of ``vs`` [m, n]: one pass over the data, the m tangents batched with vmap."""
        vs = vs.to(device=self.device, dtype=self.dtype)
        total, n_seen = torch.zeros_like(vs), 0
        with preserved_modes(self.model), torch.enable_grad():
            self.model.train(self.train_mode)
            for x, y in self._data():
                self._check(x, y)
                n = int(y.shape[0]) if y.dim() > 0 else 1

                def hvp(tangent, x=x, y=y):
                    return jvp(grad(lambda q: self._loss(q, x, y)), (self.params,), (tangent,))[1]

                if vs.shape[0] == 1:
                    hv = self._flat(hvp(self._tree(vs[0]))).unsqueeze(0)
                else:
                    trees = {
                        name: t.reshape(vs.shape[0], *p.shape)
                        for (name, p), t in zip(self.params.items(), _split_cols(vs, self.like), strict=False)
                    }
                    out = vmap(hvp)(trees)
                    hv = torch.cat([out[name].reshape(vs.shape[0], -1) for name in self.names], dim=1)
                total += hv.detach() * n
                n_seen += n
        self.count += vs.shape[0]
        return total / n_seen


def _split_cols(vs: torch.Tensor, like) -> list[torch.Tensor]:
    return list(torch.split(vs, [p.numel() for p in like], dim=1))


# ---------------------------------------------------------------- eigenvalues


@dataclass
class Eigen:
    """Top eigenvalues (largest first), their vectors (tensor lists in parameters() order), cost, history."""

    values: list[float]
    vectors: list[list[torch.Tensor]]
    hvp_count: int
    method: str
    converged: bool
    history: list[list[float]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "schema": "lrscope.eigenvalues/1",
            "values": self.values,
            "hvp_count": self.hvp_count,
            "method": self.method,
            "converged": self.converged,
        }


def lanczos(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    *,
    k: int = 1,
    tol: float = 1e-3,
    max_iter: int = 100,
    generator: torch.Generator | None = None,
    dtype=torch.float32,
    device=None,
) -> tuple[np.ndarray, torch.Tensor, bool, list]:
    """Top-k eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation.

    Returns (values largest first, vectors as rows [k, n], converged, Ritz-value history).  Stops when every
    one of the top-k Ritz values moved by at most ``tol`` relative since the previous step and its residual
    is at most ``RESIDUAL_FACTOR * tol`` relative, at an invariant subspace, or after ``max_iter`` products.
    """
    max_iter = int(min(max_iter, n))
    generator = generator or torch.Generator().manual_seed(0)
    q = torch.randn(n, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
    q /= q.norm()
    basis = torch.zeros(max_iter, n, dtype=dtype, device=device)
    alphas: list[float] = []
    betas: list[float] = []
    previous, history, converged = None, [], False
    theta = s = None
    for j in range(max_iter):
        basis[j] = q
        w = matvec(q).to(dtype)
        alpha = float(torch.dot(q, w))
        w = w - alpha * q - (betas[-1] * basis[j - 1] if j > 0 else 0)
        for _ in range(2):  # full reorthogonalisation, twice ("twice is enough": Parlett)
            w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        alphas.append(alpha)
        beta = float(w.norm())
        tri = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if j > 0:
            off = torch.tensor(betas, dtype=torch.float64)
            tri += torch.diag(off, 1) + torch.diag(off, -1)
        theta, s = torch.linalg.eigh(tri)
        top = theta.flip(0)[:k].numpy()
        residual = (beta * s[-1, theta.argsort(descending=True)[:k]].abs()).numpy()
        history.append(top.tolist())
        if previous is not None and len(top) == k and len(previous) == k:
            change = np.abs(top - previous) / np.maximum(np.abs(top), 1e-30)
            relative_residual = residual / np.maximum(np.abs(top), 1e-30)
            if np.all(change <= tol) and np.all(relative_residual <= RESIDUAL_FACTOR * tol):
                converged = True
                break
        previous = top
        if beta <= 1e-10 * max(1.0, float(theta.abs().max())):
            converged = True  # an invariant subspace: the Ritz values are exact
            break
        betas.append(beta)
        q = w / beta
    m = len(alphas)
    order = torch.argsort(theta, descending=True)[:k]
    vectors = s[:, order].T.to(dtype=dtype, device=device) @ basis[:m]
    vectors = vectors / vectors.norm(dim=1, keepdim=True)
    return theta[order].numpy(), vectors, converged, history


def power_iteration(
    matvec,
    n: int,
    *,
    k: int = 1,
    tol: float = 1e-3,
    max_iter: int = 100,
    generator: torch.Generator | None = None,
    dtype=torch.float32,
    device=None,
):
    """Top-k (largest |lambda|) by power iteration with deflation against the found vectors (as PyHessian)."""
    generator = generator or torch.Generator().manual_seed(0)
    values, vectors, history, converged_all = [], [], [], True
    for _ in range(k):
        v = torch.randn(n, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
        v /= v.norm()
        value, converged = None, False
        for _ in range(max_iter):
            for u in vectors:
                v = v - torch.dot(u, v) * u
            v = v / v.norm()
            hv = matvec(v).to(dtype)
            new = float(torch.dot(v, hv))
            history.append([new])
            if value is not None and abs(new - value) <= tol * max(abs(new), 1e-30):
                value, converged = new, True
                break
            value = new
            v = hv / hv.norm()
        converged_all &= converged
        values.append(value)
        vectors.append(v)
    order = np.argsort(values)[::-1]
    return np.asarray(values)[order], torch.stack([vectors[i] for i in order]), converged_all, history


def top_eigenvalues(
    model: nn.Module,
    loss_fn: Callable,
    data,
    k: int = 1,
    tol: float = 1e-3,
    method: str = "lanczos",
    max_iter: int = 100,
    seed: int = 0,
    *,
    train_mode: bool = False,
    progress: Progress = quiet,
) -> Eigen:
    """The ``k`` largest Hessian eigenvalues of the mean loss on ``data`` (a batch or a loader).

    The model is evaluated in eval mode unless ``train_mode`` (BatchNorm then uses batch statistics; its
    running statistics are updated only in private copies).  The start vector comes from a local generator
    seeded with ``seed``; the global RNG is untouched.  ``progress(products done, the most it may take, status)``
    after every Hessian-vector product (it may stop early: converged).
    """
    if method not in METHODS:
        raise UserError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    k = check_int("k", k, low=1, high=MAX_K)
    tol = check_float("tol", tol, low=0.0, low_open=True, high=1.0)
    op = HessianOperator(model, loss_fn, data, train_mode=train_mode)
    if k > op.size:
        raise UserError(f"k={k} is more than the number of parameters ({op.size})")
    run = lanczos if method == "lanczos" else power_iteration
    most = min(max_iter, op.size) if method == "lanczos" else k * max_iter

    def matvec(v: torch.Tensor) -> torch.Tensor:
        product = op.matvec(v)
        progress(op.count, most, f"{op.count} Hessian-vector products")
        return product

    values, vectors, converged, history = run(
        matvec,
        op.size,
        k=k,
        tol=tol,
        max_iter=max_iter,
        generator=torch.Generator().manual_seed(int(seed)),
        dtype=op.dtype,
        device=op.device,
    )
    return Eigen(
        values=[float(v) for v in values],
        vectors=[unflatten(v, op.like) for v in vectors],
        hvp_count=op.count,
        method=method,
        converged=bool(converged),
        history=history,
    )


# ---------------------------------------------------------------- trace


@dataclass
class Trace:
    value: float
    stderr: float
    samples: int
    hvp_count: int
    converged: bool

    def to_json(self) -> dict:
        return {
            "schema": "lrscope.trace/1",
            "value": self.value,
            "stderr": self.stderr,
            "samples": self.samples,
            "hvp_count": self.hvp_count,
            "converged": self.converged,
        }


def hutchinson_trace(
    model: nn.Module,
    loss_fn: Callable,
    data,
    *,
    tol: float = 1e-2,
    max_samples: int = 200,
    min_samples: int = 8,
    batch: int = 1,
    seed: int = 0,
    train_mode: bool = False,
) -> Trace:
    """tr(H) ~ mean of z^T H z over Rademacher z (Hutchinson 1990).

    ``batch`` vectors share one pass over the data (vmap over the tangent); stops once the running mean moves
    by less than ``tol`` relative after ``min_samples`` samples, or after ``max_samples``.
    """
    batch = check_int("batch", batch, low=1, high=1024)
    op = HessianOperator(model, loss_fn, data, train_mode=train_mode)
    generator = torch.Generator().manual_seed(int(seed))
    samples: list[float] = []
    mean, converged = math.nan, False
    while len(samples) < max_samples:
        m = min(batch, max_samples - len(samples))
        z = (torch.randint(0, 2, (m, op.size), generator=generator) * 2 - 1).to(
            device=op.device, dtype=op.dtype
        )
        hz = op.matmat(z)
        samples += (hz * z).sum(dim=1).double().cpu().tolist()
        new = float(np.mean(samples))
        if len(samples) >= min_samples and abs(new - mean) <= tol * max(abs(new), 1e-30):
            mean, converged = new, True
            break
        mean = new
    stderr = float(np.std(samples, ddof=1) / math.sqrt(len(samples))) if len(samples) > 1 else math.nan
    return Trace(value=mean, stderr=stderr, samples=len(samples), hvp_count=op.count, converged=converged)


# ---------------------------------------------------------------- edge of stability


def stability_thresholds(lr: float, momentum: float = 0.0, nesterov: bool = False) -> dict[str, float]:
    """2/lr; with momentum beta: heavy-ball (2 + 2 beta)/lr, or Nesterov (2 + 2 beta)/(lr (1 + 2 beta))."""
    if not lr or lr <= 0:
        return {"eos_2_over_lr": math.nan, "eos_momentum": math.nan}
    beta = float(momentum or 0.0)
    momentum_threshold = (2 + 2 * beta) / (lr * (1 + 2 * beta)) if nesterov else (2 + 2 * beta) / lr
    return {"eos_2_over_lr": 2.0 / lr, "eos_momentum": momentum_threshold}


class SharpnessHook:
    """A hook for the reference loop (``lrscope train --sharpness-every K``): the top Hessian eigenvalue every
    ``every`` steps (or epochs).

    Adds to the step record (``unit="step"``, via ``state.extra``) or the epoch record (``unit="epoch"``):
    ``sharpness`` (top eigenvalue on a fixed subset of ``samples`` training examples, eval mode),
    ``eos_2_over_lr`` (2/lr), ``eos_momentum`` ((2 + 2 beta)/lr for SGD heavy-ball momentum beta, Nesterov's
    threshold with nesterov) and ``sharpness_hvps``.  The subset is drawn once from a local generator;
    training's RNG stream is untouched.
    """

    def __init__(
        self,
        every: int = 1,
        *,
        k: int = 1,
        samples: int = 512,
        tol: float = 1e-3,
        max_iter: int = 50,
        seed: int = 0,
        unit: str = "step",
    ):
        every = check_int("every", every, low=1)
        if unit not in ("step", "epoch"):
            raise UserError(f"unit must be 'step' or 'epoch'; got {unit!r}")
        self.every, self.k, self.samples, self.tol, self.max_iter = every, k, samples, tol, max_iter
        self.seed, self.unit = seed, unit
        self.data = None

    def on_start(self, state) -> None:
        self.data = subset(state.bundle, self.samples, self.seed)

    def _measure(self, state) -> dict:
        if self.data is None:
            self.on_start(state)
        eig = top_eigenvalues(
            state.model,
            state.loss_fn,
            self.data,
            k=self.k,
            tol=self.tol,
            max_iter=self.max_iter,
            seed=self.seed,
        )
        group = state.optimizer.param_groups[0]
        momentum = group.get("momentum", 0.0) if "betas" not in group else 0.0
        out = {
            "sharpness": eig.values[0],
            "sharpness_hvps": eig.hvp_count,
            **stability_thresholds(state.lr, momentum, bool(group.get("nesterov", False))),
        }
        if self.k > 1:
            out["sharpness_top"] = eig.values
        return out

    def after_step(self, state) -> None:
        if self.unit == "step" and state.step % self.every == 0:
            state.extra.update(self._measure(state))

    def on_epoch_end(self, state, record) -> None:
        if self.unit == "epoch" and state.epoch % self.every == 0:
            record.update(self._measure(state))
