"""The recorder: record format, fsync at each epoch, torn last lines, refusing to overwrite, trimming."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import UserError
from lrscope.logs import recorder as recorder_module
from lrscope.logs.recorder import Recorder, repair_torn_tail, trim_metrics
from lrscope.logs.rundir import CONFIG, METRICS, read_config, read_metrics


def lines(run):
    return (run / METRICS).read_text().splitlines()


def test_records_follow_the_run_directory_format(tmp_path):
    run = tmp_path / "run"
    with Recorder(run, config={"model": "m", "seed": 3}) as rec:
        rec.step(step=1, lr=0.1, loss=2.5, epoch=0.5)
        rec.step(step=2, lr=0.1, loss=float("nan"), epoch=1.0)
        rec.epoch(epoch=1, lr=0.1, train_loss=2.0, val_loss=1.9, val_acc=0.4, step=2)
    records = [json.loads(line) for line in lines(run)]
    assert [r["kind"] for r in records] == ["step", "step", "epoch"]
    assert records[0] == {"kind": "step", "step": 1, "lr": 0.1, "loss": 2.5, "epoch": 0.5}
    assert records[1]["loss"] is None  # JSON has no NaN
    assert records[2]["epoch"] == 1 and records[2]["val_acc"] == 0.4 and records[2]["step"] == 2
    config = read_config(run)
    assert config["seed"] == 3 and "lrscope" in config["versions"] and "created" in config


def test_numpy_and_torch_scalars_are_written_as_numbers(tmp_path):
    import numpy as np
    import torch

    with Recorder(tmp_path / "r") as rec:
        rec.epoch(
            epoch=1,
            lr=np.float32(0.5),
            train_loss=torch.tensor(1.25),
            val_loss=np.float64(1.0),
            val_acc=None,
            extra=np.arange(2),
        )
    (record,) = read_metrics(tmp_path / "r", "epoch")
    assert record["lr"] == 0.5 and record["train_loss"] == 1.25 and record["extra"] == [0, 1]


def test_buffered_steps_keep_the_values_of_the_call(tmp_path):
    """Steps are serialised at the next write; a tensor changed in place after the call, a NaN loss and the
    order of step and epoch records still come out as they were when recorded."""
    import torch

    run = tmp_path / "run"
    loss = torch.tensor(1.5)
    with Recorder(run) as rec:
        rec.step(step=1, lr=0.1, loss=loss, grad=torch.tensor([2.0]))
        loss.mul_(10)
        rec.step(step=2, lr=0.1, loss=float("nan"))
        rec.epoch(epoch=1, lr=0.1, train_loss=1.0)
        rec.step(step=3, lr=0.01, loss=0.5)
    records = [json.loads(line) for line in lines(run)]
    assert [(r["kind"], r.get("step")) for r in records] == [("step", 1), ("step", 2), ("epoch", None), ("step", 3)]
    assert records[0]["loss"] == 1.5 and records[0]["grad"] == 2.0 and records[1]["loss"] is None


def test_epoch_records_are_fsynced_and_steps_buffered(tmp_path, monkeypatch):
    synced = []
    real_fsync = recorder_module.os.fsync
    monkeypatch.setattr(recorder_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    rec = Recorder(tmp_path / "r", buffer_steps=100)
    for i in range(10):
        rec.step(step=i + 1, lr=0.1, loss=1.0)
    assert (tmp_path / "r" / METRICS).read_text() == ""  # buffered, not written yet
    assert synced == []
    rec.epoch(epoch=1, lr=0.1, train_loss=1.0)
    assert len(lines(tmp_path / "r")) == 11  # written to the OS before epoch() returns
    rec.wait_synced()
    assert len(synced) == 1
    rec.close()


def test_wait_mode_fsyncs_before_returning(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(recorder_module.os, "fsync", lambda fd: synced.append(fd))
    rec = Recorder(tmp_path / "r", sync="wait")
    rec.epoch(epoch=1, lr=0.1, train_loss=1.0)
    assert len(synced) == 1
    rec.close()


def test_a_directory_with_metrics_is_refused_and_untouched(tmp_path):
    run = tmp_path / "r"
    with Recorder(run, config={"a": 1}) as rec:
        rec.epoch(epoch=1, lr=0.1, train_loss=1.0)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(UserError, match="already holds a run"):
        Recorder(run, config={"a": 2})
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_append_cuts_a_torn_last_line_before_writing(tmp_path):
    run = tmp_path / "r"
    with Recorder(run) as rec:
        rec.epoch(epoch=1, lr=0.1, train_loss=1.0)
    with open(run / METRICS, "ab") as f:
        f.write(b'{"kind": "epoch", "epoch": 2, "lr": 0.')  # killed mid-write
    assert [r["epoch"] for r in read_metrics(run, "epoch")] == [1]  # the reader skips it
    with Recorder(run, mode="append") as rec:
        rec.epoch(epoch=2, lr=0.1, train_loss=0.5)
    records = [json.loads(line) for line in lines(run)]  # every line parses: nothing glued to the torn one
    assert [r["epoch"] for r in records] == [1, 2]


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=300), st.binary(min_size=1, max_size=50).filter(lambda b: b"\n" not in b))
def test_repair_keeps_exactly_the_complete_lines(tmp_path_factory, complete, torn):
    path = tmp_path_factory.mktemp("t") / "m.jsonl"
    body = complete if complete.endswith(b"\n") or not complete else complete + b"\n"
    path.write_bytes(body + torn)
    assert repair_torn_tail(path)
    assert path.read_bytes() == body
    assert not repair_torn_tail(path)


def test_trim_keeps_records_up_to_a_checkpoint(tmp_path):
    run = tmp_path / "r"
    with Recorder(run) as rec:
        step = 0
        for epoch in range(1, 4):
            for _ in range(3):
                step += 1
                rec.step(step=step, lr=0.1, loss=1.0 / step)
            rec.epoch(epoch=epoch, lr=0.1, train_loss=1.0 / epoch, step=step)
    with open(run / METRICS, "ab") as f:
        f.write(b'{"kind": "st')
    trim_metrics(run, epoch=2, step=6)
    assert [r["epoch"] for r in read_metrics(run, "epoch")] == [1, 2]
    assert [r["step"] for r in read_metrics(run, "step")] == [1, 2, 3, 4, 5, 6]
    assert (run / METRICS).read_bytes().endswith(b"\n")


def test_bad_mode_and_unwritable_place_are_user_errors(tmp_path):
    with pytest.raises(UserError):
        Recorder(tmp_path / "r", mode="overwrite")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create"):
        Recorder(blocker / "sub")


def test_disabled_recorder_writes_nothing(tmp_path):
    rec = Recorder(tmp_path / "r", config={"a": 1}, enabled=False)
    rec.step(step=1, lr=0.1, loss=math.inf)
    rec.epoch(epoch=1, lr=0.1)
    rec.close()
    assert not (tmp_path / "r").exists()
    assert not (tmp_path / CONFIG).exists()
