"""Commands that probe a model or a run: find, predict, whatif, landscape, sharpness."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exits import watch_outputs
from .app import (
    CHECKPOINT_HELP,
    DATA_HELP,
    MODEL_HELP,
    PROBE_DATA_HELP,
    PROBE_MODEL_HELP,
    app,
    print_json,
    print_notes,
)

# Mean regret (accuracy points against a grid search) of the sweep alone and of --confirm's refined rate over
# every case of bench/bench_finder_regret.py (summary.json, "all"); a test keeps them equal to the bench's.
REGRET_SWEEP_ALONE, REGRET_CONFIRMED = 2.4, 0.4


@app.command("find")
def find_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory for finder.json and finder.png.")],
    data: Annotated[str | None, typer.Option("--data", help=DATA_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=MODEL_HELP)] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size (default 64).")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", help="sgd (default) or adamw.")] = None,
    momentum: Annotated[float | None, typer.Option("--momentum", help="SGD momentum / AdamW beta1.")] = None,
    weight_decay: Annotated[float | None, typer.Option("--weight-decay", help="Weight decay.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default 0).")] = None,
    start_lr: Annotated[float, typer.Option("--start-lr", help="First rate of the sweep.")] = 1e-7,
    end_lr: Annotated[float, typer.Option("--end-lr", help="Last rate of the sweep.")] = 10.0,
    num_iter: Annotated[int, typer.Option("--num-iter", help="Optimizer steps in one sweep.")] = 100,
    repeats: Annotated[int, typer.Option("--repeats", help="Sweeps with further data; median + spread.")] = 1,
    confirm: Annotated[bool, typer.Option(
        "--confirm", help="Then train the recipe at the finder's rate x 10^d, d in -1.5..+0.5 (5 runs, into "
                          "OUT/confirm/; up to 2 more half-decades past an end while the best is there) and "
                          "keep the lowest validation loss.")] = False,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help='With --confirm: the recipe\'s schedule, auto where the finder\'s rate goes '
                           '(default "constant(auto)"; e.g. "onecycle(auto, total=10)").')] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="With --confirm: epochs per run (default 10).")]
    = None,
    step_unit: Annotated[str | None, typer.Option(
        "--step-unit", help="With --confirm: what the schedule's t counts, epoch (default) or step.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the finder.json document.")] = False,
) -> None:
    """LR range test: sweep the rate up, suggest a rate and a range for cyclical/1cycle schedules."""
    from ..jobs.find import find_job

    watch_outputs(out)
    options = dict(data=data, model=model, batch_size=batch_size, optimizer=optimizer, momentum=momentum,
                   weight_decay=weight_decay, seed=seed)
    result = find_job(options, out, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, repeats=repeats,
                      confirm=confirm, schedule=schedule, epochs=epochs, step_unit=step_unit)
    if json_out:
        print_json(result.to_json())
        return
    from ..console import say

    say(result.summary())
    print_notes(result.notes, err=False)
    if not confirm:
        # The sweep sees ~100 steps of training loss, not the run's overfitting or its noise floor
        # (bench/RESULTS.md, "LR finder regret").
        say("to check this rate on your recipe: add --confirm (trains it at 5-7 rates around this one and keeps "
            f"the lowest validation loss; against a grid search it lost {REGRET_CONFIRMED} accuracy points on "
            f"average in lrscope's bench, the sweep alone {REGRET_SWEEP_ALONE})")
    say(f"written: {out / 'finder.json'}, {out / 'finder.png'}")


@app.command("predict")
def predict_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory with noise measurements (--noise-every).")],
    to: Annotated[float, typer.Option("--to", help="The new, lower learning rate.")],
    at: Annotated[
        int | None, typer.Option("--at", help="Decay after this many epochs (default: last checkpoint).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output (lrscope.predict/1).")] = False,
) -> None:
    """Predict the immediate drop of the training loss at a decay, from the SGD noise floor."""
    from ..jobs.predict import predict_job

    p = predict_job(run, to, at)
    if as_json:
        print_json(p.to_json())
        return
    from ..console import say

    say(f"epoch {p.epoch}: lr {p.lr_from:g} -> {p.lr_to:g}, train loss {p.loss_now:.4g}")
    say(f"predicted drop {p.predicted_drop:.4g} (band {p.band[0]:.4g}..{p.band[1]:.4g}), "
        f"loss after ~{p.predicted_loss_after:.4g}")
    say(f"tr(Sigma) {p.noise_trace:.4g} from {p.noise_measurements} measurements, B {p.batch_size}, "
        f"momentum {p.momentum:g}: {p.formula}")
    print_notes(p.notes)


@app.command("whatif")
def whatif_cmd(
    run: Annotated[Path | None, typer.Argument(
        help="Run directory with checkpoints (lrscope train); or give --checkpoint.")] = None,
    to: Annotated[float, typer.Option("--to", help="The new, lower learning rate.")] = ...,
    at: Annotated[
        int | None, typer.Option("--at", help="Start after this many epochs (default: last checkpoint).")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Steps at the new (and the old) rate.")] = 50,
    window: Annotated[
        int | None, typer.Option("--window", help="Average the last W steps (default: --steps / 2).")
    ] = None,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=PROBE_MODEL_HELP)] = None,
    data: Annotated[str | None, typer.Option("--data", help=PROBE_DATA_HELP)] = None,
    lr: Annotated[float | None, typer.Option(
        "--lr", help="With --checkpoint: the rate it was at (default: its saved optimizer state's).")] = None,
    momentum: Annotated[float | None, typer.Option(
        "--momentum", help="With --checkpoint: SGD momentum (default: its saved optimizer state's, else 0.9).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", help="With --checkpoint: batch size (default 64).")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="With --checkpoint: seed of the batch order and the data split (default 0).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="With --checkpoint: JSON file to write the result to (default: none).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output (lrscope.whatif/1).")] = False,
) -> None:
    """Cut the rate at a checkpoint, run K steps, compare the fall with the noise-floor prediction."""
    from ..jobs.whatif import whatif_job
    from ..logs.rundir import PROBES

    watch_outputs(run / PROBES if run is not None else None, out)
    r = whatif_job(run, to, at, steps, window, checkpoint=checkpoint, model=model, data=data, lr=lr,
                   momentum=momentum, batch_size=batch_size, seed=seed, out=out)
    if as_json:
        print_notes(r.notes if r.checkpoint else ())
        print_json(r.to_json())
        return
    from ..console import say

    start = f"checkpoint {r.checkpoint}" if r.checkpoint else f"epoch {r.epoch}"
    say(f"{start}: {r.steps} steps at lr {r.lr_to:g} vs {r.lr_from:g} (same batches), last {r.window} steps")
    say(f"loss at the old rate {r.loss_before:.4g}, at the new rate {r.loss_after:.4g}: "
        f"observed drop {r.observed_drop:.4g}")
    if r.predicted_drop is not None:
        ratio = f" (ratio predicted/observed {r.ratio:.2f})" if r.ratio is not None else ""
        say(f"predicted drop {r.predicted_drop:.4g}{ratio}")
    print_notes(r.notes)
    if r.result_file:
        say(r.result_file)


@app.command("landscape")
def landscape_cmd(
    run: Annotated[Path | None, typer.Argument(
        help="Run directory written by `lrscope train`; or give --checkpoint.")] = None,
    out: Annotated[Path, typer.Option(
        "--out", help="PNG file to write (npz + json go to RUN/probes/, or beside it with --checkpoint).")] = ...,
    kind: Annotated[str, typer.Option("--kind", help="plane, line, interp or trajectory.")] = "plane",
    steps: Annotated[int, typer.Option("--steps", help="Grid points per axis (>= 2).")] = 21,
    span: Annotated[float, typer.Option("--span", help="Half-width of the grid in direction units.")] = 1.0,
    epoch: Annotated[int | None, typer.Option("--epoch", help="Checkpoint (interp: the start).")] = None,
    epoch_b: Annotated[int | None, typer.Option("--epoch-b", help="interp: the end.")] = None,
    samples: Annotated[int, typer.Option("--samples", help="Training examples to evaluate on.")] = 512,
    seed: Annotated[int, typer.Option("--seed", help="Seed for directions and the data subset.")] = 0,
    bn: Annotated[str, typer.Option("--bn", help="eval (running stats) or recompute (per point).")] = "eval",
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    checkpoint_b: Annotated[Path | None, typer.Option(
        "--checkpoint-b", help="With --checkpoint and --kind interp: the other end.")] = None,
    model: Annotated[str | None, typer.Option("--model", help=PROBE_MODEL_HELP)] = None,
    data: Annotated[str | None, typer.Option("--data", help=PROBE_DATA_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Loss-landscape slice of a run: random plane or line, interpolation, or the trajectory's PCA plane."""
    from ..jobs.landscape import landscape_job
    from ..logs.rundir import PROBES

    watch_outputs(out, run / PROBES if run is not None else out.parent)
    doc = landscape_job(run, kind, out, steps=steps, span=span, epoch=epoch, epoch_b=epoch_b, samples=samples,
                        seed=seed, bn=bn, checkpoint=checkpoint, checkpoint_b=checkpoint_b, model=model, data=data)
    print_notes(doc.get("notes"))
    if as_json:
        print_json(doc)
        return
    from ..console import say

    low = doc.get("min", {})
    say(f"{kind}: loss {low.get('loss', float('nan')):.4g} at its lowest; plot written to "
        f"{doc['files']['plot']}, data to {doc['files']['npz']}")


