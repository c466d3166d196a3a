"""Sweeps on Ray Tune: the trials of one training run per combination of schedules, seeds (and rate scales,
batch sizes), run on a local Ray instance or on an existing cluster.  ``lrscope sweep`` (lrscope.jobs.sweep,
which says what a sweep writes) plans them here and runs them here, each trial into DIR/runs/<trial>/.

A trial that fails (a schedule that diverges, a worker that dies) is reported with ``status: "error"`` and
its one-line ``error``; the other trials still run to the end.  Ray's own files (its session directory, Tune's
result storage) live in a temporary directory that is removed afterwards, and whatever Ray prints goes to
stderr, so stdout keeps only lrscope's own output.

On a multi-node cluster (``address``) every trial writes its run directory at the same absolute path on the
node it runs on, so DIR must be on a filesystem every node shares (and lrscope installed on every node).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import UserError

SWEEP_SCHEMA = "lrscope.sweep/1"
RUNS = "runs"
CONNECT_TIMEOUT_S = 10.0

# Ray reads these at start-up: no usage reports over the network, no extra loggers in the results storage.
_RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_DEDUP_LOGS": "0",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
}


@dataclasses.dataclass(frozen=True)
class Trial:
    """One combination: its name (the run directory's), schedule spec, seed, rate scale and batch size."""

    name: str
    schedule: str
    seed: int
    lr_scale: float
    batch_size: int
    run_dir: str
    config: dict

    @property
    def label(self) -> str:
        """How the table and the plot name this trial."""
        parts = [self.schedule, f"seed {self.seed}"]
        if self.lr_scale != 1.0:
            parts.append(f"lr x{self.lr_scale:g}")
        parts.append(f"B {self.batch_size}")
        return " · ".join(parts)


# ---------------------------------------------------------------- the trials


def plan_trials(schedules, seeds, *, data: str, model: str, epochs: int, out_dir: Path,
                lr_scales=(), batch_sizes=(), **train_options: Any) -> list[Trial]:
    """Every combination of the axes, each with its validated TrainConfig (as a dict) and run directory."""
    from ..analysis.comparison import run_name
    from .config import TrainConfig

    schedules = list(schedules or [])
    if not schedules:
        raise UserError("lrscope sweep needs at least one --schedule")
    seeds = [int(s) for s in (seeds or [0])]
    scales = [float(s) for s in (lr_scales or [])] or [None]
    sizes = [int(b) for b in (batch_sizes or [])] or [None]
    for axis, values in (("--schedule", schedules), ("--seed", seeds), ("--lr-scale", scales),
                         ("--batch-size", sizes)):
        if len(set(values)) != len(values):
            raise UserError(f"{axis} is given the same value twice: {values}")
    base = {k: v for k, v in train_options.items() if v is not None}
    runs = Path(out_dir).resolve() / RUNS
    trials, names = [], set()
    for spec, seed, scale, size in itertools.product(schedules, seeds, scales, sizes):
        fields = {**base, "data": data, "model": model, "epochs": int(epochs), "schedule": spec, "seed": seed}
        if scale is not None:
            fields["lr_scale"] = scale
        if size is not None:
            fields["batch_size"] = size
        config = TrainConfig.from_dict(fields)
        config.validate()  # bad input fails here, in one line, before Ray starts
        name = f"{run_name(spec)}-seed{seed}"
        if len(scales) > 1:
            name += f"-lrx{scale:g}"
        if len(sizes) > 1:
            name += f"-b{size}"
        while name in names:
            name += "-2"
        names.add(name)
        trials.append(Trial(name=name, schedule=spec, seed=seed, lr_scale=config.lr_scale,
                            batch_size=config.batch_size, run_dir=str(runs / name), config=config.to_dict()))
    return trials


def run_trial(trial: dict) -> dict:
    """Train one trial into its run directory; never raises: a failure comes back as status "error" with its
    one-line message (the Ray worker runs this)."""
    started = time.perf_counter()
    try:
        from .config import TrainConfig
        from .loop import train

        train(TrainConfig.from_dict(trial["config"]), trial["run_dir"])  # a sweep trains without probes
        return {"status": "ok", "error": None, "time_s": time.perf_counter() - started}
    except Exception as error:  # noqa: BLE001 - every failure is the trial's result, reported, not raised
        text = " ".join(str(error).split()) or type(error).__name__
        kind = "" if isinstance(error, UserError) else f"{type(error).__name__}: "
        return {"status": "error", "error": kind + text, "time_s": time.perf_counter() - started}


def _trainable(param: dict) -> None:
    """The Ray Tune function trainable: one trial, its outcome reported as the trial's only result."""
    from ray import tune

    outcome = run_trial(param["trial"])
    tune.report({"name": param["trial"]["name"], **outcome, "ok": outcome["status"] == "ok"})


# ---------------------------------------------------------------- Ray


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A TCP connection to a ``host:port`` (or ``ray://host:port``) address within ``timeout_s``, so that
    an address that does not answer fails in bounded time instead of inside Ray's own retries."""
    if address in ("auto", "local"):
        return
    text = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"--address must be host:port, ray://host:port or auto; got {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, TimeoutError | socket.timeout):
            reason = f"no answer within {timeout_s:g} s"
        raise UserError(f"cannot reach the Ray cluster at {address} ({reason}); start it with `ray start "
                        f"--head` there, or leave out --address for a local Ray instance") from None


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to file descriptor 1 (Ray's and its subprocesses' chatter) to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int, temp_root: Path):
    """``ray.init`` quietly: a local instance (its session files under ``temp_root``) or the cluster at
    ``address``; ``ray.shutdown`` after."""
    try:
        import ray
    except ImportError:
        raise UserError("lrscope sweep needs Ray Tune: pip install 'ray[tune]'") from None
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)
    if address:
        check_address(address)
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                   configure_logging=True, ignore_reinit_error=True)
    if not address or address == "local":
        options.update(num_cpus=num_cpus, _temp_dir=str(temp_root / "ray"))
    try:
        ray.init(address=None if address == "local" else address, **options)
    except Exception as error:  # noqa: BLE001 - Ray fails to connect or start in many ways
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise UserError(f"cannot start or join {where}: {' '.join(str(error).split())[:300]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def run_tune(trials: list[Trial], *, cpus_per_trial: float, max_concurrent: int, storage: Path) -> dict:
    """Run the trials with Ray Tune; {trial name: outcome dict}."""
    from ray import tune

    tuner = tune.Tuner(
        tune.with_resources(_trainable, {"cpu": cpus_per_trial}),
        param_space={"trial": tune.grid_search([dataclasses.asdict(t) for t in trials])},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=False),
        run_config=tune.RunConfig(name="lrscope-sweep", storage_path=str(storage), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0, fail_fast=False)),
    )
    grid = tuner.fit()
    outcomes = {}
    for i in range(len(grid)):
        result = grid[i]
        name = (result.config or {}).get("trial", {}).get("name")
        metrics = result.metrics or {}
        if result.error is not None or "status" not in metrics:
            error = result.error
            text = " ".join(str(error).split()) if error is not None else "the trial reported nothing"
            outcomes[name] = {"status": "error", "error": f"{type(error).__name__}: {text[-300:]}",
                              "time_s": metrics.get("time_total_s")}
        else:
            outcomes[name] = {k: metrics.get(k) for k in ("status", "error", "time_s")}
    return outcomes
