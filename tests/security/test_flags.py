"""Classes 5 and 8 of the safety audit: absurd numbers on every command are one line naming the range (exit 2),
never a hang, a crash, MemoryError or OverflowError; what torch accepts as a seed, lrscope accepts."""

from __future__ import annotations

import json

import pytest
from safety import refuses, run_main

TRAIN = ["train", "--data", "digits", "--model", "mlp", "--schedule", "constant(0.1)", "--epochs", "1",
         "--threads", "1"]
HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["train", "--data", "digits", "--model", "mlp", "--schedule", "constant(0.1)", "--epochs", HUGE],
         "--epochs must be an integer from 1 to"),
        ([*TRAIN, "--threads", "100000"], "--threads must be an integer from 0 to"),
        ([*TRAIN, "--seed", "123456789012345678901"], "--seed must be an integer from -9223372036854775808"),
        ([*TRAIN, "--seed", "-9223372036854775809"], "--seed must be"),
        ([*TRAIN, "--lr-scale", "1e308"], "--lr-scale must be a finite number"),
        ([*TRAIN, "--lr-scale", "nan"], "must be a finite number"),
        ([*TRAIN, "--batch-size", "0"], "--batch-size must be"),
        ([*TRAIN, "--momentum", "1.5"], "--momentum must be"),
        ([*TRAIN, "--label-noise", "-0.1"], "--label-noise must be"),
        ([*TRAIN, "--val-fraction", "1"], "--val-fraction must be"),
        ([*TRAIN, "--keep", "-1"], "--keep must be"),
        (["train", "--data", "synthetic:n=999999999999", "--model", "mlp", "--schedule", "constant(0.1)",
          "--epochs", "1"], "synthetic n must be an integer from 4 to"),
        (["train", "--data", "synthetic:n=50000000,dim=100000", "--model", "mlp", "--schedule", "constant(0.1)",
          "--epochs", "1"], "memory"),
        (["find", "--data", "digits", "--model", "mlp", "--num-iter", "100000000000"], "num_iter must be"),
        (["find", "--data", "digits", "--model", "mlp", "--start-lr", "1e-400"], "start_lr must be"),
        (["find", "--data", "digits", "--model", "mlp", "--repeats", "1000000"], "repeats must be"),
        (["find", "--data", "digits", "--model", "mlp", "--seed", HUGE], "--seed must be"),
        (["toy", "quadratic", "--lrs", ",,,"], "--lrs expects numbers"),
        (["toy", "quadratic", "--lrs", ""], "--lrs expects numbers"),
        (["toy", "quadratic", "--lrs", "1e999"], "rate of --lrs must be"),
        (["toy", "quadratic", "--frames", "100000000"], "--frames must be"),
        (["toy", "quadratic", "--seed", HUGE], "--seed must be"),
        (["schedule", "constant(0.1)", "--steps", HUGE], "--steps must be"),
    ],
)
def test_absurd_numbers_are_one_clear_line(tmp_path, args, expect):
    out = tmp_path / "out"
    if args[0] in ("train", "find"):
        args = [*args, "--out", out]
    elif args[0] == "toy":
        args = [*args, "--out", tmp_path / "t.gif"]
    refuses(*args, inputs=[tmp_path], expect=expect)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["whatif", "{run}", "--to", "0.01", "--steps", "1000000000000"], "--steps must be"),
        (["whatif", "{run}", "--to", "1e308"], "--to must be"),
        (["whatif", "{run}", "--to", "0.01", "--steps", "4", "--window", "9"], "--window must be"),
        (["landscape", "{run}", "--steps", "100000", "--out", "{tmp}/l.png"], "steps must be an integer from 2"),
        (["landscape", "{run}", "--kind", "line", "--span", "1e300", "--out", "{tmp}/l.png"], "span must be"),
        (["landscape", "{run}", "--samples", HUGE, "--out", "{tmp}/l.png"], "samples must be"),
        (["sharpness", "{run}", "--k", "1000000000", "--out", "{tmp}/s.png"], "--k must be"),
        (["predict", "{run}", "--to", "-1"], "--to must be"),
        (["predict", "{run}", "--to", "0.01", "--at", "0"], "--at"),
    ],
)
def test_probe_flags_are_bounded(trained_run, tmp_path, args, expect):
    args = [part.format(run=trained_run, tmp=tmp_path) for part in args]
    refuses(*args, inputs=[trained_run], expect=expect)


def test_every_seed_torch_accepts_works(tmp_path):
    """torch.manual_seed takes -2**63 .. 2**64 - 1; -1 and the largest unsigned seed both train."""
    for seed in ("-1", str(2**64 - 1)):
        out = tmp_path / f"seed{seed}"
        done = run_main(*TRAIN, "--seed", seed, "--out", out)
        assert done.returncode == 0, done.stderr
        assert json.loads((out / "config.json").read_text())["seed"] == int(seed)
