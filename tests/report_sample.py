"""A synthetic run directory holding every kind of result file the report reads (a fixture of the report's tests).

    write_sample_run("sample-run")     # a staircase run with explain, finder, noise and landscape results
    write_sample_run("d/onecycle", schedule="onecycle(0.4, total=20)", extras=False)   # records only

The numbers are made up to look like a piecewise-constant run (flat stages, a cliff after each tenfold decay);
the files follow the schemas the other commands write (the range test's is the real one, read off a synthetic
curve by :mod:`lrscope.analysis.finder_curve`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lrscope.analysis.finder_curve import debiased_ema, suggest
from lrscope.analysis.finder_result import Sweep, combine_sweeps
from lrscope.atomic import write_json, write_text
from lrscope.logs.rundir import CONFIG, EXPLAIN, METRICS, PROBES


def write_sample_run(
    run_dir: str | Path,
    *,
    schedule: str = "multistep(0.1, milestones=[10, 15])",
    epochs: int = 20,
    extras: bool = True,
    seed: int = 0,
) -> Path:
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    write_json(
        run / CONFIG,
        {
            "schema": "lrscope.train-config/1",
            "data": "digits",
            "model": "cnn",
            "schedule": schedule,
            "epochs": epochs,
            "batch_size": 64,
            "optimizer": "sgd",
            "momentum": 0.9,
            "seed": seed,
            "step_unit": "epoch",
        },
    )
    if schedule.startswith("multistep"):
        lr = np.where(np.arange(epochs) < 10, 0.1, np.where(np.arange(epochs) < 15, 0.01, 0.001))
    else:
        t = np.arange(epochs) / max(epochs - 1, 1)
        lr = (
            0.4 * np.where(t < 0.3, 0.04 + 0.96 * t / 0.3, 0.5 * (1 + np.cos(np.pi * (t - 0.3) / 0.7))) + 1e-4
        )
    floor = 2.0 * lr + 0.05
    train_loss = floor * (1 + 0.03 * rng.standard_normal(epochs)) + 0.4 * np.exp(-np.arange(epochs) / 2)
    val_loss = train_loss * 1.1 + 0.05
    val_acc = np.clip(1 - 0.8 * val_loss, 0, 1)
    lines, step = [], 0
    for e in range(epochs):
        for k in range(4):
            step += 1
            record = {
                "kind": "step",
                "step": step,
                "epoch": e + (k + 1) / 4,
                "lr": float(lr[e]),
                "loss": float(train_loss[e] * (1 + 0.05 * rng.standard_normal())),
            }
            if extras and k % 2 == 1:
                trace = float(6.0 * (1 + 0.2 * rng.standard_normal()))
                grad_sq = float(0.5 + 0.1 * rng.random())
                record.update(grad_sq=grad_sq, noise_trace=trace, b_simple=trace / grad_sq)
            lines.append(record)
        epoch_record = {
            "kind": "epoch",
            "epoch": e + 1,
            "step": step,
            "lr": float(lr[e]),
            "train_loss": float(train_loss[e]),
            "val_loss": float(val_loss[e]),
            "val_acc": float(val_acc[e]),
            "train_acc": float(min(1.0, val_acc[e] + 0.03)),
        }
        if extras:
            epoch_record["sharpness"] = float(min(1.9 / lr[e], 40.0 + 10 * e))
        lines.append(epoch_record)
    write_text(run / METRICS, "".join(json.dumps(r) + "\n" for r in lines))
    if not extras:
        return run
    write_json(
        run / EXPLAIN,
        {
            "schema": "lrscope.explain/1",
            "source": {
                "path": str(run),
                "format": "lrscope",
                "rows": epochs,
                "x_name": "epoch",
                "columns": {"lr": "lr", "train_loss": "train_loss"},
            },
            "events": [
                {
                    "row": 10,
                    "x": 11.0,
                    "lr_before": 0.1,
                    "lr_after": 0.01,
                    "source": "logged",
                    "confidence": 1.0,
                },
                {
                    "row": 15,
                    "x": 16.0,
                    "lr_before": 0.01,
                    "lr_after": 0.001,
                    "source": "logged",
                    "confidence": 1.0,
                },
            ],
            "drops": [
                {
                    "metric": "train_loss",
                    "row": 10,
                    "x": 11.0,
                    "before": float(train_loss[9]),
                    "after": float(train_loss[10]),
                    "relative": float(1 - train_loss[10] / train_loss[9]),
                    "event": 0,
                },
                {
                    "metric": "train_loss",
                    "row": 15,
                    "x": 16.0,
                    "before": float(train_loss[14]),
                    "after": float(train_loss[15]),
                    "relative": float(1 - train_loss[15] / train_loss[14]),
                    "event": 1,
                },
            ],
            "stages": [
                {"first_row": 0, "last_row": 9, "lr": 0.1, "plateaued": True, "tail_change": 0.001},
                {"first_row": 10, "last_row": 14, "lr": 0.01, "plateaued": True, "tail_change": 0.0005},
                {"first_row": 15, "last_row": 19, "lr": 0.001, "plateaued": False, "tail_change": -0.01},
            ],
            "findings": [
                {
                    "kind": "drop",
                    "row": 10,
                    "text": "The training loss fell 74% at epoch 11, right after the "
                    "learning rate was cut from 0.1 to 0.01: the noise floor shrank.",
                },
                {"kind": "stage", "row": 15, "text": "The last stage was still falling when the run ended."},
            ],
        },
    )
    probes = run / PROBES
    probes.mkdir(exist_ok=True)
    lrs = np.geomspace(1e-5, 3.0, 60)
    losses = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 2.5) * 2)) + np.where(lrs > 0.5, (lrs - 0.5) * 6, 0)
    write_json(probes / "finder.json", finder_document(lrs, losses))
    write_json(
        probes / "predict-e0010-to0.01.json",
        {
            "schema": "lrscope.predict/1",
            "epoch": 10,
            "lr_from": 0.1,
            "lr_to": 0.01,
            "loss_now": float(train_loss[9]),
            "predicted_drop": 0.17,
            "predicted_loss_after": float(train_loss[9]) - 0.17,
            "band": [0.14, 0.2],
        },
    )
    write_json(
        probes / "whatif-e0010-to0.01-k50.json",
        {
            "schema": "lrscope.whatif/1",
            "epoch": 10,
            "lr_from": 0.1,
            "lr_to": 0.01,
            "steps": 50,
            "loss_before": float(train_loss[9]),
            "loss_after": float(train_loss[10]),
            "observed_drop": 0.16,
            "predicted_drop": 0.17,
        },
    )
    x = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(x, x)
    np.savez(probes / "plane-e0020.npz", x=x, y=x, loss=0.2 + X**2 + 3 * Y**2 + 0.05 * np.sin(6 * X))
    write_json(
        probes / "plane-e0020.json",
        {
            "schema": "lrscope.landscape/1",
            "kind": "plane",
            "steps": 21,
            "span": 1.0,
            "normalization": "filter",
            "seed": 0,
        },
    )
    return run


def finder_document(lrs: np.ndarray, losses: np.ndarray) -> dict:
    """The ``lrscope.finder/1`` document of one sweep that recorded ``losses`` at ``lrs``."""
    found = suggest(lrs, losses)
    sweep = Sweep(lrs=lrs, losses=losses, smoothed=debiased_ema(losses, 0.98), fit=found["fit"],
                  slope=found["slope"], suggestions=found["suggestions"], range=found["range"],
                  interval=found["interval"], stopped="completed", reliable=found["reliable"])
    return combine_sweeps([sweep], list(found["notes"]), 0.0, {"start_lr": 1e-5, "end_lr": 3.0}).to_json()
