"""Shared test fixtures: the real logs beside the project, and running the command line as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_LOGS = Path(os.environ.get("LRSCOPE_REAL_LOGS", ROOT.parent / "shared" / "data" / "real-logs"))
LRSCOPE = Path(sys.executable).with_name("lrscope")


@pytest.fixture(scope="session")
def real_logs() -> Path:
    """../shared/data/real-logs (logs written by other people's training scripts)."""
    if not REAL_LOGS.is_dir():
        pytest.skip(f"real logs not found at {REAL_LOGS} (set LRSCOPE_REAL_LOGS)")
    return REAL_LOGS


def run_cli(*args: str, cwd: str | os.PathLike | None = None, timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``lrscope`` console script as a user would; returns the completed process."""
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("LRSCOPE_DEBUG", None)
    return subprocess.run([str(LRSCOPE), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=full_env)


@pytest.fixture
def cli():
    return run_cli
