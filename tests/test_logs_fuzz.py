"""Property-based: random bytes and damaged real logs read into a RunLog (and explain) or raise UserError,
nothing
else."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrscope.analysis.explain import explain
from lrscope.errors import UserError
from lrscope.logs.read import read_log

REAL = Path(
    os.environ.get("LRSCOPE_REAL_LOGS", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-logs")
)
SOURCES = sorted(p for p in REAL.glob("*") if p.suffix != ".md") if REAL.is_dir() else []
SUFFIXES = [".csv", ".tsv", ".jsonl", ".log", ".tfevents", ""]


def check(path: Path) -> None:
    try:
        log = read_log(path)
    except UserError:
        return
    with contextlib.suppress(UserError):
        explain(log).to_json()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path, data, suffix):
    p = tmp_path / f"case{suffix}"
    p.write_bytes(data)
    check(p)


@pytest.mark.skipif(not SOURCES, reason="real logs not found")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.integers(0, 100),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=30),
    shuffle=st.booleans(),
    utf16=st.booleans(),
)
def test_mutated_real_logs(tmp_path, index, cut, flips, shuffle, utf16):
    src = SOURCES[index % len(SOURCES)]
    data = bytearray(src.read_bytes()[:60_000])
    data = data[: int(len(data) * cut) + 1] if cut < 0.9 else data
    for where, byte in flips:
        if data:
            data[int(where * (len(data) - 1))] = byte
    if shuffle:
        lines = bytes(data).split(b"\n")
        lines.reverse()
        data = bytearray(b"\n".join(lines))
    if utf16:
        data = bytearray(bytes(data).decode("utf-8", "replace").encode("utf-16"))
    p = tmp_path / ("mutated" + src.suffix)
    p.write_bytes(bytes(data))
    check(p)


@pytest.mark.parametrize(
    "text",
    [
        "epoch,lr,loss\n1,nan,inf\n2,-inf,nan\n3,0,0\n",
        "epoch,lr,loss\n1,0.1,1\n1,0.1,1\n1,0.1,1\n",
        "x\n1\n2\n3\n",
        "loss\n-1\n-2\n-3\n-4\n-5\n-6\n-7\n-8\n-9\n",
    ],
)
def test_degenerate_tables(tmp_path, text):
    p = tmp_path / "d.csv"
    p.write_text(text)
    check(p)
