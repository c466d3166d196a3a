"""Loss-landscape slices: a random line or plane, the line between two models, and the PCA plane of a run.

Every slice is L(theta0 + a*d1 [+ b*d2]) evaluated by :mod:`lrscope.probes.evaluate` (one forward per point,
no model copies per point) along directions from :mod:`lrscope.probes.directions`.  Results are
:class:`LandscapeSurface` objects: ``x``, ``y`` coordinates, ``loss`` of shape [len(y), len(x)] (index [i over
y, j over x]; a line has shape [len(x)]), ``acc`` where the task is classification, ``directions`` (lists of
tensors in ``model.parameters()`` order) and provenance (seed, data size, model fingerprint); each saves itself
as npz + JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..analysis.events import rate_changes
from ..console import Progress, quiet
from ..errors import UserError
from ..logs.rundir import read_metrics
from ..train.checkpoint import list_checkpoints, load_checkpoint
from ..train.restore import load_run
from ..validate import check_float, check_int, check_seed
from . import directions as dirs
from .evaluate import DEFAULT_BUDGET, evaluate_points

SCHEMA = "lrscope.landscape/1"
KINDS = ("plane", "line", "interp", "trajectory")
MAX_PLANE_STEPS = 401  # 160,801 grid points: minutes on a CPU, and already finer than any figure shows
MAX_LINE_STEPS = 10_001
MAX_SPAN = 1e3  # in filter-normalised direction units: far past where any loss is still finite
MAX_SAMPLES = 1_000_000


@dataclass
class LandscapeSurface:
    """A landscape slice.  ``loss[i, j]`` is the loss at theta0 + x[j]*d1 + y[i]*d2 (a line: ``loss[j]``)."""

    kind: str
    x: np.ndarray
    y: np.ndarray | None
    loss: np.ndarray
    acc: np.ndarray | None
    directions: tuple
    provenance: dict = field(default_factory=dict)
    path: dict | None = None

    def to_json(self) -> dict:
        doc = {
            "schema": SCHEMA,
            "kind": self.kind,
            "x": _finite_list(self.x),
            "y": None if self.y is None else _finite_list(self.y),
            "loss": _finite_list(self.loss),
            "acc": None if self.acc is None else _finite_list(self.acc),
            "provenance": self.provenance,
        }
        loss = np.asarray(self.loss, dtype=float)
        if np.isfinite(loss).any():
            flat = int(np.nanargmin(np.where(np.isfinite(loss), loss, np.nan)))
            doc["min"] = {
                "loss": float(loss.reshape(-1)[flat]),
                "index": list(np.unravel_index(flat, loss.shape)),
            }
        if self.path is not None:
            doc["path"] = {
                k: _finite_list(v) if isinstance(v, np.ndarray) else v for k, v in self.path.items()
            }
        return doc

    def save(self, stem: str | Path) -> tuple[Path, Path]:
        """Write ``stem.npz`` (arrays and directions) and ``stem.json`` (all but the directions)."""
        from ..atomic import atomic_path, write_json

        stem = Path(stem)
        arrays = {"x": np.asarray(self.x), "loss": np.asarray(self.loss)}
        if self.y is not None:
            arrays["y"] = np.asarray(self.y)
        if self.acc is not None:
            arrays["acc"] = np.asarray(self.acc)
        for d, direction in enumerate(self.directions):
            arrays[f"direction{d + 1}"] = dirs.flatten(direction).numpy().astype(np.float32)
        for key, value in (self.path or {}).items():
            if isinstance(value, np.ndarray):
                arrays[f"path_{key}"] = value
        npz = stem.with_suffix(".npz")
        with atomic_path(npz, suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        js = write_json(stem.with_suffix(".json"), self.to_json())
        return npz, js


def _finite_list(a):
    """JSON has no NaN or inf: those become null."""
    arr = np.asarray(a, dtype=float)
    return json.loads(json.dumps(np.where(np.isfinite(arr), arr, np.nan).tolist()).replace("NaN", "null"))


# ---------------------------------------------------------------- provenance


def fingerprint(model: nn.Module) -> str:
    """sha256 (first 16 hex digits) of the parameters' bytes, in parameters() order."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _data_info(data) -> dict:
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        return {"samples": int(data[1].shape[0]) if data[1].dim() else 1, "batches": 1, "source": "batch"}
    return {"source": "loader"}


