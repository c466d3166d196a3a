"""A run directory from someone else: its checkpoints never run code, and a damaged one is one line (exit 2).

The hostile checkpoint is a real lrscope checkpoint with one more entry: an object whose ``__reduce__`` calls
``os.system`` to append to a marker file.  Plain unpickling runs it (the control test shows the marker appears);
every lrscope command that reads checkpoints must refuse the file without running it.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safety import assert_clean_refusal, fingerprint, refuses, run_main

torch = pytest.importorskip("torch")

from lrscope.errors import UserError  # noqa: E402
from lrscope.train import checkpoint as ckpt  # noqa: E402


class Payload:
    """Unpickling this runs ``echo ran >> MARKER`` (what a planted checkpoint would do with something worse)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo ran >> {self.marker}",))


def _checkpoints(run: Path) -> list[Path]:
    paths = sorted((run / "checkpoints").glob("epoch-*.pt"))
    assert paths, f"no checkpoints in {run}"
    return paths


def _rewrite_checkpoints(run: Path, change) -> None:
    """Apply ``change(document) -> object to save`` to every checkpoint of ``run``."""
    for path in _checkpoints(run):
        document = torch.load(path, map_location="cpu", weights_only=True)
        torch.save(change(document), path)


@pytest.fixture
def hostile_run(trained_run, tmp_path) -> tuple[Path, Path]:
    """(a copy of the trained run whose every checkpoint carries the payload, the marker it would write)."""
    run, marker = tmp_path / "evil", tmp_path / "marker"
    shutil.copytree(trained_run, run)
    _rewrite_checkpoints(run, lambda document: {**document, "payload": Payload(marker)})
    return run, marker


def test_the_payload_is_live(hostile_run):
    """Control: plain unpickling of the planted checkpoint does run the payload (so the tests below mean it)."""
    run, marker = hostile_run
    code = "import sys, torch; torch.load(sys.argv[1], weights_only=False)"
    subprocess.run([sys.executable, "-c", code, str(_checkpoints(run)[-1])], check=True, capture_output=True)
    assert marker.read_text().strip() == "ran"


READERS = [
    ("whatif", "{run}", "--to", "0.01", "--steps", "2"),
    ("landscape", "{run}", "--kind", "line", "--steps", "3", "--samples", "32", "--out", "l.png"),
    ("sharpness", "{run}", "--samples", "32", "--out", "s.png"),
    ("train", "--resume", "--out", "{run}"),
]


@pytest.mark.parametrize("command", READERS, ids=[c[0] for c in READERS])
def test_commands_that_read_checkpoints_refuse_a_planted_one(hostile_run, tmp_path, command):
    run, marker = hostile_run
    args = [part.format(run=run) for part in command]
    line = refuses(*args, inputs=[run], cwd=tmp_path, expect="will not unpickle")
    assert "safely" in line and "system" in line  # names the global it refused
    assert not marker.exists(), f"lrscope {' '.join(args)} ran the checkpoint's payload"
    assert not (tmp_path / "l.png").exists() and not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("command", [("report", "{run}", "--out", "r.html"), ("predict", "{run}", "--to", "0.01")],
                         ids=["report", "predict"])
def test_commands_that_do_not_need_checkpoints_do_not_run_them_either(hostile_run, tmp_path, command):
    run, marker = hostile_run
    before = fingerprint(run)
    result = run_main(*[part.format(run=run) for part in command], cwd=tmp_path)
    assert not marker.exists(), "the checkpoint's payload ran"
    assert result.returncode in (0, 2), result.stderr[-800:]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    after = fingerprint(run)  # report may add RUN/explain.json; what was there stays byte for byte
    assert {path: after.get(path) for path in before} == before


# ---------------------------------------------------------------- damaged checkpoints


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _wrong_bias(document):
    document["model"]["net.5.bias"] = torch.zeros(12)
    return document


def _wrong_momentum(document):
    state = document["optimizer"]["state"]
    if state:  # epoch 0 has no momentum yet
        state[max(state)]["momentum_buffer"] = torch.zeros(3, 3)
    else:
        state[5] = {"momentum_buffer": torch.zeros(3, 3)}
    return document