@app.command("sharpness")
def sharpness_cmd(
    run: Annotated[Path | None, typer.Argument(
        help="Run directory written by `lrscope train`; or give --checkpoint.")] = None,
    out: Annotated[Path, typer.Option(
        "--out", help="PNG file to write (npz + json go to RUN/probes/, or beside it with --checkpoint).")] = ...,
    epoch: Annotated[int | None, typer.Option("--epoch", help="Checkpoint (default the last).")] = None,
    all_epochs: Annotated[bool, typer.Option("--all", help="Every checkpoint.")] = False,
    k: Annotated[int, typer.Option("--k", help="How many top eigenvalues.")] = 1,
    samples: Annotated[int, typer.Option("--samples", help="Training examples to evaluate on.")] = 512,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the data subset and start vector.")] = 0,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=PROBE_MODEL_HELP)] = None,
    data: Annotated[str | None, typer.Option("--data", help=PROBE_DATA_HELP)] = None,
    lr: Annotated[float | None, typer.Option(
        "--lr", help="With --checkpoint: the rate for 2/LR (default: its saved optimizer state's).")] = None,
    momentum: Annotated[float | None, typer.Option(
        "--momentum", help="With --checkpoint: SGD momentum (default: its saved optimizer state's, else 0.9).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Top Hessian eigenvalue of a run's checkpoints against 2/LR and (2 + 2 beta)/LR."""
    from ..jobs.sharpness import sharpness_job
    from ..logs.rundir import PROBES

    watch_outputs(out, run / PROBES if run is not None else out.parent)
    doc = sharpness_job(run, out, epoch=epoch, all_epochs=all_epochs, k=k, samples=samples, seed=seed,
                        checkpoint=checkpoint, model=model, data=data, lr=lr, momentum=momentum)
    print_notes(doc.get("notes"))
    if as_json:
        print_json(doc)
        return
    from ..console import say

    for row in doc["checkpoints"]:
        where = f"checkpoint {row['checkpoint']}" if row.get("checkpoint") else f"epoch {row['epoch']}"
        say(f"{where}: sharpness {row['sharpness']:.4g}, 2/lr {row['eos_2_over_lr']:.4g}, "
            f"(2+2beta)/lr {row['eos_momentum']:.4g} ({row['hvp_count']} HVPs)")
    say(f"plot written to {doc['files']['plot']}")
