"""The command line: parse arguments, call one job (lrscope.jobs), print.  No logic lives here.

Every command imports its job inside its body, so ``lrscope schedule`` and ``lrscope explain`` start without
importing torch.  How a run ends (one line for a UserError, exit 2; what an interrupt kept) is lrscope.exits.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .exits import files_written_line, on_interrupt, run_command_line, shown, watch_outputs

app = typer.Typer(
    name="lrscope",
    help="Understand and control learning-rate dynamics in neural-network training.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_DEBUG = {"on": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _DEBUG["on"] = debug or bool(os.environ.get("LRSCOPE_DEBUG"))


def print_json(document) -> None:
    """One JSON document on stdout, nothing else."""
    from .atomic import _json_default

    sys.stdout.write(json.dumps(document, indent=2, allow_nan=False, default=_json_default) + "\n")
    sys.stdout.flush()


DEFAULT_MAX_BYTES = 2 * 1024**3  # lrscope.logs.read.DEFAULT_MAX_BYTES, without importing the readers here
_MAX_BYTES_HELP = ("Largest text log (or run metrics.jsonl) to read, in bytes; default 2147483648 (2 GiB). "
                   "TensorBoard event files are not capped.")


_DATA_HELP = ("digits, synthetic, npz:PATH, folder:PATH, cifar10:PATH, or your own PKG.MODULE:FACTORY (a callable "
              "returning (train, val): Datasets of (x, y), DataLoaders or (x, y) arrays).")
_MODEL_HELP = ("cnn, mlp, resnet20, resnet32, resnet56, or your own PKG.MODULE:FACTORY (a callable returning an "
               "nn.Module; given input_shape= and num_classes= when it takes them).")
_PROBE_MODEL_HELP = ("With --checkpoint: what builds the network (a built-in or PKG.MODULE:FACTORY). With RUN: "
                     "needed when the run's model is your code (the same reference).")
_PROBE_DATA_HELP = ("With --checkpoint: the data the loss is measured on. With RUN: needed when the run's data is "
                    "your code (the same reference).")
_CHECKPOINT_HELP = ("Your own checkpoint instead of RUN: a state_dict file, a Lightning .ckpt, a .safetensors file "
                    "or a Hugging Face checkpoint-N/ directory (read weights-only).")


def _print_notes(notes) -> None:
    for line in notes or ():
        print(f"note: {line}", file=sys.stderr)


def _train_interrupt_line(out: Path) -> str:
    from .train.checkpoint import list_checkpoints

    if list_checkpoints(out):
        return f"interrupted; the run in {out} is consistent: continue it with lrscope train --resume --out {out}"
    return files_written_line()


@app.command("schedule")
def schedule_command(
    spec: Annotated[str, typer.Argument(help="Schedule spec, e.g. 'onecycle(0.4, total=1000)'.")],
    steps: Annotated[int, typer.Option("--steps", help="Number of values: t = 0 .. N-1.")],
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the curve to this PNG/SVG/PDF.")] = None,
    log_y: Annotated[bool, typer.Option("--log-y", help="Logarithmic rate axis in the plot.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of the N rates only.")] = False,
) -> None:
    """Evaluate a schedule: a compact table (or the N rates as JSON) and optionally a plot (no torch)."""
    from .jobs.schedule import schedule_job

    watch_outputs(plot)
    view = schedule_job(spec, steps, plot=plot, log_y=log_y, table=not as_json)
    if view.plot is not None:
        from .console import note

        note(f"wrote {shown(view.plot)}")
    if as_json:
        print_json(view.lrs)
        return
    from rich.table import Table

    from .console import out_console

    out_console().print(view.schedule.spec, markup=False, highlight=False)
    table = Table(box=None, pad_edge=False)
    table.add_column("t", justify="right")
    table.add_column("lr", justify="right")
    has_momentum = view.rows[0]["momentum"] is not None
    if has_momentum:
        table.add_column("momentum", justify="right")
    table.add_column("jump")
    for row in view.rows:
        cells = [str(row["t"]), f"{row['lr']:.6g}"]
        if has_momentum:
            cells.append(f"{row['momentum']:.4g}")
        cells.append(row["event"] or "")
        table.add_row(*cells)
    out_console().print(table)
    out_console().print(f"{steps} steps, lr from {min(view.lrs):.6g} to {max(view.lrs):.6g}, "
                        f"{view.jumps} jump(s)", markup=False)


# ---------------------------------------------------------------- train, demo, plot


@app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option("--out", help="Run directory to create (or continue with --resume).")],
    data: Annotated[str | None, typer.Option("--data", help=_DATA_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=_MODEL_HELP)] = None,
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
    from .train import distributed

    if nproc is not None and nproc != 1:
        code = distributed.launch(nproc)
        if code:
            raise typer.Exit(code)
        return
    from .jobs.train import train_job

    on_interrupt(lambda: _train_interrupt_line(out))
    options = dict(data=data, model=model, schedule=schedule, epochs=epochs, batch_size=batch_size,
                   optimizer=optimizer, lr_scale=lr_scale, momentum=momentum, nesterov=nesterov,
                   weight_decay=weight_decay, seed=seed, step_unit=step_unit, label_noise=label_noise,
                   augment=augment, val_fraction=val_fraction, noise_every=noise_every,
                   sharpness_every=sharpness_every, keep=keep, threads=threads)
    run = train_job(options, out, resume=resume)
    if distributed.is_main():
        print(f"run written to {run}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output directory (default ./lrscope-demo).")] = Path(
        "lrscope-demo"),
) -> None:
    """Reproduce the staircase on embedded data: a step schedule vs 1cycle, explained."""
    from .jobs.demo import demo_job

    demo_job(out)


@app.command("plot")
def plot_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory, a log file, or - for standard input.")],
    out: Annotated[Path, typer.Option("--out", help="PNG (or SVG/PDF) file to write.")],
    max_bytes: Annotated[int, typer.Option("--max-bytes", help=_MAX_BYTES_HELP)] = DEFAULT_MAX_BYTES,
) -> None:
    """Loss and accuracy curves with the learning rate on a log twin axis."""
    from .jobs.plot import plot_run

    watch_outputs(out)
    print(f"plot written to {shown(plot_run(run, out, max_bytes=max_bytes))}")


# ---------------------------------------------------------------- explain


@app.command("explain")
def explain_cmd(
    logs: Annotated[list[Path], typer.Argument(help="Training logs (CSV, TSV, JSON lines, TensorBoard, HF "
                                                    "trainer_state.json, Caffe, gluoncv, llm.c, MLflow ...), "
                                                    "directories of runs, run directories, or - for standard "
                                                    "input. One explanation per run.", metavar="LOG...")],
    schedule: Annotated[str | None, typer.Option("--schedule", help="Schedule spec.")] = None,
    step_unit: Annotated[str | None, typer.Option("--step-unit", help="What the --schedule's t counts: epoch or "
                                                                     "step (default: from the log's x axis).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write an annotated plot (PNG); several runs: "
                                                             "NAME-1.png, NAME-2.png ...")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="delimited|jsonlines|tensorboard|run|hf|caffe|"
                                                             "gluoncv|llm|mlflow")] = None,
    lr: Annotated[str | None, typer.Option("--lr", help="Column holding the learning rate.")] = None,
    loss: Annotated[str | None, typer.Option("--loss", help="Column holding the (training) loss.")] = None,
    val_loss: Annotated[str | None, typer.Option("--val-loss", help="Column holding the validation loss.")] = None,
    acc: Annotated[str | None, typer.Option("--acc", help="Column holding an accuracy or error rate.")] = None,
    x: Annotated[str | None, typer.Option("--x", help="Column to use as x axis (epoch or step).")] = None,
    max_bytes: Annotated[int, typer.Option("--max-bytes", help=_MAX_BYTES_HELP)] = DEFAULT_MAX_BYTES,
) -> None:
    """Explain a run: LR changes, the drops after them, whether each stage was long enough."""
    from .jobs.explain import explain_document, explain_job

    if step_unit is not None:
        from .validate import check_choice

        step_unit = check_choice("--step-unit", step_unit, ("epoch", "step"))
    watch_outputs(plot)
    results, plots = explain_job(logs, plot=plot, schedule=schedule, format=fmt, lr=lr, loss=loss, x=x, acc=acc,
                                 val_loss=val_loss, step_unit=step_unit, max_bytes=max_bytes)
    if as_json:
        print_json(explain_document(results))
        return
    from rich.markup import escape

    from .console import out_console

    con = out_console()
    styles = {"drop": "green", "overfitting": "red", "no_decay": "yellow", "unexplained_drop": "magenta",
              "pathology": "red"}
    for k, result in enumerate(results):
        if k:
            con.print("")
        src = result.source
        run = getattr(result, "run", "")
        title = escape(shown(run)) if run else escape(shown(src["path"]))
        con.print(f"[bold]{title}[/bold]: {src['rows']} rows ({escape(str(src['format']))}, "
                  f"x = {escape(str(src['x_name']))})", highlight=False)
        for n in result.notes:
            con.print(f"[yellow]note:[/yellow] {escape(n)}", highlight=False, markup=True)
        for f in result.findings:
            style = styles.get(f.kind, "default")
            con.print(f"[{style}]-[/{style}] {escape(f.text)}", markup=True, highlight=False)
    for path in plots:
        con.print(f"plot written to {shown(path)}", markup=False, highlight=False)


# ---------------------------------------------------------------- find, compare


@app.command("find")
def find_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory for finder.json and finder.png.")],
    data: Annotated[str | None, typer.Option("--data", help=_DATA_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=_MODEL_HELP)] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size (default 64).")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", help="sgd (default) or adamw.")] = None,
    momentum: Annotated[float | None, typer.Option("--momentum", help="SGD momentum / AdamW beta1.")] = None,
    weight_decay: Annotated[float | None, typer.Option("--weight-decay", help="Weight decay.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (default 0).")] = None,
    start_lr: Annotated[float, typer.Option("--start-lr", help="First rate of the sweep.")] = 1e-7,
    end_lr: Annotated[float, typer.Option("--end-lr", help="Last rate of the sweep.")] = 10.0,
    num_iter: Annotated[int, typer.Option("--num-iter", help="Optimizer steps in one sweep.")] = 100,
    repeats: Annotated[int, typer.Option("--repeats", help="Sweeps with further data; median + spread.")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="Print the finder.json document.")] = False,
) -> None:
    """LR range test: sweep the rate up, suggest a rate and a range for cyclical/1cycle schedules."""
    from .jobs.find import find_job

    watch_outputs(out)
    options = dict(data=data, model=model, batch_size=batch_size, optimizer=optimizer, momentum=momentum,
                   weight_decay=weight_decay, seed=seed)
    result = find_job(options, out, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, repeats=repeats)
    if json_out:
        print_json(result.to_json())
        return
    print(result.summary())
    for line in result.notes:
        print(f"note: {line}")
    print(f"written: {out / 'finder.json'}, {out / 'finder.png'}")


@app.command("compare")
def compare_cmd(
    specs: Annotated[list[str], typer.Argument(help='Schedule specs, e.g. "onecycle(0.4, total=60)".')],
    out: Annotated[Path, typer.Option("--out", help="Directory: one run each, compare.json/.md/.png.")],
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP)],
    model: Annotated[str, typer.Option("--model", help=_MODEL_HELP)],
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
    from .analysis.comparison import comparison_document, comparison_table
    from .jobs.compare import compare_job

    watch_outputs(out)
    rows = compare_job(specs, data=data, model=model, epochs=epochs, out=out, seed=seed, target_acc=target_acc,
                       batch_size=batch_size, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay)
    if json_out:
        print_json(comparison_document(rows, target_acc))
        return
    print(comparison_table(rows, target_acc), end="")
    print(f"written: {out / 'compare.json'}, {out / 'compare.md'}, {out / 'compare.png'}")

# ---------------------------------------------------------------- noise: predict, whatif, nqm

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
    from .jobs.predict import predict_job

    p = predict_job(run, to, at)
    if as_json:
        print_json(p.to_json())
        return
    print(f"epoch {p.epoch}: lr {p.lr_from:g} -> {p.lr_to:g}, train loss {p.loss_now:.4g}")
    print(f"predicted drop {p.predicted_drop:.4g} (band {p.band[0]:.4g}..{p.band[1]:.4g}), "
          f"loss after ~{p.predicted_loss_after:.4g}")
    print(f"tr(Sigma) {p.noise_trace:.4g} from {p.noise_measurements} measurements, B {p.batch_size}, "
          f"momentum {p.momentum:g}: {p.formula}")
    for note in p.notes:
        print(f"note: {note}", file=sys.stderr)


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
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=_CHECKPOINT_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=_PROBE_MODEL_HELP)] = None,
    data: Annotated[str | None, typer.Option("--data", help=_PROBE_DATA_HELP)] = None,
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
    from .jobs.whatif import whatif_job
    from .logs.rundir import PROBES

    watch_outputs(run / PROBES if run is not None else None, out)
    r = whatif_job(run, to, at, steps, window, checkpoint=checkpoint, model=model, data=data, lr=lr,
                   momentum=momentum, batch_size=batch_size, seed=seed, out=out)
    if as_json:
        _print_notes(r.notes if r.checkpoint else ())
        print_json(r.to_json())
        return
    start = f"checkpoint {r.checkpoint}" if r.checkpoint else f"epoch {r.epoch}"
    print(f"{start}: {r.steps} steps at lr {r.lr_to:g} vs {r.lr_from:g} (same batches), "
          f"last {r.window} steps")
    print(f"loss at the old rate {r.loss_before:.4g}, at the new rate {r.loss_after:.4g}: "
          f"observed drop {r.observed_drop:.4g}")
    if r.predicted_drop is not None:
        ratio = f" (ratio predicted/observed {r.ratio:.2f})" if r.ratio is not None else ""
        print(f"predicted drop {r.predicted_drop:.4g}{ratio}")
    _print_notes(r.notes)
    if r.result_file:
        print(r.result_file)


@app.command("nqm")
def nqm_cmd(
    out: Annotated[Path, typer.Option("--out", help="PNG (or PDF/SVG) file to write.")],
    schedule: Annotated[
        list[str] | None,
        typer.Option("--schedule", help="Schedule spec (repeatable; default: step, 1cycle, constant)."),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Steps of the schedules (t counts steps).")] = 3000,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary (lrscope.nqm/1).")] = False,
) -> None:
    """The noisy quadratic model under each schedule, with each rate's floor: the staircase, analytically."""
    from .jobs.nqm import nqm_job

    watch_outputs(out)
    summary = nqm_job(out, schedule or None, steps=steps)
    if as_json:
        print_json(summary)
        return
    for curve in summary["curves"]:
        print(f"{curve['spec']}: final expected loss {curve['final_loss']:.4g}")
    print(summary["out"])