DAMAGED = {
    "a list": (lambda d: [d["epoch"], d["step"]], "holds a list, not a dict"),
    "no model": (lambda d: {k: v for k, v in d.items() if k != "model"}, "has no 'model' entry"),
    "epoch as text": (lambda d: {**d, "epoch": "two"}, "'epoch' must be an integer"),
    "model not tensors": (lambda d: {**d, "model": {"net.1.weight": [1, 2]}}, "not a dict of named tensors"),
    "wrong model shapes": (_wrong_bias, "net.5.bias has shape [12] in the checkpoint, [10] in the model"),
    "wrong optimizer shapes": (_wrong_momentum, "momentum_buffer has shape [3, 3] in the checkpoint"),
    "rng not restorable": (lambda d: {**d, "rng": {**d["rng"], "torch": torch.zeros(3)}}, "RNG state"),
    "truncated": (None, "damaged or not a torch checkpoint"),
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_a_damaged_checkpoint_is_one_line(trained_run, tmp_path, kind):
    change, expect = DAMAGED[kind]
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    if change is None:
        for path in _checkpoints(run):
            _truncate(path)
    else:
        _rewrite_checkpoints(run, change)
    line = refuses("whatif", run, "--to", "0.01", "--steps", "2", inputs=[run], cwd=tmp_path, expect=expect)
    assert "epoch-0002.pt" in line  # names the file


def test_a_damaged_checkpoint_refuses_resume_and_changes_nothing(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    _rewrite_checkpoints(run, _wrong_bias)
    refuses("train", "--resume", "--out", run, "--epochs", "4", inputs=[run], expect="does not fit the model")


def test_old_checkpoints_with_a_pickled_numpy_state_are_refused_with_a_reason(trained_run, tmp_path):
    """Checkpoints of older lrscope versions pickled numpy's RNG state: refused (see checkpoint.py), not run."""
    path = tmp_path / "epoch-0002.pt"
    document = torch.load(_checkpoints(trained_run)[-1], weights_only=True)
    document["rng"]["numpy"] = np.random.get_state()
    torch.save(document, path)
    with pytest.raises(UserError, match="older lrscope versions") as refused:
        ckpt.load_checkpoint(path)
    assert "numpy" in str(refused.value) and "\n" not in str(refused.value)


def test_load_checkpoint_refuses_the_payload_in_process(hostile_run):
    """The Python API refuses as the command line does (UserError), and runs nothing."""
    run, marker = hostile_run
    with pytest.raises(UserError, match="will not unpickle"):
        ckpt.load_checkpoint(_checkpoints(run)[-1])
    assert not marker.exists()


# ---------------------------------------------------------------- the RNG states round-trip exactly


def _scramble() -> None:
    random.seed(123)
    np.random.seed(456)
    torch.manual_seed(789)


def test_a_checkpoint_written_now_round_trips_the_rng_states_bitwise(tmp_path):
    model = torch.nn.Linear(3, 2)  # (its initialisation draws from torch's generator: made before the states)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    random.seed(1)
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    np.random.seed(2)
    np.random.standard_normal(3)  # and in numpy's (has_gauss = 1)
    torch.manual_seed(3)
    torch.rand(5)
    py, npy, tch = random.getstate(), np.random.get_state(), torch.get_rng_state()
    assert npy[3] == 1  # the cached-gaussian branch is exercised
    ckpt.save_checkpoint(tmp_path, epoch=1, step=5, model=model, optimizer=optimizer, config={"model": "x"})
    want = (random.random(), float(np.random.standard_normal()), torch.rand(3))

    _scramble()
    document = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path, 1))
    ckpt.set_rng_state(document["rng"])
    assert random.getstate() == py
    got = np.random.get_state()
    assert got[0] == npy[0] and got[1].dtype == npy[1].dtype and np.array_equal(got[1], npy[1])
    assert got[2:4] == npy[2:4] and np.float64(got[4]).tobytes() == np.float64(npy[4]).tobytes()
    assert torch.equal(torch.get_rng_state(), tch)
    after = (random.random(), float(np.random.standard_normal()), torch.rand(3))
    assert after[:2] == want[:2] and torch.equal(after[2], want[2])


def test_the_checkpoint_format_loads_with_torch_alone_under_weights_only(trained_run):
    """What lrscope writes needs no allowlisted global: plain torch.load(weights_only=True) reads it."""
    document = torch.load(_checkpoints(trained_run)[-1], map_location="cpu", weights_only=True)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(_checkpoints(trained_run)[-1]) == []
    assert isinstance(document["rng"]["numpy"]["key"], torch.Tensor)


def test_the_refusal_is_one_line_through_the_debugless_cli(hostile_run, tmp_path):
    """No traceback even for the Python-level UnpicklingError torch raises (the message torch gives is long)."""
    run, _ = hostile_run
    result = run_main("whatif", run, "--to", "0.01", "--steps", "2", cwd=tmp_path)
    line = assert_clean_refusal(result, expect="cannot load")
    assert "weights_only" not in line  # torch's multi-paragraph advice is not passed on


def test_the_cuda_generators_are_saved_when_cuda_is_in_use_and_restored_on_the_devices_there_are(monkeypatch,
                                                                                              tmp_path):
    """The CUDA branch of train/rng.py, on any machine: CUDA faked as initialised with two devices, then one."""
    from lrscope.train import rng

    states = [torch.arange(16, dtype=torch.uint8), torch.arange(16, 32, dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in states])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda new: restored.append([s.clone() for s in new]))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = ckpt.save_checkpoint(tmp_path, epoch=1, step=1, model=model, optimizer=optimizer, config={})
    document = ckpt.load_checkpoint(path)  # a list of byte tensors: still weights-only
    assert [torch.equal(a, b) for a, b in zip(document["rng"]["cuda"], states, strict=True)] == [True, True]
    rng.set_rng_state(document["rng"])
    assert len(restored) == 1 and len(restored[0]) == 1 and torch.equal(restored[0][0], states[0])
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)  # a CPU process never starts CUDA for it
    assert "cuda" not in rng.rng_state()
