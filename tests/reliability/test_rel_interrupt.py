"""Class 7 of the safety audit: Ctrl-C and a full disk.  An interrupted command exits 130 with one line saying
what it kept; `find` leaves no finder.json that could pass for a finished sweep; `train` interrupted or stopped by
a file-size limit (EFBIG, as on a full disk) keeps its last good checkpoint and log, and --resume finishes it."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LRSCOPE = Path(sys.executable).with_name("lrscope")
TRAIN = ["--data", "digits", "--model", "mlp", "--schedule", "multistep(0.1, milestones=[3])", "--batch-size",
         "32", "--threads", "1", "--seed", "0"]


def _start(*args, preexec=None) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("LRSCOPE_DEBUG", None)
    return subprocess.Popen([str(LRSCOPE), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=preexec)


def _wait_until(condition, process, limit=240.0):
    """Poll ``condition()`` (a hang guard, not a timing assertion); fail if the process ended first."""
    deadline = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, f"ended before the interrupt: {process.communicate()}"
        assert time.monotonic() < deadline, "the command never got there"
        time.sleep(0.05)


def _torch_loaded(process) -> bool:
    try:
        return "libtorch_cpu" in Path(f"/proc/{process.pid}/maps").read_text()
    except OSError:
        return False


def _interrupt(process) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_ctrl_c_during_find_writes_nothing(tmp_path):
    out = tmp_path / "finder"
    process = _start("find", "--data", "digits", "--model", "mlp", "--num-iter", "50000", "--out", out)
    _wait_until(lambda: _torch_loaded(process), process)
    time.sleep(1.0)  # into the sweep
    code, err = _interrupt(process)
    assert code == 130
    assert _one_line(err) == "lrscope: interrupted; nothing was written"
    assert not (out / "finder.json").exists()


def test_ctrl_c_during_train_leaves_a_run_that_resumes(tmp_path):
    run = tmp_path / "run"
    process = _start("train", *TRAIN, "--epochs", "40", "--out", run)
    _wait_until(lambda: (run / "checkpoints" / "epoch-0002.pt").exists(), process)
    code, err = _interrupt(process)
    assert code == 130
    assert _one_line(err) == (f"lrscope: interrupted; the run in {run} is consistent: continue it with "
                              f"lrscope train --resume --out {run}")
    done = subprocess.run([str(LRSCOPE), "train", "--resume", "--out", str(run)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()
              if json.loads(line).get("kind") == "epoch"]
    assert sorted(set(epochs)) == list(range(1, 41))


def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("limit", [150_000])  # epoch 0 (120 kB) fits, epoch 1 (230 kB) does not
def test_train_under_a_file_size_limit_says_no_space_and_keeps_the_last_checkpoint(tmp_path, limit):
    run = tmp_path / "run"
    process = _start("train", *TRAIN, "--epochs", "6", "--out", run, preexec=_file_size_limit(limit))
    _, err = process.communicate(timeout=600)
    assert process.returncode == 2, err
    line = _one_line(err)
    assert line.startswith("lrscope: error: no space left while writing "), line
    assert "enforce fail" not in line and "inline_container" not in line
    leftovers = [p.name for p in run.rglob(".*")]
    assert not leftovers, f"temporaries left: {leftovers}"
    done = subprocess.run([str(LRSCOPE), "train", "--resume", "--out", str(run)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sorted({r["epoch"] for r in records if r.get("kind") == "epoch"}) == list(range(1, 7))