def _provenance(model, data, evaluation, **extra) -> dict:
    info = _data_info(data)
    info.update(samples=evaluation.samples, batches=evaluation.batches)
    return {
        "model": type(model).__name__,
        "model_fingerprint": fingerprint(model),
        "data": info,
        "evaluation": {"mode": evaluation.mode, "chunk": evaluation.chunk},
        **extra,
    }


# ---------------------------------------------------------------- validation


def check_steps_span(steps, span, kind: str = "line") -> tuple[int, float]:
    """Grid points per axis (a plane evaluates steps**2 points, so its axis is bounded more tightly) and the
    half-width of the grid."""
    high = MAX_PLANE_STEPS if kind in ("plane", "trajectory") else MAX_LINE_STEPS
    steps = check_int("steps", steps, low=2, high=high)
    span = check_float("span", span, low=0.0, low_open=True, high=MAX_SPAN)
    return steps, span


def _check_directions(model, directions, n) -> list[list[torch.Tensor]]:
    params = [p for _, p in dirs.named_params(model)]
    if len(directions) != n:
        raise UserError(f"expected {n} direction(s); got {len(directions)}")
    out = []
    for direction in directions:
        direction = list(direction)
        if len(direction) != len(params) or any(
            tuple(d.shape) != tuple(p.shape) for d, p in zip(direction, params, strict=False)
        ):
            raise UserError(
                "a direction must hold one tensor per parameter, shaped like it, in model.parameters() order"
            )
        out.append(
            [d.detach().to(device=p.device, dtype=p.dtype) for d, p in zip(direction, params, strict=False)]
        )
    return out


# ---------------------------------------------------------------- slices


def plane(
    model: nn.Module,
    loss_fn: Callable,
    data,
    steps: int = 21,
    span: float = 1.0,
    normalization: str = "filter",
    seed: int = 0,
    *,
    directions=None,
    include_1d: bool = False,
    orthogonal: bool = False,
    bn: str = "eval",
    mode: str = "auto",
    memory_budget: int = DEFAULT_BUDGET,
    accuracy: bool | None = None,
    progress: Progress = quiet,
) -> LandscapeSurface:
    """Loss on the plane theta0 + a*d1 + b*d2, a and b on ``steps`` points in [-span, span].

    Directions are filter-normalised Gaussians (Li et al. 2018) drawn from ``seed`` unless given; see
    :func:`lrscope.probes.directions.random_directions` for ``normalization``, ``include_1d`` and
    ``orthogonal``.
    """
    steps, span = check_steps_span(steps, span, "plane")
    if directions is None:
        directions = dirs.random_directions(
            model, 2, normalization=normalization, include_1d=include_1d, orthogonal=orthogonal, seed=seed
        )
    else:
        directions = _check_directions(model, directions, 2)
    axis = np.linspace(-span, span, steps)
    return _grid(
        model,
        loss_fn,
        data,
        "plane",
        axis,
        axis,
        directions,
        bn=bn,
        mode=mode,
        memory_budget=memory_budget,
        accuracy=accuracy,
        progress=progress,
        extra={
            "seed": int(seed),
            "normalization": normalization,
            "include_1d": include_1d,
            "orthogonal": orthogonal,
            "span": span,
            "steps": steps,
            "bn": bn,
        },
    )


