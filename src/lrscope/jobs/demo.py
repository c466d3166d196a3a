"""``lrscope demo``: the staircase on embedded data, in about a minute on a CPU.

Two runs of the small CNN on scikit-learn's 8x8 digits (random 1-pixel shifts, weight decay 0.02, 95 % of the
images for training), 58 epochs of batch 16 (107 steps an epoch), same budget:

- ``DIR/step``: SGD with momentum 0.9, ``multistep(0.025, milestones=[50, 55], gamma=0.25)``: an effective
  rate lr / (1 - momentum) of 0.25, then 0.0625, then 0.016.  The loss settles on a noisy plateau and falls as
  soon as the rate is cut: the noise floor lr tr(Sigma) / (4 B (1 - momentum)), a third of the loss at the
  first rate, shrinks fourfold within a few dozen steps.  Gradient noise is recorded every 4 steps
  (``noise_every``) for ``lrscope predict``: its prediction of the first fall, 0.160, is 0.81 times the
  what-if measurement and 1.04 times the run's own drop (seeds 1 and 2: 1.42 and 1.32; 0.99 and 1.03).
  Why this set-up: weight decay gives the loss a floor to bounce on (no label noise, whose few huge
  per-example losses make every loss average noisy), momentum keeps the sharp directions far from the
  stability limit (2 (1 + momentum) / lr) where the floor formula would underestimate, and a fourfold decay
  lets the floor drain within an epoch.
- ``DIR/onecycle``: 1cycle (Smith & Topin) at the same budget, stepped per batch, peak 0.025 with momentum
  cycled 0.95 -> 0.85.

Then a short table of the epochs around each decay, the explanation of the step run, and the pictures beside the
report: ``staircase.png`` (the step run's curves with its rate), ``explain.png`` and ``finder.png`` (a range test
of the step run's model and optimizer, 150 steps of batch 32, with its ``finder.json``), their paths printed.
Running it again replaces only a directory that holds its marker file (``.lrscope-demo``); anything else is refused.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

from ..atomic import write_json, write_text
from ..console import note, out_console, track
from ..errors import UserError
from ..logs.rundir import read_metrics
from ..probes.hooks import hooks_for
from ..report.html import write_demo_report
from ..train.config import TrainConfig
from ..train.data import load_data
from ..train.loop import train
from .explain import explain_run

MARKER = ".lrscope-demo"
EPOCHS = 58
BATCH = 16
COMMON = dict(
    data="digits",
    model="cnn",
    epochs=EPOCHS,
    batch_size=BATCH,
    label_noise=0.0,
    augment=True,
    weight_decay=0.02,
    val_fraction=0.05,
    seed=0,
    threads=1,
)
STEP = dict(schedule="multistep(0.025, milestones=[50, 55], gamma=0.25)", momentum=0.9, noise_every=4)
ONECYCLE_PEAK = 0.025
FINDER_STEPS = 150  # the range test: 150 steps of batch 32 from 1e-4, a few seconds beside the minute of training
FINDER_BATCH = 32  # (batch 16 over 100 steps gave a curve of noise around 2.3 with no suggestion worth showing)


def demo_configs(n_train: int) -> dict:
    """{run name: TrainConfig} of the demo (``n_train`` fixes the 1cycle length in steps)."""
    total = math.ceil(n_train / BATCH) * EPOCHS
    return {
        "step": TrainConfig(**COMMON, **STEP),
        "onecycle": TrainConfig(
            **COMMON, schedule=f"onecycle({ONECYCLE_PEAK}, total={total})", momentum=0.9, step_unit="step"
        ),
    }


def prepare_out(out: Path) -> None:
    """Create ``out``, or empty it when it is an earlier demo's output; refuse anything else."""
    if out.exists():
        if not out.is_dir():
            raise UserError(f"{out} exists and is not a directory; choose another --out")
        if any(out.iterdir()):
            if not (out / MARKER).is_file():
                raise UserError(
                    f"{out} exists and is not lrscope demo output (no {MARKER} in it); choose another --out"
                )
            for child in out.iterdir():
                if child.name != MARKER:
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {out}: {error.strerror}") from None
    write_text(out / MARKER, "lrscope demo output; `lrscope demo` may replace this directory\n")


