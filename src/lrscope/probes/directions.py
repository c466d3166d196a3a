"""Directions in parameter space for loss-landscape pictures.

A direction is a list of tensors, one per parameter, in ``model.parameters()`` order (the order of
``named_parameters()``; shared parameters appear once).  A picture evaluates L(theta0 + a*d1 + b*d2).

* :func:`random_directions`: Gaussian directions with *filter normalisation* (Li, Xu, Taylor, Studer, Goldstein,
  "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018, arXiv:1712.09913): for every parameter with two
  or more dimensions, each slice along dim 0 (an output filter of a convolution, a row of a linear layer) is
  rescaled so that ``||d_i|| = ||w_i||``.  One-dimensional parameters (biases, norm scales and shifts) are zeroed
  by default; with ``include_1d=True`` they are drawn too and scaled once, as a whole, to the norm of the
  parameter.  Directions are Gaussian (not uniform), drawn from a local ``torch.Generator`` (the global RNG is
  never touched), on the CPU so a seed gives the same directions on every device.
* Orthogonal second direction: Gram-Schmidt is done *per filter* before rescaling, so the result is both exactly
  filter-normalised and exactly orthogonal to the first direction (the sum of per-filter inner products is zero).
* :func:`interpolation_direction`: d = theta_b - theta_a (Goodfellow, Vinyals, Saxe, "Qualitatively
  characterizing neural network optimization problems", ICLR 2015).
* :func:`trajectory_pca`: the two principal directions of a run's checkpoints around the final point, and the
  path projected onto them (the PCA plot of Li et al. 2018, section 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import UserError

NORMALIZATIONS = ("filter", "layer", "none")
_EPS = 1e-10


def named_params(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(name, parameter) in ``model.parameters()`` order; a model without parameters is a user error."""
    if not isinstance(model, nn.Module):
        raise UserError(f"expected a torch.nn.Module, got {type(model).__name__}")
    named = list(model.named_parameters())
    if not named:
        raise UserError(
            f"the model ({type(model).__name__}) has no parameters: there is no landscape to probe"
        )
    return named


def parameters_of(model: nn.Module) -> list[torch.Tensor]:
    """Detached copies of the parameters (theta0)."""
    return [p.detach().clone() for _, p in named_params(model)]