def line(
    model: nn.Module,
    loss_fn: Callable,
    data,
    steps: int = 21,
    span: float = 1.0,
    normalization: str = "filter",
    seed: int = 0,
    *,
    direction=None,
    include_1d: bool = False,
    bn: str = "eval",
    mode: str = "auto",
    memory_budget: int = DEFAULT_BUDGET,
    accuracy: bool | None = None,
    progress: Progress = quiet,
) -> LandscapeSurface:
    """Loss along theta0 + a*d, a on ``steps`` points in [-span, span] (a filter-normalised Gaussian d)."""
    steps, span = check_steps_span(steps, span)
    if direction is None:
        directions = dirs.random_directions(
            model, 1, normalization=normalization, include_1d=include_1d, seed=seed
        )
    else:
        directions = _check_directions(model, [direction], 1)
    axis = np.linspace(-span, span, steps)
    return _grid(
        model,
        loss_fn,
        data,
        "line",
        axis,
        None,
        directions,
        bn=bn,
        mode=mode,
        memory_budget=memory_budget,
        accuracy=accuracy,
        progress=progress,
        extra={
            "seed": int(seed),
            "normalization": normalization,
            "include_1d": include_1d,
            "span": span,
            "steps": steps,
            "bn": bn,
        },
    )


def interpolate(
    model_a: nn.Module,
    model_b: nn.Module,
    loss_fn: Callable,
    data,
    steps: int = 21,
    start: float = 0.0,
    stop: float = 1.0,
    *,
    bn: str = "eval",
    mode: str = "auto",
    memory_budget: int = DEFAULT_BUDGET,
    accuracy: bool | None = None,
    progress: Progress = quiet,
) -> LandscapeSurface:
    """Loss along (1 - alpha)*theta_a + alpha*theta_b, alpha on ``steps`` points in [start, stop] (Goodfellow
    et al. 2015).  Floating-point buffers (BatchNorm statistics) are interpolated with the weights, so
    alpha = 0 and 1 give the two models' own losses.  Different architectures are a UserError."""
    steps = check_int("steps", steps, low=2, high=MAX_LINE_STEPS)
    if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
        raise UserError(f"need start < stop; got start={start}, stop={stop}")
    theta_a, directions, buffer_a, buffer_dirs = dirs.interpolation_direction(model_a, model_b)
    alphas = np.linspace(start, stop, int(steps))
    evaluation = evaluate_points(
        model_a,
        loss_fn,
        data,
        theta_a,
        directions,
        alphas[:, None],
        buffer_base=buffer_a,
        buffer_directions=buffer_dirs,
        bn=bn,
        mode=mode,
        memory_budget=memory_budget,
        accuracy=accuracy,
        progress=progress,
    )
    prov = _provenance(
        model_a,
        data,
        evaluation,
        model_b_fingerprint=fingerprint(model_b),
        start=float(start),
        stop=float(stop),
        steps=int(steps),
        bn=bn,
    )
    return LandscapeSurface("interp", alphas, None, evaluation.loss, evaluation.acc, tuple(directions), prov)


def _grid(
    model, loss_fn, data, kind, xs, ys, directions, *, bn, mode, memory_budget, accuracy, extra, base=None,
    progress: Progress = quiet,
) -> LandscapeSurface:
    base = dirs.parameters_of(model) if base is None else base
    if ys is None:
        coords = xs[:, None]
    else:  # row-major over y: point k = i*len(x) + j  ->  loss[i, j]
        coords = np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1).reshape(-1, 2)
    evaluation = evaluate_points(
        model,
        loss_fn,
        data,
        base,
        directions,
        coords,
        bn=bn,
        mode=mode,
        memory_budget=memory_budget,
        accuracy=accuracy,
        progress=progress,
    )
    shape = (len(xs),) if ys is None else (len(ys), len(xs))
    acc = None if evaluation.acc is None else evaluation.acc.reshape(shape)
    return LandscapeSurface(
        kind,
        xs,
        ys,
        evaluation.loss.reshape(shape),
        acc,
        tuple(directions),
        _provenance(model, data, evaluation, **extra),
    )


# ---------------------------------------------------------------- a run's trajectory


