"""Fuzz the log readers and ``explain``: whatever the bytes, a RunLog and an explanation, or one clear UserError.

In process (hypothesis): random bytes; the real logs of ../shared/data/real-logs truncated, with bytes flipped,
lines duplicated, dropped or shuffled, line endings and encodings changed (UTF-16 with and without a BOM, UTF-32,
Latin-1, UTF-8 with a BOM); generated tables and JSON lines with hostile numbers (NaN, inf, 1e308, negative
rates, text cells); lrscope run directories whose metrics.jsonl and config.json are damaged (explain.json is
then either written whole and valid or not at all).  Through the command line: ``lrscope explain --json`` exits 0
with one JSON document on stdout, or 2 with one line on stderr, never a traceback.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import random
import subprocess
import tempfile
from pathlib import Path

import faultlib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrscope.errors import UserError
from lrscope.jobs.explain import explain_path

REAL = Path(os.environ.get("LRSCOPE_REAL_LOGS", faultlib.ROOT.parent / "shared" / "data" / "real-logs"))
SOURCES = sorted(p for p in REAL.glob("*") if p.suffix != ".md") if REAL.is_dir() else []
SUFFIXES = [".csv", ".tsv", ".jsonl", ".log", ".txt", ".tfevents", ""]
CMD = faultlib.command_for("test_rel_readers.py")


def fuzz_settings(reduced: int, full: int):
    return settings(
        max_examples=faultlib.trials(reduced, full),
        deadline=None,
        derandomize=not faultlib.FULL,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def survives(path: Path) -> None:
    """read + explain (+ to_json, as --json does): a result or a UserError; anything else fails the test."""
    try:
        result = explain_path(path)
    except UserError as error:
        assert str(error).strip() and "\n" not in str(error).strip(), f"not a one-line message: {error!r}"
        return
    document = result.to_json()
    json.dumps(document, allow_nan=False)  # what --json prints must be valid JSON


# ---------------------------------------------------------------- damage


def mutate(data: bytes, r: random.Random) -> bytes:
    """One to three random kinds of damage."""
    for _ in range(r.randint(1, 3)):
        kind = r.randrange(8)
        if kind == 0 and data:  # truncated
            data = data[: r.randint(0, len(data))]
        elif kind == 1 and data:  # bytes flipped
            b = bytearray(data)
            for _ in range(r.randint(1, 40)):
                b[r.randrange(len(b))] = r.randrange(256)
            data = bytes(b)
        elif kind in (2, 3, 4):  # lines duplicated, dropped or shuffled
            lines = data.split(b"\n")
            if kind == 2 and lines:
                for _ in range(r.randint(1, 10)):
                    i = r.randrange(len(lines))
                    lines.insert(i, lines[i])
            elif kind == 3 and len(lines) > 1:
                for _ in range(r.randint(1, min(10, len(lines) - 1))):
                    del lines[r.randrange(len(lines))]
            else:
                r.shuffle(lines)
            data = b"\n".join(lines)
        elif kind == 5:  # re-encoded
            text = data.decode("utf-8", "replace")
            enc = r.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "utf-8-sig", "cp1252"])
            data = text.encode(enc, "replace")
        elif kind == 6:  # Windows or old-Mac line endings
            data = data.replace(b"\n", r.choice([b"\r\n", b"\r"]))
        elif data:  # NUL bytes or a stray BOM in the middle
            i = r.randrange(len(data))
            data = data[:i] + r.choice([b"\x00", b"\x00\x00\x00", codecs.BOM_UTF8, codecs.BOM_UTF16_LE]) + data[i:]
    return data


# ---------------------------------------------------------------- in process


@fuzz_settings(150, 1500)
@given(data=st.binary(max_size=5000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path, data, suffix):
    with faultlib.trial("Readers: random bytes", CMD + " -k random_bytes"):
        path = tmp_path / f"case{suffix}"
        path.write_bytes(data)
        survives(path)


@pytest.mark.skipif(not SOURCES, reason="real logs not found")
@fuzz_settings(150, 1500)
@given(index=st.integers(0, 1000), seed=st.integers(0, 2**32 - 1))
def test_damaged_real_logs(tmp_path, index, seed):
    src = SOURCES[index % len(SOURCES)]
    with faultlib.trial("Readers: real logs damaged (truncated, flipped, lines, encodings)", CMD + " -k real"):
        data = mutate(src.read_bytes()[:300_000], random.Random(seed))
        path = tmp_path / f"damaged{src.suffix}"
        path.write_bytes(data)
        survives(path)


NAMES = [
    "epoch",
    "step",
    "lr",
    "learning_rate",
    "Learning Rate",
    "loss",
    "train_loss",
    "val_loss",
    "val_acc",
    "acc",
    "Valid Acc.",
    "time",
    "x",
    "",
    "epoch",
    "loss",
]
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.sampled_from(["", "nan", "-inf", "1e308", "-0", "1e-320", "abc", "[0.1, 0.2]", "tensor(0.5)", "93.1%", '"']),
)


@fuzz_settings(100, 1000)
@given(
    names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=6),
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=7), max_size=60),
    delim=st.sampled_from([",", "\t", ";", "|", " ", "\t"]),
    as_json=st.booleans(),
)
def test_generated_tables(tmp_path, names, rows, delim, as_json):
    with faultlib.trial("Readers: generated tables and JSON lines (NaN, inf, text cells)", CMD + " -k generated"):
        if as_json:
            lines = []
            for row in rows:
                obj = {
                    n: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for n, v in zip(names, row, strict=False)
                }
                lines.append(json.dumps(obj))
            path = tmp_path / "log.jsonl"
            path.write_text("\n".join(lines))
        else:
            text = delim.join(names) + "\n" + "\n".join(delim.join(str(v) for v in row) for row in rows)
            path = tmp_path / "log.csv"
            path.write_text(text)
        survives(path)


@fuzz_settings(50, 500)
@given(
    epochs=st.integers(0, 30),
    steps_per_epoch=st.integers(0, 20),
    seed=st.integers(0, 2**32 - 1),
    config=st.sampled_from(["good", "missing", "garbage", "list"]),
)
def test_damaged_run_directories(tmp_path, epochs, steps_per_epoch, seed, config):
    """explain on a run directory writes explain.json whole and valid, or refuses and writes nothing."""
    r = random.Random(seed)
    run = Path(tempfile.mkdtemp(dir=tmp_path))
    lines, step = [], 0
    for e in range(1, epochs + 1):
        lr = 0.1 if e < epochs // 2 else 0.01
        for _ in range(steps_per_epoch):
            step += 1
            lines.append(
                json.dumps(
                    {"kind": "step", "step": step, "epoch": e - 1 + 0.5, "lr": lr, "loss": 2.0 / e + r.random() * 0.1}
                )
            )
        lines.append(
            json.dumps(
                {
                    "kind": "epoch",
                    "epoch": e,
                    "step": step,
                    "lr": lr,
                    "train_loss": 2.0 / e,
                    "val_loss": 2.1 / e,
                    "val_acc": 1 - 1 / (e + 1),
                }
            )
        )
    data = ("\n".join(lines) + "\n").encode()
    if r.random() < 0.8:
        data = mutate(data, r)
    (run / "metrics.jsonl").write_bytes(data)
    if config != "missing":
        text = {"good": '{"model": "mlp", "seed": 0}', "garbage": "{not json", "list": "[1, 2]"}[config]
        (run / "config.json").write_text(text)
    with faultlib.trial("Readers: damaged run directories (explain.json whole or absent)", CMD + " -k run_dir"):
        survives(run)
        written = run / "explain.json"
        if written.exists():
            assert json.loads(written.read_text())["schema"].startswith("lrscope.explain/")
        assert not [p for p in run.iterdir() if p.name.startswith(".")], "a temporary file was left behind"


# ---------------------------------------------------------------- through the command line


def _cli_cases(count: int) -> list[tuple[str, bytes]]:
    r = faultlib.rng("readers-cli")
    cases = []
    for i in range(count):
        if i % 4 == 0 or not SOURCES:
            cases.append((r.choice(SUFFIXES), os.urandom(r.randint(0, 5000))))
        else:
            src = r.choice(SOURCES)
            cases.append((src.suffix, mutate(src.read_bytes()[:200_000], r)))
    return cases


CLI_CASES = _cli_cases(faultlib.trials(6, 80))


@pytest.mark.parametrize("case", range(len(CLI_CASES)))
def test_explain_command_on_damaged_input(case, tmp_path, cli):
    suffix, data = CLI_CASES[case]
    path = tmp_path / f"case{suffix}"
    path.write_bytes(data)
    with faultlib.trial("Readers through the CLI: explain --json (exit 0, or 2 + one line)", CMD + " -k command"):
        done: subprocess.CompletedProcess = cli("explain", path, "--json", timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode in (0, 2), (done.returncode, done.stderr)
        if done.returncode == 0:
            assert json.loads(done.stdout)["schema"] in ("lrscope.explain/1", "lrscope.explain-runs/1")
        else:
            assert faultlib.one_line_error(done.stderr), done.stderr
            assert not done.stdout