def _gaussian_like(t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    dtype = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float32
    return torch.randn(t.shape, generator=generator, dtype=dtype).to(device=t.device, dtype=t.dtype)


def _rows(t: torch.Tensor) -> torch.Tensor:
    """The tensor as [filters, rest] (dim 0 is the output filter of Conv and the row of Linear)."""
    return t.reshape(t.shape[0], -1)


def _normalize_one(d: torch.Tensor, w: torch.Tensor, normalization: str, include_1d: bool) -> torch.Tensor:
    if d.dim() <= 1 and not include_1d:
        return torch.zeros_like(d)
    if normalization == "none":
        return d
    if normalization == "layer" or d.dim() <= 1:
        return d * (w.norm() / (d.norm() + _EPS))
    rows_d, rows_w = _rows(d), _rows(w)
    scale = rows_w.norm(dim=1) / (rows_d.norm(dim=1) + _EPS)
    return (rows_d * scale[:, None]).reshape(d.shape)


def normalize_direction(
    direction: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    *,
    normalization: str = "filter",
    include_1d: bool = False,
) -> list[torch.Tensor]:
    """Rescale ``direction`` to the weights: per filter ("filter"), per tensor ("layer") or not at all ("none").

    Filter: ``d_i <- d_i * ||w_i|| / (||d_i|| + 1e-10)`` for each slice i along dim 0.  1-D tensors are zeroed
    unless ``include_1d``; then they are scaled once, as a whole, to ``||w||``.
    """
    _check_normalization(normalization)
    return [_normalize_one(d, w, normalization, include_1d) for d, w in zip(direction, weights, strict=False)]


def _orthogonalize_one(
    d2: torch.Tensor, d1: torch.Tensor, normalization: str, include_1d: bool
) -> torch.Tensor:
    if (d2.dim() <= 1 and not include_1d) or normalization == "none":
        return d2
    if normalization == "layer" or d2.dim() <= 1:
        dot, norm = (d2 * d1).sum(), (d1 * d1).sum()
        return d2 - (dot / norm) * d1 if norm > 0 else d2
    r2, r1 = _rows(d2), _rows(d1)
    dots, norms = (r2 * r1).sum(dim=1), (r1 * r1).sum(dim=1)
    coef = torch.where(norms > 0, dots / norms.clamp_min(1e-30), torch.zeros_like(dots))
    return (r2 - coef[:, None] * r1).reshape(d2.shape)


def _global_orthogonalize(d2: list[torch.Tensor], d1: list[torch.Tensor]) -> list[torch.Tensor]:
    dot = sum(float((a * b).sum()) for a, b in zip(d2, d1, strict=False))
    norm = sum(float((b * b).sum()) for b in d1)
    if norm == 0:
        return d2
    return [a - (dot / norm) * b for a, b in zip(d2, d1, strict=False)]


def random_directions(
    model: nn.Module,
    n: int = 2,
    *,
    normalization: str = "filter",
    include_1d: bool = False,
    orthogonal: bool = False,
    seed: int = 0,
) -> list[list[torch.Tensor]]:
    """``n`` Gaussian directions (lists of tensors in parameters() order), normalised to the model's weights.

    With ``orthogonal`` the second direction is made orthogonal to the first: per filter before the rescaling
    (filter), per tensor (layer) or globally (none), so the returned pair is orthogonal *after* normalisation.
    """
    _check_normalization(normalization)
    weights = [p.detach() for _, p in named_params(model)]
    generator = torch.Generator().manual_seed(int(seed))
    raw = [[_gaussian_like(w, generator) for w in weights] for _ in range(n)]
    directions = []
    for k, direction in enumerate(raw):
        if orthogonal and k == 1:
            if normalization == "none":
                direction = _global_orthogonalize(direction, directions[0])
            else:
                direction = [
                    _orthogonalize_one(d2, d1, normalization, include_1d)
                    for d2, d1 in zip(direction, directions[0], strict=False)
                ]
        directions.append(
            normalize_direction(direction, weights, normalization=normalization, include_1d=include_1d)
        )
    return directions


def _check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise UserError(f"normalization must be one of {', '.join(NORMALIZATIONS)}; got {normalization!r}")


# ---------------------------------------------------------------- two models


def check_same_architecture(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str = "models"
) -> None:
    """Same names and shapes in two state dicts (or named-parameter dicts), else a UserError."""
    if list(a) != list(b):
        only_a = sorted(set(a) - set(b))[:3]
        only_b = sorted(set(b) - set(a))[:3]
        raise UserError(
            f"the two {what} have different architectures: names only in the first {only_a}, "
            f"only in the second {only_b}"
        )
    for name in a:
        if tuple(a[name].shape) != tuple(b[name].shape):
            raise UserError(
                f"the two {what} have different architectures: {name} is {tuple(a[name].shape)} "
                f"in the first and {tuple(b[name].shape)} in the second"
            )


def interpolation_direction(model_a: nn.Module, model_b: nn.Module):
    """(theta_a, [theta_b - theta_a], buffer_a, [buffer_b - buffer_a]) for the path
    theta_a + alpha*(theta_b - theta_a).

    Floating-point buffers (BatchNorm running statistics) are interpolated too, so alpha = 0 and alpha = 1
    reproduce the two models exactly in evaluation mode; integer buffers keep model_a's values.
    """
    pa, pb = dict(named_params(model_a)), dict(named_params(model_b))
    check_same_architecture(pa, pb)
    ba, bb = dict(model_a.named_buffers()), dict(model_b.named_buffers())
    check_same_architecture(ba, bb, what="models' buffers")
    theta_a = [p.detach().clone() for p in pa.values()]
    direction = [(pb[k].detach().to(pa[k].device) - pa[k].detach()) for k in pa]
    buffer_a = {k: v.detach().clone() for k, v in ba.items() if v.is_floating_point()}
    buffer_dir = {k: bb[k].detach().to(v.device) - v for k, v in buffer_a.items()}
    return theta_a, [direction], buffer_a, [buffer_dir]


# ---------------------------------------------------------------- trajectory PCA


@dataclass
class TrajectoryPCA:
    """Two orthonormal directions (flat and per tensor), the projected path and the share of variance that
    each explains.

    ``coords[e] = ((theta_e - theta_final) . d1, (theta_e - theta_final) . d2)``: the final point sits at
    (0, 0).
    """

    directions: list[list[torch.Tensor]]
    coords: np.ndarray
    explained: np.ndarray
    residual: np.ndarray


def flatten(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors])


def unflatten(flat: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out, offset = [], 0
    for t in like:
        n = t.numel()
        out.append(flat[offset : offset + n].reshape(t.shape).to(dtype=t.dtype, device=t.device))
        offset += n
    return out


def trajectory_pca(points: Sequence[Sequence[torch.Tensor]], final: Sequence[torch.Tensor]) -> TrajectoryPCA:
    """PCA of the offsets theta_e - theta_final (centred), as in Li et al. 2018 sec. 7.

    The directions are the top two right singular vectors of the centred offset matrix (unit norm); the path
    is projected by inner products, and ``residual`` is each point's distance from the plane: how faithful
    the picture is.
    """
    if len(points) < 3:
        raise UserError(f"a trajectory plane needs at least 3 checkpoints; got {len(points)}")
    final_flat = flatten(final)
    offsets = torch.stack([flatten(p) - final_flat for p in points])
    centred = offsets - offsets.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    if s.numel() < 2 or float(s[1]) <= 0:
        raise UserError("the checkpoints lie on a line (or at one point): no second principal direction")
    basis = vh[:2]
    for i in range(2):  # a deterministic sign: the largest entry of each direction is positive
        if basis[i, basis[i].abs().argmax()] < 0:
            basis[i] = -basis[i]
    coords = offsets @ basis.T
    residual = (offsets - coords @ basis).norm(dim=1)
    explained = (s[:2] ** 2 / (s**2).sum()).numpy()
    return TrajectoryPCA(
        directions=[unflatten(basis[i], final) for i in range(2)],
        coords=coords.numpy(),
        explained=explained,
        residual=residual.numpy(),
    )
