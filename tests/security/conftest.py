"""Fixtures of the safety suites (helpers in safety.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from safety import run_cli


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A finished 2-epoch MLP run on digits with checkpoints (copy it before damaging it)."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("trained") / "run"
    result = run_cli("train", "--data", "digits", "--model", "mlp", "--epochs", "2", "--schedule",
                     "multistep(0.1, milestones=[1])", "--threads", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out
