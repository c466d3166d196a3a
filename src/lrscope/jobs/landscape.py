"""``lrscope landscape RUN --kind plane|line|interp|trajectory --out F``: compute one loss-landscape slice of a
run (:mod:`lrscope.probes.landscape`), save it as RUN/probes/landscape-KIND.npz + .json and draw it into F."""

from __future__ import annotations

import copy
from pathlib import Path

from ..errors import UserError
from ..logs.rundir import PROBES, require_run_dir
from ..outputs import FIGURE, check_output, run_subdir
from ..probes.landscape import KINDS, check_steps_span, interpolate, line, plane, subset, trajectory
from ..train.checkpoint import fit_model, list_checkpoints, load_checkpoint
from ..train.restore import load_run
from ..viz.surfaces import plot_surface


def landscape_job(
    run_dir: str | Path,
    kind: str,
    out: str | Path,
    *,
    steps: int = 21,
    span: float = 1.0,
    epoch: int | None = None,
    epoch_b: int | None = None,
    samples: int = 512,
    seed: int = 0,
    bn: str = "eval",
) -> dict:
    """Compute one slice of a run, draw it into ``out``, save npz + json under RUN/probes/.

    plane/line: around checkpoint ``epoch`` (default the last); interp: from ``epoch`` (default 0) to
    ``epoch_b`` (default the last); trajectory: the PCA plane of all checkpoints.  Nothing else in the run
    directory changes.
    """
    out = check_output(out, suffixes=FIGURE, inputs=[run_dir])
    run_dir = require_run_dir(run_dir)
    if kind not in KINDS:
        raise UserError(f"--kind must be one of {', '.join(KINDS)}; got {kind!r}")
    steps, span = check_steps_span(steps, span, kind)
    if not out.parent.exists():
        raise UserError(f"output directory {out.parent} does not exist")
    run_subdir(run_dir, PROBES, create=False)  # refuse a symlinked RUN/probes before any work
    if kind == "trajectory":
        surface = trajectory(run_dir, steps=steps, samples=samples, seed=seed, bn=bn)
        title = f"{Path(run_dir).name}: trajectory on its PCA plane"
    else:
        checkpoints = list_checkpoints(run_dir)
        first = (0 if kind == "interp" else None) if epoch is None else epoch
        run = load_run(run_dir, first)
        model = run.model.eval()
        data = subset(run.bundle, samples, seed)
        if kind == "plane":
            surface = plane(model, run.loss_fn, data, steps=steps, span=span, seed=seed, bn=bn)
        elif kind == "line":
            surface = line(model, run.loss_fn, data, steps=steps, span=span, seed=seed, bn=bn)
        else:
            b = max(checkpoints) if epoch_b is None else int(epoch_b)
            if b not in checkpoints:
                raise UserError(
                    f"{run_dir} has no checkpoint for epoch {b}; available: {sorted(checkpoints)}"
                )
            model_b = copy.deepcopy(model)
            fit_model(model_b, load_checkpoint(checkpoints[b])["model"], checkpoints[b], run.config.model)
            surface = interpolate(model, model_b, run.loss_fn, data, steps=steps, bn=bn)
            surface.provenance.update(epoch_a=run.epoch, epoch_b=b)
        surface.provenance.update(run_dir=str(run_dir), epoch=run.epoch)
        title = (
            f"{Path(run_dir).name}: {kind} at epoch {run.epoch}"
            if kind != "interp"
            else f"{Path(run_dir).name}: epoch {run.epoch} -> epoch {surface.provenance['epoch_b']}"
        )
    npz, js = surface.save(run_subdir(run_dir, PROBES) / f"landscape-{kind}")
    plot_surface(surface, out, title=title)
    doc = surface.to_json()
    doc["files"] = {"plot": str(out), "npz": str(npz), "json": str(js)}
    return doc