# ---------------------------------------------------------------- landscape, sharpness


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
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=_CHECKPOINT_HELP)] = None,
    checkpoint_b: Annotated[Path | None, typer.Option(
        "--checkpoint-b", help="With --checkpoint and --kind interp: the other end.")] = None,
    model: Annotated[str | None, typer.Option("--model", help=_PROBE_MODEL_HELP)] = None,
    data: Annotated[str | None, typer.Option("--data", help=_PROBE_DATA_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Loss-landscape slice of a run: random plane or line, interpolation, or the trajectory's PCA plane."""
    from .jobs.landscape import landscape_job
    from .logs.rundir import PROBES

    watch_outputs(out, run / PROBES if run is not None else out.parent)
    doc = landscape_job(run, kind, out, steps=steps, span=span, epoch=epoch, epoch_b=epoch_b, samples=samples,
                        seed=seed, bn=bn, checkpoint=checkpoint, checkpoint_b=checkpoint_b, model=model, data=data)
    _print_notes(doc.get("notes"))
    if as_json:
        print_json(doc)
        return
    low = doc.get("min", {})
    print(f"{kind}: loss {low.get('loss', float('nan')):.4g} at its lowest; plot written to "
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
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help=_CHECKPOINT_HELP)] = None,
    model: Annotated[str | None, typer.Option("--model", help=_PROBE_MODEL_HELP)] = None,
    data: Annotated[str | None, typer.Option("--data", help=_PROBE_DATA_HELP)] = None,
    lr: Annotated[float | None, typer.Option(
        "--lr", help="With --checkpoint: the rate for 2/LR (default: its saved optimizer state's).")] = None,
    momentum: Annotated[float | None, typer.Option(
        "--momentum", help="With --checkpoint: SGD momentum (default: its saved optimizer state's, else 0.9).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Top Hessian eigenvalue of a run's checkpoints against 2/LR and (2 + 2 beta)/LR."""
    from .jobs.sharpness import sharpness_job
    from .logs.rundir import PROBES

    watch_outputs(out, run / PROBES if run is not None else out.parent)
    doc = sharpness_job(run, out, epoch=epoch, all_epochs=all_epochs, k=k, samples=samples, seed=seed,
                        checkpoint=checkpoint, model=model, data=data, lr=lr, momentum=momentum)
    _print_notes(doc.get("notes"))
    if as_json:
        print_json(doc)
        return
    for row in doc["checkpoints"]:
        where = f"checkpoint {row['checkpoint']}" if row.get("checkpoint") else f"epoch {row['epoch']}"
        print(f"{where}: sharpness {row['sharpness']:.4g}, 2/lr {row['eos_2_over_lr']:.4g}, "
              f"(2+2beta)/lr {row['eos_momentum']:.4g} ({row['hvp_count']} HVPs)")
    print(f"plot written to {doc['files']['plot']}")

# ---------------------------------------------------------------- report, toy


@app.command("toy")
def toy_cmd(
    surface: Annotated[str, typer.Argument(help="quadratic, rosenbrock, beale or rugged.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.gif, FILE.mp4 (needs ffmpeg) or FILE.png (last frame).")],
    lrs: Annotated[str | None, typer.Option("--lrs", help="Constant rates, comma-separated: 0.001,0.01.")] = None,
    optimizer: Annotated[str, typer.Option("--optimizer", help="sgd, momentum or adam.")] = "sgd",
    noise: Annotated[float, typer.Option("--noise", help="Gradient noise: std of a Gaussian added per step.")] = 0.0,
    schedule: Annotated[str | None, typer.Option("--schedule", help="Also run this schedule, e.g. "
                                                    "'piecewise([0.06, 0.006], [100])'.")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Optimizer steps (default: per surface).")] = None,
    frames: Annotated[int, typer.Option("--frames", help="Animation frames.")] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the gradient noise.")] = 0,
    three_d: Annotated[bool, typer.Option("--3d", help="Draw each run on a 3-D view of the surface.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Optimizers on a toy 2-D surface at several learning rates, animated (GIF/MP4) or as a picture (PNG)."""
    from .jobs.toy import make_toy

    watch_outputs(out)
    summary = make_toy(surface, out, lrs=lrs, optimizer=optimizer, noise=noise, schedule=schedule, steps=steps,
                       frames=frames, seed=seed, three_d=three_d)
    if as_json:
        print_json(summary)
        return
    for run in summary["runs"]:
        end = f"diverged at step {run['diverged_at']}" if run["diverged_at"] else f"final loss {run['final_loss']:.4g}"
        print(f"{run['label']}: {end}")
    print(summary["out"])


@app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="A run directory (or a demo directory holding step/ and onecycle/).")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file (default RUN/report.html).")] = None,
    max_bytes: Annotated[int, typer.Option("--max-bytes", help=_MAX_BYTES_HELP)] = DEFAULT_MAX_BYTES,
) -> None:
    """One self-contained HTML page with everything lrscope knows about a run."""
    from .jobs.report import report_job

    watch_outputs(out)
    print(shown(report_job(run, out, max_bytes=max_bytes)))


# ---------------------------------------------------------------- sweep


@app.command("sweep")
def sweep_cmd(
    schedule: Annotated[list[str], typer.Option("--schedule", help="Schedule spec (repeatable: one axis).")],
    data: Annotated[str, typer.Option("--data", help=_DATA_HELP)],
    model: Annotated[str, typer.Option("--model", help=_MODEL_HELP)],
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
    from .jobs.sweep import sweep_job, sweep_table

    watch_outputs(out)
    path = sweep_job(schedule, seed or [0], data=data, model=model, epochs=epochs, out_dir=out, address=address,
                     lr_scales=lr_scale or (), batch_sizes=batch_size or (), cpus_per_trial=cpus_per_trial,
                     num_cpus=num_cpus, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
                     step_unit=step_unit)
    document = json.loads(path.read_text())
    if as_json:
        print_json(document)
        return
    print(sweep_table(document), end="")
    print(f"written: {path}" + (f", {path.parent / 'compare.md'}, {path.parent / 'compare.png'}"
                                if (path.parent / "compare.md").exists() else ""))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app, turning user errors into one line and exit code 2.

    A process that joined a torch.distributed group (a rank under torchrun) leaves through
    :func:`lrscope.train.distributed.exit_process` instead of a normal interpreter exit."""
    from .train.distributed import exit_process, joined_group

    try:
        run_command_line(app, argv, debug=lambda: _DEBUG["on"])
    except SystemExit as done:
        if joined_group():
            exit_process(done.code)
        raise
    if joined_group():
        exit_process(0)
