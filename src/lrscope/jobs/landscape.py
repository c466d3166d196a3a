"""``lrscope landscape RUN --kind plane|line|interp|trajectory --out F``: compute one loss-landscape slice of a
run (:mod:`lrscope.probes.landscape`), save it as RUN/probes/landscape-KIND.npz + .json and draw it into F.

``lrscope landscape --checkpoint PATH --model M --data D --kind plane|line --out F`` does the same around the
user's own checkpoint (:mod:`lrscope.train.user_checkpoint`); ``--kind interp`` goes from PATH to
``--checkpoint-b PATH_B``.  The arrays and JSON then go beside F (F.npz, F.json): the checkpoint is only read.
"""

from __future__ import annotations

import copy
from pathlib import Path

from torch import nn

from ..console import track
from ..errors import UserError
from ..logs.rundir import PROBES, require_run_dir
from ..outputs import FIGURE, check_output, run_subdir
from ..probes.landscape import KINDS, check_steps_span, interpolate, line, plane, subset, trajectory
from ..train.checkpoint import fit_model, list_checkpoints, load_checkpoint
from ..train.restore import load_run
from ..train.user_checkpoint import fit_weights, model_from_checkpoint, read_weights
from ..viz.surfaces import plot_surface
from .source import beside, checkpoint_config, probe_source


def landscape_job(
    run_dir: str | Path | None,
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
    checkpoint: str | Path | None = None,
    checkpoint_b: str | Path | None = None,
    model: str | None = None,
    data: str | None = None,
) -> dict:
    """Compute one slice of a run (or of the user's ``checkpoint``), draw it into ``out``, save npz + json.

    plane/line: around checkpoint ``epoch`` (default the last); interp: from ``epoch`` (default 0) to
    ``epoch_b`` (default the last); trajectory: the PCA plane of all checkpoints.  Nothing else in the run
    directory changes.  ``model``/``data``: the ``--model``/``--data`` given (a run built by a factory needs
    them; a checkpoint always does).
    """
    source = probe_source("landscape", run_dir, checkpoint, model=model, data=data,
                          run_options={"--epoch": epoch, "--epoch-b": epoch_b},
                          checkpoint_options={"--checkpoint-b": checkpoint_b})
    inputs = [p for p in (run_dir, checkpoint, checkpoint_b) if p is not None]
    out = check_output(out, suffixes=FIGURE, inputs=inputs)
    if kind not in KINDS:
        raise UserError(f"--kind must be one of {', '.join(KINDS)}; got {kind!r}")
    steps, span = check_steps_span(steps, span, kind)
    if not out.parent.exists():
        raise UserError(f"output directory {out.parent} does not exist")
    if source == "checkpoint":
        with track(f"landscape {kind}") as tick:
            return _checkpoint_landscape(kind, out, Path(checkpoint), checkpoint_b, model, data, steps=steps,
                                         span=span, samples=samples, seed=seed, bn=bn, inputs=inputs, progress=tick)
    with track(f"landscape {kind}") as tick:
        return _run_landscape(run_dir, kind, out, steps=steps, span=span, epoch=epoch, epoch_b=epoch_b,
                              samples=samples, seed=seed, bn=bn, model=model, data=data, progress=tick)


def _run_landscape(run_dir, kind: str, out: Path, *, steps: int, span: float, epoch, epoch_b, samples: int, seed: int,
                   bn: str, model, data, progress) -> dict:
    """plane, line, interp or trajectory of a run; npz + json under RUN/probes/."""
    run_dir = require_run_dir(run_dir)
    given = {"model": model, "data": data}
    run_subdir(run_dir, PROBES, create=False)  # refuse a symlinked RUN/probes before any work
    if kind == "trajectory":
        surface = trajectory(run_dir, steps=steps, samples=samples, seed=seed, bn=bn, given=given, progress=progress)
        title = f"{Path(run_dir).name}: trajectory on its PCA plane"
    else:
        checkpoints = list_checkpoints(run_dir)
        first = (0 if kind == "interp" else None) if epoch is None else epoch
        run = load_run(run_dir, first, **given)
        net = run.model.eval()
        points = subset(run.bundle, samples, seed)
        if kind == "plane":
            surface = plane(net, run.loss_fn, points, steps=steps, span=span, seed=seed, bn=bn, progress=progress)
        elif kind == "line":
            surface = line(net, run.loss_fn, points, steps=steps, span=span, seed=seed, bn=bn, progress=progress)
        else:
            b = max(checkpoints) if epoch_b is None else int(epoch_b)
            if b not in checkpoints:
                raise UserError(
                    f"{run_dir} has no checkpoint for epoch {b}; available: {sorted(checkpoints)}"
                )
            net_b = copy.deepcopy(net)
            fit_model(net_b, load_checkpoint(checkpoints[b])["model"], checkpoints[b], run.config.model)
            surface = interpolate(net, net_b, run.loss_fn, points, steps=steps, bn=bn, progress=progress)
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


def _checkpoint_landscape(kind: str, out: Path, checkpoint: Path, checkpoint_b, model: str, data: str, *,
                          steps: int, span: float, samples: int, seed: int, bn: str, inputs: list,
                          progress) -> dict:
    """plane, line or interp around the user's checkpoint; npz + json beside ``out``."""
    if kind == "trajectory":
        raise UserError("--kind trajectory needs a run directory's checkpoints (RUN); with --checkpoint use plane, "
                        "line or interp")
    if (kind == "interp") != (checkpoint_b is not None):
        raise UserError("--kind interp with --checkpoint needs --checkpoint-b PATH (the other end)" if kind == "interp"
                        else "--checkpoint-b goes with --kind interp")
    stem = beside(out, inputs)
    config = checkpoint_config(model, data, seed=seed)
    loaded = model_from_checkpoint(checkpoint, config)
    net, notes = loaded.model.eval(), list(loaded.notes)
    points = subset(loaded.bundle, samples, seed)
    loss_fn = nn.CrossEntropyLoss()
    if kind == "plane":
        surface = plane(net, loss_fn, points, steps=steps, span=span, seed=seed, bn=bn, progress=progress)
    elif kind == "line":
        surface = line(net, loss_fn, points, steps=steps, span=span, seed=seed, bn=bn, progress=progress)
    else:
        net_b = copy.deepcopy(net)
        notes += fit_weights(net_b, read_weights(checkpoint_b), model)
        surface = interpolate(net, net_b, loss_fn, points, steps=steps, bn=bn, progress=progress)
        surface.provenance.update(checkpoint_b=str(checkpoint_b))
    surface.provenance.update(checkpoint=str(checkpoint), model=model, data=data, weights=loaded.weights.kind)
    title = f"{checkpoint.name}: {kind}" if kind != "interp" else f"{checkpoint.name} -> {Path(checkpoint_b).name}"
    npz, js = surface.save(stem)
    plot_surface(surface, out, title=title)
    doc = surface.to_json()
    doc["files"] = {"plot": str(out), "npz": str(npz), "json": str(js)}
    doc["notes"] = notes
    return doc