def decay_table(rows: list[dict], around: int = 3) -> list[dict]:
    """The epoch records around each decay of the rate (``around`` epochs either side), decays flagged."""
    decays = [i for i in range(1, len(rows)) if rows[i]["lr"] < rows[i - 1]["lr"] * 0.999]
    picked: list[dict] = []
    for k in decays:
        for i in range(max(0, k - around), min(len(rows), k + around)):
            if rows[i] not in picked:
                picked.append(rows[i])
    return [dict(r, decay=(r is not rows[0] and any(r is rows[k] for k in decays))) for r in picked]


def demo_job(out: str | Path = "lrscope-demo") -> dict:
    """Train both runs into ``out``, print the table and the explanation; returns {name: run dir}."""
    out = Path(out)
    prepare_out(out)
    n_train = load_data("digits", seed=COMMON["seed"], val_fraction=COMMON["val_fraction"]).n_train
    runs = {}
    for name, config in demo_configs(n_train).items():
        note(f"demo: training {name} ({config.schedule}, {config.epochs} epochs)")
        with track(f"train {name}") as tick:
            runs[name] = train(config, out / name, hooks=hooks_for(config), progress=tick)

    console = out_console()
    rows = sorted(read_metrics(runs["step"], "epoch"), key=lambda r: r["epoch"])
    console.print("\nstep schedule: the epochs around each decay ('<' marks the first epoch at the new rate)")
    console.print(f"{'epoch':>6} {'lr':>8} {'train loss':>11} {'val loss':>9} {'val acc':>8}")
    for r in decay_table(rows):
        console.print(
            f"{r['epoch']:>6} {r['lr']:>8.3g} {r['train_loss']:>11.4f} {r['val_loss']:>9.4f} "
            f"{r['val_acc']:>8.3f} {'<' if r['decay'] else ''}",
            markup=False,
        )
    other = sorted(read_metrics(runs["onecycle"], "epoch"), key=lambda r: r["epoch"])
    console.print(
        f"\nfinal epoch: step train loss {rows[-1]['train_loss']:.4f}, val acc {rows[-1]['val_acc']:.3f}; "
        f"onecycle train loss {other[-1]['train_loss']:.4f}, val acc {other[-1]['val_acc']:.3f}",
        markup=False,
    )
    explanation = explain_run(runs["step"])
    explain_run(runs["onecycle"])  # its explain.json, so the report reads the run's own explanation
    console.print("\n" + explanation.text(), markup=False)
    note("demo: LR range test of the step run's model and optimizer")
    figures = demo_figures(out, runs, explanation, demo_configs(n_train)["step"])
    console.print(f"\nruns written to {out}/step and {out}/onecycle", markup=False)
    for name, path in figures.items():
        console.print(f"{name}: {path}", markup=False)
    console.print(f"report: {write_demo_report(out)}", markup=False)
    return runs


def demo_figures(out: Path, runs: dict, explanation, config: TrainConfig) -> dict[str, Path]:
    """The pictures a person opens first, beside the report: the step run's curves with its rate
    (``staircase.png``), its explain plot (``explain.png``) and a range test of its model and optimizer at
    the start (``finder.png``, with ``finder.json``, which the report shows); returns {what: path}."""
    from ..viz.explain import plot_explanation
    from ..viz.finder import save_finder_plot
    from .find import find_for_config
    from .plot import curves_from_run, plot_curves

    staircase = plot_curves(curves_from_run(runs["step"]), out / "staircase.png",
                            title=f"step run: {config.schedule}")
    explained = plot_explanation(explanation, out / "explain.png")
    finder = find_for_config(replace(config, batch_size=FINDER_BATCH), start_lr=1e-4, end_lr=10.0,
                             num_iter=FINDER_STEPS)
    finder_png = save_finder_plot(finder, out / "finder.png")
    write_json(out / "finder.json", finder.to_json())
    return {"staircase (loss with the rate)": staircase, "explain plot": explained, "LR range test": finder_png}
