"""`lrscope train` from the command line: bad input, refusals, divergence, kill -9 and resume, python -m;
and `lrscope plot` of a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lrscope.errors import UserError
from lrscope.logs.rundir import METRICS, read_metrics
from lrscope.train.config import TrainConfig
from lrscope.train.loop import train

from .tiny import TINY, all_records, epochs_without_time


def test_plot_writes_a_png(tmp_path):
    from lrscope.analysis.events import rate_changes
    from lrscope.jobs.plot import plot_run

    run = train(TrainConfig(**TINY), tmp_path / "run")
    out = plot_run(run, tmp_path / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rate_changes(np.array([0.1, 0.1, 0.01, 0.01, 0.1]), rtol=1e-9).tolist() == [2, 4]


def test_cli_bad_input_exits_2_with_one_line(cli, tmp_path):
    base = ["train", "--schedule", "constant(0.1)", "--epochs", "1"]
    for extra, match in [
        (["--data", "imagenet", "--model", "mlp"], "unknown data set"),
        (["--data", "digits", "--model", "mlp", "--schedule", "constnt(0.1)"], "constant"),
    ]:
        result = cli(*base, *extra, "--out", tmp_path / "x")
        assert result.returncode == 2, result.stderr
        assert match in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(model="vgg"), "unknown model"),
        (dict(data="npz:/no/where.npz"), "does not exist"),
        (dict(optimizer="lion"), "optimizer must be"),
        (dict(epochs=0), "epochs must be"),
        (dict(schedule=None), "needs --schedule"),
        (dict(nesterov=True, momentum=0.0), "--nesterov"),
    ],
)
def test_bad_options_are_user_errors_and_create_nothing(tmp_path, options, match):
    from lrscope.jobs.train import train_job

    given = {"data": "digits", "model": "mlp", "schedule": "constant(0.1)", "epochs": 1, **options}
    with pytest.raises(UserError, match=match):
        train_job(given, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_refuses_an_existing_directory_and_touches_nothing(cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()}
    result = cli(
        "train",
        "--data",
        "digits",
        "--model",
        "mlp",
        "--schedule",
        "constant(0.1)",
        "--epochs",
        "1",
        "--out",
        run,
    )
    assert result.returncode == 2 and "--resume" in result.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()} == before


def test_cli_nan_exits_2(cli, tmp_path):
    result = cli(
        "train",
        "--data",
        TINY["data"],
        "--model",
        "mlp",
        "--schedule",
        "constant(1e9)",
        "--momentum",
        "0",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--out",
        tmp_path / "run",
    )
    assert result.returncode == 2 and "diverged" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "run" / METRICS).exists()


def test_sigkill_mid_run_then_resume_matches(cli, tmp_path):
    """A real kill -9 of the command line while it trains, then --resume: the epoch records are the same."""
    args = [
        "train",
        "--data",
        "digits",
        "--model",
        "mlp",
        "--schedule",
        "multistep(0.05, milestones=[4])",
        "--epochs",
        "6",
        "--batch-size",
        "32",
        "--threads",
        "1",
    ]
    train(
        TrainConfig(
            data="digits",
            model="mlp",
            schedule="multistep(0.05, milestones=[4])",
            epochs=6,
            batch_size=32,
            threads=1,
        ),
        tmp_path / "ref",
    )  # in-process: the same bits as the CLI
    lrscope = os.path.join(os.path.dirname(sys.executable), "lrscope")
    proc = subprocess.Popen(
        [lrscope, *args, "--out", str(tmp_path / "k")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(read_metrics(tmp_path / "k", "epoch")) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(read_metrics(tmp_path / "k", "epoch"))
    resumed = cli(*args, "--out", tmp_path / "k", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert 1 <= done <= 6
    assert epochs_without_time(tmp_path / "k") == epochs_without_time(tmp_path / "ref")
    assert all_records(tmp_path / "k") == all_records(tmp_path / "ref")


def test_python_dash_m_lrscope_train_works(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lrscope",
            "train",
            "--data",
            TINY["data"],
            "--model",
            "mlp",
            "--schedule",
            "constant(0.05)",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(read_metrics(tmp_path / "run", "epoch")) == 1
