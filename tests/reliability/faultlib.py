"""Shared pieces of the fault-injection suite: trial counts, the tally behind the printed table, small helpers.

The suite runs in two sizes.  ``make test`` runs the reduced form (a few trials per fault class, well under two
minutes on two cores); ``make reliability`` sets ``LRSCOPE_FULL_RELIABILITY=1`` and runs the full form.  Random
choices (kill points, fuzzed bytes) come from ``LRSCOPE_RELIABILITY_SEED`` (default 0 in the reduced form, a fresh
seed in the full form, printed under the table so that a failure can be replayed).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

FULL = os.environ.get("LRSCOPE_FULL_RELIABILITY", "") not in ("", "0")
_seed_env = os.environ.get("LRSCOPE_RELIABILITY_SEED")
SEED = int(_seed_env) if _seed_env else (random.SystemRandom().randrange(1 << 30) if FULL else 0)

PY = Path(sys.executable)
LRSCOPE = PY.with_name("lrscope")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

FULL_COMMAND = 'LRSCOPE_FULL_RELIABILITY=1 .venv/bin/python -m pytest tests/reliability -m "slow or not slow"'


def trials(reduced: int, full: int) -> int:
    """How many trials a fault class gets in this form of the suite."""
    return full if FULL else reduced


def rng(name: str) -> random.Random:
    """A generator for one fault class, derived from the suite's seed (so classes do not share a stream)."""
    return random.Random(f"{SEED}:{name}")


def command_for(module: str, k: str | None = None) -> str:
    test = f"tests/reliability/{module}" + (f" -k '{k}'" if k else "")
    return f'LRSCOPE_FULL_RELIABILITY=1 .venv/bin/python -m pytest {test} -m "slow or not slow"'


@dataclass
class Row:
    fault: str
    command: str
    trials: int = 0
    survived: int = 0


TABLE: dict[str, Row] = {}


@contextlib.contextmanager
def trial(fault: str, command: str):
    """Count one trial of ``fault``; it survived when the block finishes without an exception."""
    row = TABLE.setdefault(fault, Row(fault, command))
    row.trials += 1
    yield
    row.survived += 1


def table_lines() -> list[str]:
    if not TABLE:
        return []
    lines = [
        "| fault class | trials | survived, nothing lost | command |",
        "|---|---:|---:|---|",
    ]
    for row in TABLE.values():
        lines.append(f"| {row.fault} | {row.trials} | {row.survived} | `{row.command}` |")
    form = "full (LRSCOPE_FULL_RELIABILITY=1)" if FULL else "reduced (make test)"
    lines.append("")
    lines.append(f"form: {form}; seed: {SEED} (replay with LRSCOPE_RELIABILITY_SEED={SEED})")
    return lines


def one_line_error(stderr: str) -> bool:
    """What the CLI promises for bad input or a failed write: exactly one non-empty line, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return len(lines) == 1 and "Traceback" not in stderr and lines[0].startswith("lrscope: error:")
