"""Commands that train: train, compare, sweep, and the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..exits import files_written_line, on_interrupt, watch_outputs
from .app import (
    DATA_HELP,
    MODEL_HELP,
    app,
    print_json,
)


def _train_interrupt_line(out: Path) -> str:
    from ..train.checkpoint import list_checkpoints

    if list_checkpoints(out):
        return f"interrupted; the run in {out} is consistent: continue it with lrscope train --resume --out {out}"
    return files_written_line()


@app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option("--out", help="Run directory to create (or continue with --resume).")],
    data: Annotated[str | None, typer.Option("--data", help=DATA_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=MODEL_HELP)] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help='Learning-rate schedule spec, e.g. "multistep(0.1, milestones=[6, 9])".')] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Number of epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size (default 64).")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", help="sgd (default) or adamw.")] = None,
    lr_scale: Annotated[float | None, typer.Option(
        "--lr-scale", help="Multiply every rate of the schedule by this.")] = None,
    momentum: Annotated[float | None, typer.Option(
        "--momentum", help="SGD momentum, AdamW beta1 (default 0.9).")] = None,
    nesterov: Annotated[bool | None, typer.Option("--nesterov/--no-nesterov", help="Nesterov momentum.")] = (
        None),
    weight_decay: Annotated[float | None, typer.Option("--weight-decay", help="Weight decay.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for everything (default 0).")] = None,
    step_unit: Annotated[str | None, typer.Option(
        "--step-unit", help="Schedule time t counts epochs (default) or steps.")] = None,
    label_noise: Annotated[float | None, typer.Option(
        "--label-noise", help="Fraction of training labels flipped.")] = None,
    augment: Annotated[bool | None, typer.Option(
        "--augment/--no-augment", help="Random shifts/flips.")] = None,
    val_fraction: Annotated[float | None, typer.Option(
        "--val-fraction", help="Validation share when the data has no split (default 0.2).")] = None,
    noise_every: Annotated[int | None, typer.Option(
        "--noise-every", help="Measure gradient noise every K steps (0 = off).")] = None,
    sharpness_every: Annotated[int | None, typer.Option(
        "--sharpness-every", help="Measure sharpness every K steps (0 = off).")] = None,
    keep: Annotated[int | None, typer.Option("--keep", help="Checkpoints to keep (0 = all).")] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="Torch threads (0 = default).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the run in --out from its last checkpoint.")] = False,
    nproc: Annotated[int | None, typer.Option(
        "--nproc", help="Data-parallel processes on this machine, launched with torchrun (--batch-size is per "
                        "process).")] = None,
) -> None:
    """Train a model with the reference runner into a run directory (data-parallel under torchrun)."""
    from ..train import distributed

    if nproc is not None and nproc != 1:
        code = distributed.launch(nproc)
        if code:
            raise typer.Exit(code)
        return
    from ..jobs.train import train_job

    on_interrupt(lambda: _train_interrupt_line(out))
    options = dict(data=data, model=model, schedule=schedule, epochs=epochs, batch_size=batch_size,
                   optimizer=optimizer, lr_scale=lr_scale, momentum=momentum, nesterov=nesterov,
                   weight_decay=weight_decay, seed=seed, step_unit=step_unit, label_noise=label_noise,
                   augment=augment, val_fraction=val_fraction, noise_every=noise_every,
                   sharpness_every=sharpness_every, keep=keep, threads=threads)
    run = train_job(options, out, resume=resume)
    if distributed.is_main():
        from ..console import say

        say(f"run written to {run}")


@app.command("compare")
def compare_cmd(
    specs: Annotated[list[str], typer.Argument(help='Schedule specs, e.g. "onecycle(0.4, total=60)".')],
    out: Annotated[Path, typer.Option("--out", help="Directory: one run each, compare.json/.md/.png.")],
    data: Annotated[str, typer.Option("--data", help=DATA_HELP)],
    model: Annotated[str, typer.Option("--model", help=MODEL_HELP)],
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs for every run.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed shared by every run.")] = 0,
    target_acc: Annotated[float | None, typer.Option(
        "--target-acc", help="Report epochs to reach this validation accuracy (a fraction).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size (default 64).")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", help="sgd (default) or adamw.")] = None,
    momentum: Annotated[float | None, typer.Option("--momentum", help="SGD momentum / AdamW beta1.")] = None,
    weight_decay: Annotated[float | None, typer.Option("--weight-decay", help="Weight decay.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print compare.json's document.")] = False,
) -> None:
    """Train each schedule at the same budget and seed, then tabulate and overlay them."""
    from ..analysis.comparison import comparison_document, comparison_table
    from ..jobs.compare import compare_job

    watch_outputs(out)
    rows = compare_job(specs, data=data, model=model, epochs=epochs, out=out, seed=seed, target_acc=target_acc,
                       batch_size=batch_size, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay)
    if json_out:
        print_json(comparison_document(rows, target_acc))
        return
    from ..console import say, verbatim

    verbatim(comparison_table(rows, target_acc))
    say(f"written: {out / 'compare.json'}, {out / 'compare.md'}, {out / 'compare.png'}")


@app.command("sweep")
def sweep_cmd(
    schedule: Annotated[list[str], typer.Option("--schedule", help="Schedule spec (repeatable: one axis).")],
    data: Annotated[str, typer.Option("--data", help=DATA_HELP)],
    model: Annotated[str, typer.Option("--model", help=MODEL_HELP)],
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs for every trial.")],
    out: Annotated[Path, typer.Option("--out", help="New directory: runs/, sweep.json, compare.*.")],
    seed: Annotated[list[int] | None, typer.Option("--seed", help="Seed (repeatable; default 0).")] = None,
    lr_scale: Annotated[list[float] | None, typer.Option(
        "--lr-scale", help="Multiply the schedule's rates by this (repeatable: one more axis).")] = None,
    batch_size: Annotated[list[int] | None, typer.Option(
        "--batch-size", help="Batch size (repeatable: one more axis; default 64).")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", help="sgd (default) or adamw.")] = None,
    momentum: Annotated[float | None, typer.Option("--momentum", help="SGD momentum / AdamW beta1.")] = None,
    weight_decay: Annotated[float | None, typer.Option("--weight-decay", help="Weight decay.")] = None,
    step_unit: Annotated[str | None, typer.Option("--step-unit", help="Schedule t counts epochs or steps.")] = None,
    address: Annotated[str | None, typer.Option(
        "--address", help="An existing Ray cluster (host:port, ray://host:port or auto); default: a local "
                          "Ray instance.")] = None,
    num_cpus: Annotated[int | None, typer.Option(
        "--num-cpus", help="CPUs of the local Ray instance (default: this machine's, at most one per trial).")
    ] = None,
    cpus_per_trial: Annotated[float, typer.Option("--cpus-per-trial", help="CPUs each trial takes.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print sweep.json's document.")] = False,
) -> None:
    """Train one run per combination of schedules and seeds (and rate scales, batch sizes) as Ray Tune trials."""
    from ..jobs.sweep import sweep_job, sweep_table

    watch_outputs(out)
    path = sweep_job(schedule, seed or [0], data=data, model=model, epochs=epochs, out_dir=out, address=address,
                     lr_scales=lr_scale or (), batch_sizes=batch_size or (), cpus_per_trial=cpus_per_trial,
                     num_cpus=num_cpus, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
                     step_unit=step_unit)
    document = json.loads(path.read_text())
    if as_json:
        print_json(document)
        return
    from ..console import say, verbatim

    verbatim(sweep_table(document))
    say(f"written: {path}" + (f", {path.parent / 'compare.md'}, {path.parent / 'compare.png'}"
                                if (path.parent / "compare.md").exists() else ""))


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output directory (default ./lrscope-demo).")] = Path(
        "lrscope-demo"),
) -> None:
    """Reproduce the staircase on embedded data: a step schedule vs 1cycle, explained."""
    from ..jobs.demo import demo_job

    demo_job(out)
