"""``lrscope sharpness RUN --out F``: the top Hessian eigenvalues of a run's checkpoints
(:func:`lrscope.probes.curvature.top_eigenvalues`) against 2/LR and (2 + 2 beta)/LR, saved as
RUN/probes/sharpness.npz + .json and drawn into F."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_json
from ..errors import UserError
from ..logs.rundir import PROBES, read_metrics, require_run_dir
from ..outputs import FIGURE, check_output, run_subdir
from ..probes.curvature import MAX_K, stability_thresholds, top_eigenvalues
from ..probes.landscape import subset
from ..train.checkpoint import fit_model, list_checkpoints, load_checkpoint
from ..train.restore import load_run
from ..validate import check_int
from ..viz.sharpness import plot_sharpness


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
) -> dict:
    """Top eigenvalues of a run's checkpoints against 2/LR and (2 + 2 beta)/LR.

    ``epoch`` (default the last checkpoint) or ``all_epochs``, not both.  Checkpoint e is paired with the rate
    of epoch e (the rate it was trained at; epoch 0, the initial weights, with the first epoch's).  Saves
    RUN/probes/sharpness.npz + .json and draws ``out``.
    """
    if all_epochs and epoch is not None:
        raise UserError("give --epoch E or --all, not both")
    out = check_output(out, suffixes=FIGURE, inputs=[run_dir])
    run_dir = require_run_dir(run_dir)
    if not out.parent.exists():
        raise UserError(f"output directory {out.parent} does not exist")
    k = check_int("--k", k, low=1, high=MAX_K)
    epoch = None if epoch is None else check_int("--epoch", epoch, low=0)
    run_subdir(run_dir, PROBES, create=False)  # refuse a symlinked RUN/probes before any work
    checkpoints = list_checkpoints(run_dir)
    run = load_run(run_dir)
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
    for e in epochs:
        fit_model(model, load_checkpoint(checkpoints[e])["model"], checkpoints[e], run.config.model)
        eig = top_eigenvalues(model, run.loss_fn, data, k=k, tol=tol, max_iter=max_iter, seed=seed)
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
