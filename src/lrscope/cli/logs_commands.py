"""Commands that read schedules and logs and never import torch: schedule, explain, plot, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exits import shown, watch_outputs
from .app import (
    DEFAULT_MAX_BYTES,
    MAX_BYTES_HELP,
    app,
    print_json,
    print_notes,
)


@app.command("schedule")
def schedule_command(
    spec: Annotated[str, typer.Argument(help="Schedule spec, e.g. 'onecycle(0.4, total=1000)'.")],
    steps: Annotated[int, typer.Option("--steps", help="Number of values: t = 0 .. N-1.")],
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the curve to this PNG/SVG/PDF.")] = None,
    log_y: Annotated[bool, typer.Option("--log-y", help="Logarithmic rate axis in the plot.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of the N rates only.")] = False,
) -> None:
    """Evaluate a schedule: a compact table (or the N rates as JSON) and optionally a plot (no torch)."""
    from ..jobs.schedule import schedule_job

    watch_outputs(plot)
    view = schedule_job(spec, steps, plot=plot, log_y=log_y, table=not as_json)
    if view.plot is not None:
        from ..console import note

        note(f"wrote {shown(view.plot)}")
    if as_json:
        print_json(view.lrs)
        return
    from rich.table import Table

    from ..console import out_console, say

    say(view.schedule.spec)
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
    say(f"{steps} steps, lr from {min(view.lrs):.6g} to {max(view.lrs):.6g}, {view.jumps} jump(s)")


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
    max_bytes: Annotated[int, typer.Option("--max-bytes", help=MAX_BYTES_HELP)] = DEFAULT_MAX_BYTES,
) -> None:
    """Explain a run: LR changes, the drops after them, whether each stage was long enough."""
    from ..jobs.explain import explain_document, explain_job

    if step_unit is not None:
        from ..validate import check_choice

        step_unit = check_choice("--step-unit", step_unit, ("epoch", "step"))
    watch_outputs(plot)
    results, plots = explain_job(logs, plot=plot, schedule=schedule, format=fmt, lr=lr, loss=loss, x=x, acc=acc,
                                 val_loss=val_loss, step_unit=step_unit, max_bytes=max_bytes)
    if as_json:
        print_json(explain_document(results))
        return
    from ..console import bullets, say

    styles = {"drop": "green", "overfitting": "red", "no_decay": "yellow", "unexplained_drop": "magenta",
              "pathology": "red"}
    for k, result in enumerate(results):
        if k:
            say("")
        src = result.source
        run = getattr(result, "run", "")
        say(f"{shown(run) if run else shown(src['path'])}: {src['rows']} rows ({src['format']}, x = {src['x_name']})",
            style="bold")
        print_notes(result.notes, err=False)
        bullets([f.text for f in result.findings], styles=[styles.get(f.kind) for f in result.findings])
    for path in plots:
        say(f"plot written to {shown(path)}")


@app.command("plot")
def plot_cmd(
    run: Annotated[Path, typer.Argument(help="Run directory, a log file, or - for standard input.")],
    out: Annotated[Path, typer.Option("--out", help="PNG (or SVG/PDF) file to write.")],
    max_bytes: Annotated[int, typer.Option("--max-bytes", help=MAX_BYTES_HELP)] = DEFAULT_MAX_BYTES,
) -> None:
    """Loss and accuracy curves with the learning rate on a log twin axis."""
    from ..jobs.plot import plot_run

    watch_outputs(out)
    written = plot_run(run, out, max_bytes=max_bytes)
    from ..console import say

    say(f"plot written to {shown(written)}")


@app.command("report")
def report_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Run directories, a demo directory (step/ and onecycle/), or any "
                                                    "log explain reads (CSV, TSV, TensorBoard, HF trainer_state.json, "
                                                    "Caffe ...); several are shown side by side.",
                                               metavar="LOG_OR_RUN...")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file (default RUN/report.html for a run directory; "
                                                           "NAME-report.html in the current directory for a "
                                                           "log).")] = None,
    max_bytes: Annotated[int, typer.Option("--max-bytes", help=MAX_BYTES_HELP)] = DEFAULT_MAX_BYTES,
) -> None:
    """One self-contained HTML page: the curves with the rate, the explanation, and all a run directory holds."""
    from ..jobs.report import report_job

    watch_outputs(out)
    print(shown(report_job(runs, out, max_bytes=max_bytes)))


@app.command("forecast")
def forecast_cmd(
    logs: Annotated[list[Path], typer.Argument(help="Log(s) to fit, with a step axis and a rate (an LR column, or "
                                                    "--schedule); several are fitted jointly.", metavar="LOG...")],
    to: Annotated[list[str] | None, typer.Option("--to", help="Target: a schedule spec, or a log whose LR column "
                                                              "defines it (predicted at its own steps and compared "
                                                              "with its loss). Repeat for several.")] = None,
    loss: Annotated[str | None, typer.Option("--loss", help="Column holding the loss to fit (default: the training "
                                                            "loss).")] = None,
    law: Annotated[str, typer.Option("--law", help="auto|mpl|tissue|power|area (auto: by held-out error where the "
                                                   "data allow it, else the multi-power law after a sharp decay, "
                                                   "Tissue's after a smooth one; area: no drop at a decay, for "
                                                   "multi-epoch training whose loss heads to zero).")] = "auto",
    every: Annotated[int | None, typer.Option("--every", help="Predict a spec target every K steps (default: the "
                                                              "fitted log's spacing).")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Horizon of spec targets in steps (default: the "
                                                              "spec's total, else the fitted run's).")] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", help="The fitted run's schedule (spec, t in steps) "
                                                                    "when its log has no LR column.")] = None,
    how: Annotated[str, typer.Option("--how", help="Rate between logged rows: auto|hold|interpolate.")] = "auto",
    warmup: Annotated[int | None, typer.Option("--warmup", help="Warm-up steps before the log's first row (default: "
                                                                "a log starting after step 1 starts where its "
                                                                "warm-up ended; 0: none).")] = None,
    longer: Annotated[list[str] | None, typer.Option("--longer", help="STAGE:N: the loss after the next decay had "
                                                                      "stage STAGE run N more x units.")] = None,
    best: Annotated[str | None, typer.Option("--best", help="A family of specs with alternatives in braces, e.g. "
                                                            "\"wsd(3e-4, total=24000, decay_frac={0.1,0.2,0.3})\": "
                                                            "the lowest predicted final loss.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout (lrscope.forecast/1).")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the fitted run, each forecast with its band, "
                                                             "and the rates (PNG/SVG/PDF).")] = None,
    max_bytes: Annotated[int, typer.Option("--max-bytes", help=MAX_BYTES_HELP)] = DEFAULT_MAX_BYTES,
) -> None:
    """Forecast the loss under another schedule (or a longer stage) from a law fitted on your run (no torch)."""
    from ..jobs.forecast import forecast_job, plot_forecast_job

    watch_outputs(plot)
    if plot is not None:
        from ..outputs import FIGURE, check_output

        check_output(plot, suffixes=FIGURE, option="--plot", inputs=list(logs))
    doc = forecast_job(logs, to or (), loss=loss, law=law, every=every, steps=steps, schedule=schedule, how=how,
                       warmup=warmup, longer=longer or (), best=best, max_bytes=max_bytes)
    print_notes(doc["notes"])
    written = plot_forecast_job(doc, plot) if plot is not None else None
    if as_json:
        print_json(doc)
        return
    from ..console import say
    from ..jobs.forecast_text import forecast_lines

    for line in forecast_lines(doc):  # wrapped at spaces only: a number or a path is never broken
        say(line)
    if written is not None:
        say(f"plot written to {shown(written)}")
