"""Run `lrscope explain FILE --json` once per (file, flags) for the whole session, as a user runs it.

The command is the installed console script in a subprocess (as the `cli` fixture of tests/conftest.py runs it); the
answers are cached because many tests read the same explanation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ._checks import MANY, ONE

LRSCOPE = Path(sys.executable).with_name("lrscope")
_ANSWERS: dict[tuple, subprocess.CompletedProcess] = {}


@pytest.fixture(scope="session")
def explain_proc(real_logs):
    """explain_proc(NAME, *ARGS) -> the completed `lrscope explain REAL_LOGS/NAME *ARGS` process."""

    def run(name: str, *args: str) -> subprocess.CompletedProcess:
        key = (name, args)
        if key not in _ANSWERS:
            env = dict(os.environ)
            env.pop("LRSCOPE_DEBUG", None)
            _ANSWERS[key] = subprocess.run(
                [str(LRSCOPE), "explain", str(real_logs / name), *args],
                capture_output=True,
                text=True,
                timeout=600,
                env=env,
            )
        return _ANSWERS[key]

    return run


@pytest.fixture(scope="session")
def explain(explain_proc):
    """explain(NAME, *ARGS) -> the JSON document of `lrscope explain NAME --json *ARGS`; it must exit 0."""

    def run(name: str, *args: str) -> dict:
        proc = explain_proc(name, "--json", *args)
        assert "Traceback" not in proc.stderr, f"{name}: traceback on stderr: {proc.stderr[-1500:]}"
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
        doc = json.loads(proc.stdout)
        assert doc.get("schema") in (ONE, MANY), f"{name}: schema {doc.get('schema')!r}"
        return doc

    return run
