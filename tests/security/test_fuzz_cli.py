"""Property-based, through the command line's own entry point (in process, so torch loads once): random flag
values on every command and randomly damaged run directories end in exit 0 or a one-line exit 2, never in a
traceback, "internal error", a hang or a changed input.  "internal error" is itself a failing outcome here."""

from __future__ import annotations

import json
import random
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety import fingerprint

from lrscope.cli import main

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# numbers as a careless or hostile user types them
NUMBERS = st.one_of(
    st.sampled_from(["0", "-1", "1e308", "-1e308", "nan", "inf", "-inf", "1e-400", "99999999999999999999999",
                     "-99999999999999999999999", "0x10", "1_000", "", " ", "1,5", "١٢", "2**64"]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def run_main(argv, capsys) -> tuple[int, str]:
    """(exit code, stderr) of ``lrscope ARGV`` run through lrscope.cli.main."""
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    err = capsys.readouterr().err
    return code, err


def assert_clean(code: int, err: str, argv) -> None:
    assert "internal error" not in err and "Traceback" not in err, f"lrscope {argv}: {err[-1500:]}"
    assert code in (0, 2), f"lrscope {argv}: exit {code}: {err[-800:]}"
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, f"lrscope {argv}: {len(lines)} lines on stderr: {err[-1500:]}"


# flags whose value is a number, per command, with the rest of a command line that is otherwise valid and cheap
CHEAP = {
    "train": (["train", "--data", "synthetic:n=64,dim=4", "--model", "mlp", "--schedule", "constant(0.1)",
               "--epochs", "1", "--threads", "1"],
              ["--epochs", "--batch-size", "--lr-scale", "--momentum", "--weight-decay", "--seed",
               "--label-noise", "--val-fraction", "--noise-every", "--sharpness-every", "--keep", "--threads"]),
    "find": (["find", "--data", "synthetic:n=64,dim=4", "--model", "mlp", "--num-iter", "10"],
             ["--start-lr", "--end-lr", "--num-iter", "--repeats", "--seed", "--batch-size", "--momentum"]),
    "schedule": (["schedule", "cosine(0.1, total=100)", "--steps", "10"], ["--steps"]),
    "toy": (["toy", "quadratic", "--steps", "20", "--frames", "2"],
            ["--steps", "--frames", "--noise", "--seed", "--lrs"]),
    "nqm": (["nqm", "--steps", "20"], ["--steps"]),
    "forecast": (["forecast", "{log}", "--to", "cosine(0.1, total=3000)"], ["--every", "--steps", "--warmup"]),
}


def _step_log(path):
    """A small step-decay log that forecast can fit (rows every 100 steps, a cut at 2000)."""
    import numpy as np

    step = np.arange(100, 3001, 100)
    lr = np.where(step <= 2000, 0.1, 0.01)
    loss = 2 + 3 * (np.cumsum(np.where(np.arange(1, 3001) <= 2000, 0.1, 0.01))[step - 1]) ** -0.5
    loss -= 0.3 * (1 - np.exp(-np.clip(step - 2000, 0, None) / 200))
    path.write_text("step,lr,loss\n" + "".join(f"{a},{b},{c:.8f}\n" for a, b, c in zip(step, lr, loss, strict=True)))
    return path


@pytest.mark.parametrize("command", sorted(CHEAP))
@SETTINGS
@given(data=st.data())
def test_random_numbers_on_every_numeric_flag(tmp_path, capsys, command, data):
    base, flags = CHEAP[command]
    flag = data.draw(st.sampled_from(flags), label="flag")
    value = data.draw(NUMBERS, label="value")
    out = tmp_path / f"out-{random.random():.12f}"
    argv = [*base, flag, value]
    if command == "forecast":
        log = tmp_path / "run.csv"
        if not log.exists():
            _step_log(log)
        argv = [str(log) if a == "{log}" else a for a in argv]
    if command in ("train", "find"):
        argv += ["--out", out]
    elif command in ("toy", "nqm"):
        argv += ["--out", f"{out}.png"]
    code, err = run_main(argv, capsys)
    assert_clean(code, err, argv)


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    """A finished 2-epoch MLP run, trained once for the module (copied before each damage)."""
    pytest.importorskip("torch")
    from safety import run_cli

    out = tmp_path_factory.mktemp("fuzzrun") / "run"
    done = run_cli("train", "--data", "digits", "--model", "mlp", "--epochs", "2", "--schedule",
                   "multistep(0.1, milestones=[1])", "--threads", "1", "--noise-every", "20", "--out", out)
    assert done.returncode == 0, done.stderr
    return out


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
              st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
COMMANDS = [
    ["explain", "{run}", "--json"],
    ["plot", "{run}", "--out", "{tmp}/p.png"],
    ["report", "{run}", "--out", "{tmp}/r.html"],
    ["predict", "{run}", "--to", "0.01"],
    ["whatif", "{run}", "--to", "0.01", "--steps", "2"],
    ["landscape", "{run}", "--kind", "line", "--steps", "3", "--samples", "16", "--out", "{tmp}/l.png"],
    ["sharpness", "{run}", "--samples", "16", "--out", "{tmp}/s.png"],
    ["train", "--resume", "--out", "{run}"],
]


def _damage(run, how, key, value, where, rng: random.Random) -> None:
    config = run / "config.json"
    metrics = run / "metrics.jsonl"
    checkpoints = sorted((run / "checkpoints").glob("*.pt"))
    if how == "config value":
        doc = json.loads(config.read_text())
        doc[sorted(doc)[key % len(doc)]] = value
        config.write_text(json.dumps(doc))
    elif how == "config document":
        config.write_text(json.dumps(value))
    elif how == "metrics record":
        lines = metrics.read_text().splitlines()
        lines[key % len(lines)] = json.dumps(value)
        metrics.write_text("\n".join(lines) + "\n")
    elif how == "metrics field":
        lines = metrics.read_text().splitlines()
        index = key % len(lines)
        record = json.loads(lines[index])
        record[sorted(record)[key % len(record)]] = value
        lines[index] = json.dumps(record)
        metrics.write_text("\n".join(lines) + "\n")
    elif how == "checkpoint bytes":
        target = checkpoints[key % len(checkpoints)]
        data = bytearray(target.read_bytes())
        cut = int(where * len(data))
        if rng.random() < 0.5:
            data = data[:cut]
        else:
            for _ in range(8):
                data[rng.randrange(len(data))] = rng.randrange(256)
        target.write_bytes(bytes(data))
    elif how == "checkpoint document":
        import torch

        target = checkpoints[key % len(checkpoints)]
        doc = torch.load(target, weights_only=True)
        if isinstance(value, dict) or rng.random() < 0.3:
            doc = value
        else:
            doc[sorted(doc)[key % len(doc)]] = value
        torch.save(doc, target)
    elif how == "remove":
        victim = [config, metrics, *checkpoints][key % (2 + len(checkpoints))]
        victim.unlink()


@SETTINGS
@given(
    how=st.sampled_from(["config value", "config document", "metrics record", "metrics field", "checkpoint bytes",
                         "checkpoint document", "remove"]),
    key=st.integers(0, 1000),
    value=JSON_VALUES,
    where=st.floats(0, 1),
    seed=st.integers(0, 2**32),
    command=st.sampled_from(COMMANDS),
)
def test_damaged_run_directories(probe_run, tmp_path, capsys, how, key, value, where, seed, command):
    work = tmp_path / "case"
    shutil.rmtree(work, ignore_errors=True)
    run = work / "run"
    shutil.copytree(probe_run, run)
    _damage(run, how, key, value, where, random.Random(seed))
    before = fingerprint(run / "config.json", run / "metrics.jsonl", run / "checkpoints")
    argv = [part.format(run=run, tmp=work) for part in command]
    code, err = run_main(argv, capsys)
    assert_clean(code, err, argv)
    if command[0] != "train" or code != 0:
        assert fingerprint(run / "config.json", run / "metrics.jsonl", run / "checkpoints") == before, argv
