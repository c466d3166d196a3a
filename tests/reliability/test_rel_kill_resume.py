"""Kill ``lrscope train`` with SIGKILL and ``--resume`` it: the result equals an uninterrupted run, bit for bit.

Each trial kills a tiny run (an MLP on digits, 4 epochs, 5 checkpoints, CPU, one thread, fixed seed) once or
twice, either at an injected point (``killdriver.py``: after a random step, in the middle of a metrics write, in
the middle of a checkpoint write, between an epoch's record and its checkpoint, while writing config.json, during
the resume's own rewrite of metrics.jsonl) or at a random moment of a plain ``lrscope train`` process.  Then
``lrscope train --resume`` runs to the end, and we check:

- right after the kill: every epoch whose record was acknowledged (``Recorder.epoch`` returned) is in
  metrics.jsonl, and every ``checkpoints/epoch-NNNN.pt`` loads (none half-written under its final name);
- after the resume: metrics.jsonl is every line of the uninterrupted run's, in order, once (timing fields
  aside), with no torn or duplicated line; every checkpoint's weights, optimizer state and RNG states are
  bitwise those of the uninterrupted run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import faultlib
import pytest
import runcheck as rc

pytest.importorskip("torch")

FAULT = "Kill and resume (SIGKILL, then train --resume)"
INJECTED = ("step", "write", "ckpt", "pre-ckpt", "config", "trim")


def _plan(reduced: int, full: int) -> list[tuple]:
    """Kill points: (how, fault, n, fraction, second) for each trial, drawn from the suite's seed."""
    r = faultlib.rng("kill-resume")
    total = faultlib.trials(reduced, full)
    plans = []
    # the reduced form always tries the three that matter most: a checkpoint write, a torn metrics line, a
    # random moment of the real command
    fixed = [("inject", "ckpt", 3, 0.5, None), ("inject", "write", 2, 0.6, None), ("time", None, 0, 0.0, None)]
    for i in range(total):
        if i < len(fixed) and not faultlib.FULL:
            plans.append(fixed[i])
            continue
        how = "time" if i % 3 == 2 else "inject"
        fault = r.choice(INJECTED[:-1])  # "trim" only as a second fault, below
        n = {
            "step": r.randint(1, rc.EPOCHS * rc.STEPS_PER_EPOCH - 1),
            "write": r.randint(1, rc.EPOCHS),
            "ckpt": r.randint(1, rc.EPOCHS + 1),
            "pre-ckpt": r.randint(2, rc.EPOCHS + 1),
            "config": 1,
        }[fault]
        second = None
        if r.random() < 0.3:  # kill the resume too
            second = ("trim", 1, r.random()) if r.random() < 0.5 else ("step", 0, 0.0)
        plans.append((how, fault, n, round(r.random(), 4), second))
    return plans


PLANS = _plan(3, 24)
LEFT_BEHIND: list[list[str]] = []  # hidden temporary files found after each resume of a killed checkpoint write


@pytest.mark.parametrize("plan", PLANS, ids=[f"{i}-{p[0]}-{p[1] or 'sigkill'}-{p[2]}" for i, p in enumerate(PLANS)])
def test_kill_and_resume_equals_uninterrupted(plan, tiny_reference, tmp_path):
    ref, training_s = tiny_reference
    how, fault, n, fraction, second = plan
    run, ack = tmp_path / "run", tmp_path / "ack"
    with faultlib.trial(FAULT, faultlib.command_for("test_rel_kill_resume.py")):
        if how == "inject":
            killed = rc.driver(fault, n, fraction, ack, run)
            assert killed.returncode == -signal.SIGKILL, f"the fault did not fire: {killed.returncode} {killed.stderr}"
        else:
            delay = (
                faultlib.rng(f"kill-resume-time-{n}-{fraction}").uniform(0.0, training_s)
                if fraction
                else (0.5 * training_s)
            )
            process = subprocess.Popen(
                [str(faultlib.LRSCOPE), "train", *rc.ARGS, "--out", str(run)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 120
            while not (run / "metrics.jsonl").exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait()
        rc.after_kill(run, ack)
        if second is not None:
            kind, _, frac = second
            at = rc.epochs_on_disk(run)
            step_n = (max(at, default=0) + 1) * rc.STEPS_PER_EPOCH - 7
            again = rc.driver(kind, step_n if kind == "step" else 1, frac, ack, run, "--resume")
            assert again.returncode in (-signal.SIGKILL, 0), again.stderr
            rc.after_kill(run, ack)
        resumed = rc.train(run, "--resume")
        assert resumed.returncode == 0, f"--resume failed: {resumed.stderr}"
        rc.same_run(run, ref)
    if fault == "ckpt":
        LEFT_BEHIND.append([p.name for p in run.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")])


def test_resume_of_a_finished_run_changes_nothing(tiny_reference, tmp_path):
    """--resume on a complete run: nothing retrained, nothing appended, every record kept."""
    ref, _ = tiny_reference
    run = tmp_path / "run"
    with faultlib.trial("Resume of a finished run", faultlib.command_for("test_rel_kill_resume.py", "finished")):
        shutil.copytree(ref, run)
        before = rc.lines(run)
        again = rc.train(run, "--resume")
        assert again.returncode == 0, again.stderr
        assert rc.lines(run) == before
        rc.same_run(run, ref)


def test_resume_removes_temporary_files_of_a_killed_write(tiny_reference, tmp_path):
    """Temporaries of killed atomic writes (checkpoint, metrics, config) are gone after --resume; dot-files stay."""
    ref, _ = tiny_reference
    run = tmp_path / "run"
    shutil.copytree(ref, run)
    stale = [run / "checkpoints" / ".epoch-0002.pt.k3j_9x0a.tmp", run / ".config.json.abcdefgh.tmp",
             run / ".metrics.jsonl.0a1b2c3d.tmp"]
    for path in stale:
        path.write_bytes(b"half a write")
    keep = run / ".user-notes"
    keep.write_text("mine")
    again = rc.train(run, "--resume")
    assert again.returncode == 0, again.stderr
    assert not [p.name for p in stale if p.exists()]
    assert keep.read_text() == "mine"
    found = [name for names in LEFT_BEHIND for name in names]
    assert not found, f"temporary files left behind after resuming killed runs: {sorted(set(found))}"


@pytest.mark.skipif(not faultlib.FULL, reason="full form only (LRSCOPE_FULL_RELIABILITY=1)")
def test_driver_without_fault_matches_the_command(tiny_reference, tmp_path):
    """The driver itself changes nothing: a run through it equals the plain command's run."""
    ref, _ = tiny_reference
    run = tmp_path / "run"
    done = rc.driver("none", 0, 0.0, tmp_path / "ack", run)
    assert done.returncode == 0, done.stderr
    assert rc.acknowledged(tmp_path / "ack") == set(range(1, rc.EPOCHS + 1))
    rc.same_run(run, ref)