def lr_stages(lrs: list[float | None]) -> list[int]:
    """Stage index per entry: a new stage wherever the rate changes by more than 1 % (piecewise-constant); a
    rate that is not known (None) starts no stage."""
    lr = np.array([math.nan if v is None else v for v in lrs], dtype=np.float64)
    starts = np.zeros(len(lr), dtype=int)
    starts[rate_changes(lr, rtol=0.01)] = 1
    return np.cumsum(starts).tolist()


def trajectory(
    run_dir: str | Path,
    *,
    steps: int = 21,
    margin: float = 0.25,
    samples: int = 512,
    epochs: list[int] | None = None,
    seed: int = 0,
    bn: str = "eval",
    mode: str = "auto",
    memory_budget: int = DEFAULT_BUDGET,
    data=None,
    given: dict | None = None,
    progress: Progress = quiet,
) -> LandscapeSurface:
    """The PCA plane of a run's checkpoints (Li et al. 2018 sec. 7): contour around the final point, path
    projected onto it, each checkpoint's LR stage from metrics.jsonl.

    The grid covers the projected path plus ``margin`` of its extent on each side.  Data: ``samples`` training
    examples drawn with ``seed`` (or ``data`` as given).  ``given``: the ``--model``/``--data`` the user named
    (``{"model": ..., "data": ...}``), which a run built by a factory needs (:func:`lrscope.train.restore.load_run`).
    ``progress(done, total, status)``: the checkpoints read, then the grid points scored.
    """
    steps = check_int("steps", steps, low=2, high=MAX_PLANE_STEPS)
    run = load_run(run_dir, **(given or {}))
    checkpoints = list_checkpoints(run_dir)
    chosen = sorted(checkpoints) if epochs is None else sorted(set(int(e) for e in epochs))
    missing = [e for e in chosen if e not in checkpoints]
    if missing:
        raise UserError(
            f"{run_dir} has no checkpoints for epochs {missing}; available: {sorted(checkpoints)}"
        )
    model = run.model
    names = [n for n, _ in dirs.named_params(model)]
    points = []
    for i, epoch in enumerate(chosen):
        progress(i, len(chosen), "reading checkpoints")
        state = load_checkpoint(checkpoints[epoch])["model"]
        params = {k: v for k, v in state.items() if k in names}
        dirs.check_same_architecture(
            {n: p for n, p in dirs.named_params(model)}, params, what=f"checkpoints (final and epoch {epoch})"
        )
        points.append([params[n].to(torch.float32) for n in names])
    final = dirs.parameters_of(model)
    pca = dirs.trajectory_pca(points, final)
    coords = pca.coords
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-8)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], int(steps))
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], int(steps))
    if data is None:
        data = subset(run.bundle, samples, seed)
    surface = _grid(
        model.eval(),
        run.loss_fn,
        data,
        "trajectory",
        xs,
        ys,
        pca.directions,
        bn=bn,
        mode=mode,
        memory_budget=memory_budget,
        accuracy=None,
        progress=progress,
        extra={
            "run_dir": str(run_dir),
            "epochs": chosen,
            "seed": int(seed),
            "bn": bn,
            "explained_variance": pca.explained.tolist(),
        },
    )
    by_epoch = {int(r["epoch"]): r.get("lr") for r in read_metrics(run_dir, "epoch") if "epoch" in r}
    # epoch 0 (the initial weights) takes the first epoch's rate
    lrs = [by_epoch.get(e, by_epoch.get(e + 1)) for e in chosen]
    surface.path = {
        "epochs": np.asarray(chosen),
        "coords": coords,
        "residual": pca.residual,
        "lr": [None if v is None else float(v) for v in lrs],
        "stage": lr_stages(lrs),
        "explained_variance": pca.explained,
    }
    return surface


def subset(bundle, samples: int, seed: int = 0):
    """``samples`` training examples of a DataBundle, drawn with a local generator."""
    samples = check_int("samples", samples, low=1, high=MAX_SAMPLES)
    seed = check_seed("seed", seed)
    n = bundle.n_train
    generator = torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(n, generator=generator)[: min(int(samples), n)]
    return bundle.train_x[idx], bundle.train_y[idx]
