"""Data-parallel training: the split of a global batch, backends, the torchrun launcher, 2 CPU processes
against one process with the doubled batch, resume under DDP, and gradient noise measured under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lrscope.errors import UserError
from lrscope.train import distributed as D

TORCHRUN = Path(sys.executable).with_name("torchrun")
LRSCOPE = Path(sys.executable).with_name("lrscope")
# 199 training examples: with 16 per rank the last global batch holds 7 (4 + 3), with 1 example over (241)
# the second rank's share of the last batch is empty
UNEVEN = ["--data", "synthetic:n=249,dim=8,classes=3", "--model", "mlp", "--epochs", "3", "--seed", "0",
          "--schedule", "multistep(0.2, milestones=[2])", "--threads", "1"]


def epoch_records(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == "epoch"]


def run(cmd, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("LRSCOPE_DEBUG", None)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, env=env, **kw)


# ---------------------------------------------------------------- the split of a global batch (one process)


def test_alone_everything_is_a_no_op():
    ctx = D.DistContext()
    model = nn.Linear(3, 2)
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1])
    loss_fn = nn.CrossEntropyLoss()
    assert ctx.wrap(model) is model
    assert torch.equal(ctx.batch_loss(loss_fn, model(x), y, 5), loss_fn(model(x), y))
    assert ctx.sum(1, 2.5) == (1.0, 2.5) and ctx.mean(0.25) == 0.25 and ctx.is_main and not ctx.active


def test_global_batches_cover_the_epoch_exactly():
    ctx = D.DistContext(rank=1, world_size=3)
    sizes = [ctx.global_batch_size(100, 16, i) for i in range(3)]
    assert sizes == [48, 48, 4] and ctx.global_batch_size(100, 16, 3) == 0


@given(n=st.integers(1, 23), world=st.integers(2, 4), seed=st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_scaled_rank_losses_average_to_the_global_mean_gradient(n, world, seed):
    """The mean over ranks of each rank's gradient of batch_loss is the gradient of the global batch's mean
    loss, however unevenly loop.epoch_batches splits the batch (down to empty shares)."""
    torch.manual_seed(seed)
    model = nn.Linear(4, 3)
    x, y = torch.randn(n, 4), torch.randint(0, 3, (n,))
    loss_fn = nn.CrossEntropyLoss()
    want = torch.autograd.grad(loss_fn(model(x), y), list(model.parameters()))
    share = -(-n // world)
    total = [torch.zeros_like(p) for p in model.parameters()]
    for rank in range(world):
        xs, ys = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]
        loss = D.DistContext(rank=rank, world_size=world).batch_loss(loss_fn, model(xs), ys, n)
        for t, g in zip(total, torch.autograd.grad(loss, list(model.parameters())), strict=True):
            t += g / world
    for a, b in zip(total, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- backends and launching


def test_without_torchrun_no_group_is_joined(monkeypatch):
    for name in D.ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(D, "_CONTEXT", {})
    ctx = D.init_distributed()
    assert ctx == D.DistContext() and not torch.distributed.is_initialized()


def test_a_missing_backend_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_gloo_available", lambda: False)
    monkeypatch.delenv(D.BACKEND_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="backend 'gloo' is not available"):
        D.choose_backend()
    monkeypatch.setenv(D.BACKEND_ENV, "nccl")
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: True)
    with pytest.raises(UserError, match="nccl backend needs CUDA"):
        D.choose_backend()
    with pytest.raises(UserError, match="unknown torch.distributed backend"):
        D.choose_backend("carrier-pigeon")


def test_the_launcher_command_drops_nproc_and_refuses_nesting(monkeypatch):
    cmd = D.torchrun_command(3, ["train", "--nproc", "3", "--data", "digits", "--nproc=3", "--out", "R"])
    assert cmd[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3", "-m", "lrscope",
                       "train", "--data", "digits", "--out", "R"]
    with pytest.raises(UserError, match="--nproc must be an integer >= 1"):
        D.launch(0, [])
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match="already run by torchrun"):
        D.launch(2, [])


def test_the_launcher_keeps_one_line_per_error_and_drops_torchrun_noise():
    errors = D._LauncherErrors()
    lines = ["W1128 17:06:59.442000 5452 torch/distributed/run.py:874] Setting OMP_NUM_THREADS\n",
             "[W1129 02:24:27.123456 811 torch/csrc/distributed/c10d/socket.cpp:462] [c10d] client socket retry\n",
             "[rank1]:[W1129 02:24:27.5 812 torch/csrc/distributed/c10d/ProcessGroupGloo.cpp:71] peer closed\n",
             "lrscope: error: R already exists\n", "lrscope: internal error: RuntimeError: closed by peer\n",
             "lrscope: error: R already existslrscope: error: R already exists\n", "a rank's own message\n",
             "Traceback (most recent call last):\n", "  File torchrun\n", "ChildFailedError:\n"]
    shown = [errors.filter(line) for line in lines]
    assert [s for s in shown if s] == ["a rank's own message\n"]
    assert errors.summary() == ["lrscope: error: R already exists\n"]


# A rank that joined a group leaves without interpreter finalization (torch's gloo workers may still drop a
# finished all-reduce then, and taking the GIL during finalization aborts the process): the command's output
# arrives and its exit code holds, while an atexit handler (run by finalization) never runs.
RANK_EXIT = """
import atexit, sys
from lrscope import cli
from lrscope.train import distributed as D
atexit.register(lambda: print("finalized", flush=True))
D._CONTEXT["ctx"] = D.DistContext(rank=0, world_size=2)
print("before", end="")
cli.main(sys.argv[1:])
"""


@pytest.mark.parametrize(("argv", "code", "out", "err"), [
    (["schedule", "constant(0.5)", "--steps", "2", "--json"], 0, "before[0.5, 0.5]", ""),
    (["schedule", "nonsense(", "--steps", "2"], 2, "before", "lrscope: error:"),
])
def test_a_rank_leaves_without_finalization_after_flushing(argv, code, out, err):
    result = run([sys.executable, "-c", RANK_EXIT, *argv])
    assert result.returncode == code, result.stderr
    assert result.stdout.replace("\n", "").replace(" ", "") == out.replace(" ", "")
    assert result.stderr.startswith(err) and "finalized" not in result.stdout


def test_exit_process_reads_the_code_as_system_exit_does():
    for code, status, err in ((None, 0, ""), (3, 3, ""), ("bye", 1, "bye\n")):
        result = run([sys.executable, "-c", f"from lrscope.train.distributed import exit_process; "
                                           f"exit_process({code!r})"])
        assert (result.returncode, result.stderr) == (status, err)


# ---------------------------------------------------------------- 2 processes under torchrun (CPU, gloo)


@pytest.fixture(scope="module")
def ddp_and_single(tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp")
    ddp = run([TORCHRUN, "--standalone", "--nproc_per_node=2", "-m", "lrscope", "train", *UNEVEN,
               "--batch-size", "16", "--out", base / "ddp"])
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    one = run([LRSCOPE, "train", *UNEVEN, "--batch-size", "32", "--out", base / "one"])
    assert one.returncode == 0, one.stderr[-2000:]
    return base, ddp


def test_two_processes_follow_one_process_with_the_doubled_batch(ddp_and_single):
    base, ddp = ddp_and_single
    a, b = epoch_records(base / "ddp"), epoch_records(base / "one")
    assert [r["epoch"] for r in a] == [1, 2, 3]  # one writer: no duplicated records
    assert ddp.stdout.count("run written to") == 1
    for x, y in zip(a, b, strict=True):
        assert x["step"] == y["step"] == x["epoch"] * 7  # 199 examples in global batches of 32
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            assert x[key] == pytest.approx(y[key], rel=1e-4), key
    steps = [json.loads(line) for line in (base / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert len([s for s in steps if s["kind"] == "step"]) == 21
    config = json.loads((base / "ddp" / "config.json").read_text())
    assert config["distributed"] == {"world_size": 2, "backend": "gloo", "global_batch": 32}


def test_resume_under_ddp_with_the_nproc_shortcut_continues_exactly(ddp_and_single, tmp_path):
    base, _ = ddp_and_single
    first = [*UNEVEN[:4], "--epochs", "2", *UNEVEN[6:]]
    r1 = run([LRSCOPE, "train", "--nproc", "2", *first, "--batch-size", "16", "--out", tmp_path / "r"])
    assert r1.returncode == 0, r1.stderr[-2000:]
    assert [r["epoch"] for r in epoch_records(tmp_path / "r")] == [1, 2]
    r2 = run([LRSCOPE, "train", "--nproc", "2", *UNEVEN, "--batch-size", "16", "--out", tmp_path / "r", "--resume"])
    assert r2.returncode == 0, r2.stderr[-2000:]
    resumed, straight = epoch_records(tmp_path / "r"), epoch_records(base / "ddp")
    assert [r["epoch"] for r in resumed] == [1, 2, 3]
    for x, y in zip(resumed, straight, strict=True):
        assert (x["train_loss"], x["val_loss"]) == (y["train_loss"], y["val_loss"]), (x, y, r2.stderr[-2000:])
    again = run([LRSCOPE, "train", "--nproc", "2", *UNEVEN, "--batch-size", "16", "--out", tmp_path / "r"])
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"lrscope: error: {tmp_path / 'r'} already exists; use --resume to continue that run, or choose a new --out"]


def test_noise_under_ddp_uses_the_rank_and_global_batches(tmp_path):
    """--noise-every under torchrun: measured on every rank (per-rank batch 16, global 32), written once."""
    out = tmp_path / "noisy"
    result = run([TORCHRUN, "--standalone", "--nproc_per_node=2", "-m", "lrscope", "train", *UNEVEN,
                  "--batch-size", "16", "--noise-every", "2", "--out", out])
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    measured = [r for r in rows if r["kind"] == "step" and "noise_trace" in r]
    # every 2nd step, except where the next batch is an epoch's short last one (after steps 6 and 20)
    assert [r["step"] for r in measured] == [2, 4, 8, 10, 12, 14, 16, 18]
    assert all(r["noise_batch"] == 32 and r["noise_groups"] == 2 and r["noise_trace"] > 0 for r in measured)
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3] and all(r["noise_n"] >= 2 for r in epochs)
