"""The command line's surface, held still: every command's --help text and the files of a run directory.

A change here is a change users see. Update the snapshot on purpose (LRSCOPE_UPDATE_SNAPSHOTS=1) in the commit
that changes a flag, and say so in its message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrscope.cli import app

SNAPSHOTS = Path(__file__).with_name("snapshots")
UPDATE = os.environ.get("LRSCOPE_UPDATE_SNAPSHOTS") == "1"


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "120", "TERM": "dumb"}, color=False)
    assert result.exit_code == 0, result.output
    return result.output


def _commands() -> list[str]:
    return sorted(command.name or command.callback.__name__ for command in app.registered_commands)


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; if on purpose, rerun with LRSCOPE_UPDATE_SNAPSHOTS=1"


def test_help_text_of_every_command_is_unchanged():
    text = "\n".join([f"$ lrscope --help\n{_help()}"] + [f"$ lrscope {c} --help\n{_help(c)}" for c in _commands()])
    _check("cli-help.txt", text)


def test_a_run_directory_holds_the_same_files(tmp_path):
    pytest.importorskip("torch")
    from lrscope.cli import main

    run = tmp_path / "run"
    try:
        main(["train", "--data", "synthetic:n=64,dim=4", "--model", "mlp", "--epochs", "2", "--schedule",
              "multistep(0.1, milestones=[1])", "--threads", "1", "--out", str(run)])
    except SystemExit as done:
        assert done.code in (0, None)
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    _check("run-directory-files.txt", "\n".join(files) + "\n")
