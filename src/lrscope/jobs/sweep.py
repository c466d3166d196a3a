"""``lrscope sweep``: one training run per combination of schedules, seeds (and rate scales, batch sizes), run
as trials of Ray Tune (:mod:`lrscope.train.sweep`) on a local Ray instance or on an existing cluster.

    sweep_job(["multistep(0.1, milestones=[3])", "onecycle(0.2, total=4)"], seeds=[0, 1],
              data="digits", model="mlp", epochs=4, out_dir="sweeps/s1")

writes

    DIR/runs/<trial>/            one run directory per trial (``lrscope.train.loop.train``)
    DIR/sweep.json               {"schema": "lrscope.sweep/1", "trials": [{name, schedule, seed, lr_scale,
                                  batch_size, status, error, final, best, run_dir, time_s}, ...]}
    DIR/compare.json/.md/.png    the table and overlay plot of ``lrscope compare`` over the trials that finished

A trial that fails (a schedule that diverges, a worker that dies) is reported with ``status: "error"`` and
its one-line ``error``; the other trials still run to the end.

Your own ``--model``/``--data`` (``PKG.MODULE:FACTORY``) are built once here before Ray starts, so a factory that
fails is one line before any trial; then every trial's worker imports them again (a local Ray instance finds a
module in this directory; on a cluster, ``--address``, it must be importable on every node).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..analysis.comparison import summarise_runs
from ..atomic import write_json
from ..console import note, track
from ..errors import UserError
from ..logs.rundir import list_checkpoints
from ..outputs import check_output_dir
from ..train.config import TrainConfig, data_and_model
from ..train.factories import is_factory
from ..train.sweep import (
    RUNS,
    SWEEP_SCHEMA,
    Trial,
    check_address,
    plan_trials,
    ray_session,
    run_tune,
    stdout_to_stderr,
)
from .compare import write_comparison


def sweep_job(schedules, seeds=(0,), *, data: str, model: str, epochs: int, out_dir: str | Path,
              address: str | None = None, lr_scales=(), batch_sizes=(), cpus_per_trial: float = 1.0,
              num_cpus: int | None = None, max_concurrent: int | None = None, **train_options: Any) -> Path:
    """Run one trial per combination of ``schedules`` x ``seeds`` (x ``lr_scales`` x ``batch_sizes`` when
    given) with Ray Tune; write DIR/sweep.json and the comparison; return the path of sweep.json.

    ``train_options``: further TrainConfig fields shared by every trial (optimizer, momentum, ...).
    ``num_cpus``: size of the local Ray instance (default: the CPUs this machine has, at most what the trials
    can use); ignored with ``address``.
    """
    out = check_output_dir(out_dir).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} already exists and is not empty; choose a new directory")
    if not (cpus_per_trial > 0 and math.isfinite(cpus_per_trial)):
        raise UserError(f"--cpus-per-trial must be > 0; got {cpus_per_trial}")
    trials = plan_trials(schedules, seeds, data=data, model=model, epochs=epochs, out_dir=out,
                         lr_scales=lr_scales, batch_sizes=batch_sizes, **train_options)
    if is_factory(data, "--data") or is_factory(model, "--model"):  # fail here, in one line, not in every trial
        data_and_model(TrainConfig.from_dict(trials[0].config))
    wanted = max(1, math.ceil(len(trials) * cpus_per_trial))
    if num_cpus is None:
        num_cpus = min(os.cpu_count() or 1, wanted)
    if num_cpus < cpus_per_trial:
        raise UserError(f"--num-cpus {num_cpus} is fewer than --cpus-per-trial {cpus_per_trial}")
    concurrent = max_concurrent or max(1, int(num_cpus // cpus_per_trial))
    if address:
        check_address(address)  # before anything is written
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    note(f"sweep: {len(trials)} trial{'s' if len(trials) != 1 else ''} on {where}")
    temp_root = Path(tempfile.mkdtemp(prefix="lrscope-ray-"))
    try:
        with stdout_to_stderr(), ray_session(address, num_cpus, temp_root), track("sweep") as tick:
            (out / RUNS).mkdir(parents=True, exist_ok=True)
            with watching(trials, tick):
                outcomes = run_tune(trials, cpus_per_trial=cpus_per_trial, max_concurrent=concurrent,
                                    storage=temp_root / "results")
    finally:
        shutil.rmtree(temp_root, ignore_errors=True)
    return write_sweep(out, trials, outcomes)


@contextlib.contextmanager
def watching(trials: list[Trial], progress, every: float = 0.5):
    """While the block runs, ``progress(epochs done, epochs in all, status)`` every ``every`` seconds from the
    checkpoints in the trials' run directories (a Ray Tune callback would be pickled with the tuner; a count of
    files needs nothing from the trials).  On a cluster whose nodes do not share --out it stays at 0."""
    total = sum(int(t.config["epochs"]) for t in trials)

    def tell() -> None:
        done = [max(list_checkpoints(t.run_dir), default=0) for t in trials]
        finished = sum(d >= int(t.config["epochs"]) for d, t in zip(done, trials, strict=True))
        progress(sum(done), total, f"{finished} of {len(trials)} trials finished")

    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every):
            tell()

    thread = threading.Thread(target=poll, name="lrscope-sweep-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        tell()


def write_sweep(out: Path, trials: list[Trial], outcomes: dict) -> Path:
    """DIR/sweep.json plus the comparison (table, overlay plot) of the trials that finished."""
    entries, rows = [], []
    for trial in trials:
        outcome = dict(outcomes.get(trial.name) or {"status": "error", "error": "Ray did not run this trial"})
        row = None
        if outcome.get("status") == "ok":
            if Path(trial.run_dir, "metrics.jsonl").is_file():
                row = summarise_runs([trial.run_dir])[0]
            else:
                outcome = {**outcome, "status": "error",
                           "error": f"the trial finished but {trial.run_dir} is not visible here: on a "
                                    "multi-node cluster --out must be on a filesystem every node shares"}
        entries.append({
            "name": trial.name,
            "schedule": trial.schedule,
            "seed": trial.seed,
            "lr_scale": trial.lr_scale,
            "batch_size": trial.batch_size,
            "status": outcome.get("status"),
            "error": outcome.get("error"),
            "final": _final(row),
            "best": _best(row),
            "run_dir": trial.run_dir,
            "time_s": outcome.get("time_s"),
        })
        if row is not None:
            rows.append({**row, "spec": trial.label, "schedule": trial.label})
    if rows:
        write_comparison(out, rows)
    path = out / "sweep.json"
    write_json(path, {"schema": SWEEP_SCHEMA, "out": str(out), "trials": entries})
    return path


def _final(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {"epoch": row["epochs"], "val_loss": row["final_val_loss"], "val_acc": row["final_val_acc"],
            "train_loss": row["final_train_loss"]}


def _best(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {"val_acc": row["best_val_acc"], "epoch": row["best_epoch"], "val_loss": row["best_val_loss"]}


def sweep_table(document: dict) -> str:
    """The trials as lines of text: status, final and best validation accuracy, the error if any."""
    lines = []
    for t in document["trials"]:
        if t["status"] == "ok":
            f, b = t["final"], t["best"]
            lines.append(f"ok     {t['name']}: final val acc {f['val_acc']:.4f}, loss {f['val_loss']:.4f}; "
                         f"best val acc {b['val_acc']:.4f} (epoch {b['epoch']})")
        else:
            lines.append(f"error  {t['name']}: {t['error']}")
    return "\n".join(lines) + "\n"
