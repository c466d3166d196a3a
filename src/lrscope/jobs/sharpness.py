"""``lrscope sharpness RUN --out F``: the top Hessian eigenvalues of a run's checkpoints
(:func:`lrscope.probes.curvature.top_eigenvalues`) against 2/LR and (2 + 2 beta)/LR, saved as
RUN/probes/sharpness.npz + .json and drawn into F.

``lrscope sharpness --checkpoint PATH --model M --data D --out F``: the same for the user's own checkpoint
(:mod:`lrscope.train.user_checkpoint`), against ``--lr`` (default: the rate in the optimizer state saved with the
weights, when there is one) and ``--momentum`` (default: the saved SGD momentum, else 0.9); the arrays and JSON go
beside F (F.npz, F.json), the checkpoint is only read.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from torch import nn

from ..atomic import atomic_path, write_json
from ..console import track
from ..errors import UserError
from ..logs.rundir import PROBES, read_metrics, require_run_dir
from ..outputs import FIGURE, check_output, run_subdir
from ..probes.curvature import MAX_K, stability_thresholds, top_eigenvalues
from ..probes.landscape import subset
from ..train.checkpoint import fit_model, list_checkpoints, load_checkpoint
from ..train.restore import load_run
from ..train.user_checkpoint import model_from_checkpoint
from ..validate import check_float, check_int
from ..viz.sharpness import plot_sharpness
from .source import MAX_RATE, beside, checkpoint_config, probe_source, rate_of


def sharpness_job(
    run_dir,
    out,
    *,
    epoch: int | None = None,
    all_epochs: bool = False,
    k: int = 1,
    samples: int = 512,
    seed: int = 0,
    tol: float = 1e-3,
    max_iter: int = 100,
    checkpoint=None,
    model: str | None = None,
    data: str | None = None,
    lr: float | None = None,
    momentum: float | None = None,
) -> dict:
    """Top eigenvalues of a run's checkpoints (or of the user's ``checkpoint``) against 2/LR and (2 + 2 beta)/LR.

    ``epoch`` (default the last checkpoint) or ``all_epochs``, not both.  Checkpoint e is paired with the rate
    of epoch e (the rate it was trained at; epoch 0, the initial weights, with the first epoch's).  Saves
    RUN/probes/sharpness.npz + .json and draws ``out``.  ``model``/``data``: the ``--model``/``--data`` given (a
    run built by a factory needs them; a checkpoint always does, and takes ``lr``/``momentum``).
    """
    source = probe_source("sharpness", run_dir, checkpoint, model=model, data=data,
                          run_options={"--epoch": epoch, "--all": all_epochs},
                          checkpoint_options={"--lr": lr, "--momentum": momentum})
    if all_epochs and epoch is not None:
        raise UserError("give --epoch E or --all, not both")
    inputs = [p for p in (run_dir, checkpoint) if p is not None]
    out = check_output(out, suffixes=FIGURE, inputs=inputs)
    if source == "run":
        run_dir = require_run_dir(run_dir)
    if not out.parent.exists():
        raise UserError(f"output directory {out.parent} does not exist")
    k = check_int("--k", k, low=1, high=MAX_K)
    if source == "checkpoint":
        return _checkpoint_sharpness(out, Path(checkpoint), model, data, lr=lr, momentum=momentum, k=k,
                                     samples=samples, seed=seed, tol=tol, max_iter=max_iter, inputs=inputs)
    epoch = None if epoch is None else check_int("--epoch", epoch, low=0)
    run_subdir(run_dir, PROBES, create=False)  # refuse a symlinked RUN/probes before any work
    checkpoints = list_checkpoints(run_dir)
    run = load_run(run_dir, model=model, data=data)
    if all_epochs:
        epochs = sorted(checkpoints)
    else:
        epochs = [run.epoch if epoch is None else int(epoch)]
        if epochs[0] not in checkpoints:
            raise UserError(
                f"{run_dir} has no checkpoint for epoch {epochs[0]}; available: {sorted(checkpoints)}"
            )
    data = subset(run.bundle, samples, seed)
    by_epoch = {int(r["epoch"]): r.get("lr") for r in read_metrics(run_dir, "epoch") if "epoch" in r}
    momentum = run.config.momentum if run.config.optimizer == "sgd" else 0.0
    model = copy.deepcopy(run.model).eval()
    rows = []
    with track("sharpness") as tick:  # counts checkpoints; within one, the products against the most it may take
        for i, e in enumerate(epochs):
            fit_model(model, load_checkpoint(checkpoints[e])["model"], checkpoints[e], run.config.model)

            def progress(done, most, status, i=i, e=e):
                tick(i + min(done / most, 1.0), len(epochs), f"epoch {e}: {status}")

            eig = top_eigenvalues(model, run.loss_fn, data, k=k, tol=tol, max_iter=max_iter, seed=seed,
                                  progress=progress)
            tick(i + 1, len(epochs), f"epoch {e}: {eig.hvp_count} Hessian-vector products")
            lr = by_epoch.get(e, by_epoch.get(e + 1))
            lr = float(lr) if lr is not None else run.lr_at(max(e - 1, 0))
            thresholds = stability_thresholds(lr, momentum, bool(run.config.nesterov))
            rows.append(
                {
                    "epoch": e,
                    "lr": lr,
                    "values": eig.values,
                    "sharpness": eig.values[0],
                    "hvp_count": eig.hvp_count,
                    "converged": eig.converged,
                    **thresholds,
                }
            )
    step_records = [r for r in read_metrics(run_dir, "step") if r.get("sharpness") is not None]
    steps = {"epoch": [r["epoch"] for r in step_records], "sharpness": [r["sharpness"] for r in step_records]}
    series = {
        "epoch": [r["epoch"] for r in rows],
        "sharpness": [r["sharpness"] for r in rows],
        "lr": [r["lr"] for r in rows],
        "momentum_threshold": [r["eos_momentum"] for r in rows],
    }
    doc = {
        "schema": "lrscope.sharpness/1",
        "run_dir": str(run_dir),
        "samples": int(data[1].shape[0]),
        "seed": int(seed),
        "k": k,
        "tol": tol,
        "momentum": momentum,
        "nesterov": bool(run.config.nesterov),
        "checkpoints": rows,
        "tracked_steps": len(step_records),
    }
    probes = run_subdir(run_dir, PROBES)
    with atomic_path(probes / "sharpness.npz", suffix=".npz") as tmp:
        np.savez_compressed(tmp, **{key: np.asarray(v, dtype=float) for key, v in series.items()})
    write_json(probes / "sharpness.json", doc)
    plot_sharpness(series, out, steps=steps, title=f"{Path(run_dir).name}: sharpness against 2/LR")
    doc["files"] = {
        "plot": str(out),
        "json": str(probes / "sharpness.json"),
        "npz": str(probes / "sharpness.npz"),
    }
    return doc


def _checkpoint_sharpness(out: Path, checkpoint: Path, model: str, data: str, *, lr, momentum, k: int, samples: int,
                          seed: int, tol: float, max_iter: int, inputs: list) -> dict:
    """The top eigenvalues of the user's checkpoint against the thresholds of ``lr`` and ``momentum``."""
    if lr is not None:
        lr = check_float("--lr", lr, low=0.0, low_open=True, high=MAX_RATE)
    if momentum is not None:
        momentum = check_float("--momentum", momentum, low=0.0, high=1.0, high_open=True)
    stem = beside(out, inputs)
    loaded = model_from_checkpoint(checkpoint, checkpoint_config(model, data, seed=seed))
    notes = list(loaded.notes)
    lr, momentum = rate_of(loaded.weights, lr, momentum, notes)
    points = subset(loaded.bundle, samples, seed)
    net = loaded.model.eval()
    with track("sharpness") as tick:
        eig = top_eigenvalues(net, nn.CrossEntropyLoss(), points, k=k, tol=tol, max_iter=max_iter, seed=seed,
                              progress=lambda done, most, status: tick(min(done / most, 1.0), 1, status))
        tick(1, 1, f"{eig.hvp_count} Hessian-vector products")
    thresholds = stability_thresholds(lr, momentum, False)
    row = {"epoch": None, "checkpoint": str(checkpoint), "lr": lr, "values": eig.values, "sharpness": eig.values[0],
           "hvp_count": eig.hvp_count, "converged": eig.converged, **thresholds}
    series = {"epoch": [0], "sharpness": [row["sharpness"]], "lr": [lr], "momentum_threshold": [row["eos_momentum"]]}
    doc = {
        "schema": "lrscope.sharpness/1",
        "run_dir": None,
        "checkpoint": str(checkpoint),
        "model": model,
        "data": data,
        "samples": int(points[1].shape[0]),
        "seed": int(seed),
        "k": k,
        "tol": tol,
        "momentum": momentum,
        "nesterov": False,
        "checkpoints": [row],
        "tracked_steps": 0,
        "notes": notes,
    }
    with atomic_path(stem.with_suffix(".npz"), suffix=".npz") as tmp:
        np.savez_compressed(tmp, **{key: np.asarray(v, dtype=float) for key, v in series.items()})
    write_json(stem.with_suffix(".json"), doc)
    plot_sharpness(series, out, title=f"{checkpoint.name}: sharpness against 2/LR")
    doc["files"] = {"plot": str(out), "json": str(stem.with_suffix(".json")), "npz": str(stem.with_suffix(".npz"))}
    return doc

