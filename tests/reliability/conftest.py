"""The fault-injection suite prints its table (fault class, trials, survived with nothing lost, command) at the end
of the session, through pytest's terminal reporter, so it shows with or without ``-s``."""

from __future__ import annotations

import faultlib
import pytest


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = faultlib.table_lines()
    if not lines:
        return
    terminalreporter.section("reliability (issue 8)")
    for line in lines:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory):
    """(run directory, seconds of training) of the uninterrupted tiny run (see runcheck.py)."""
    pytest.importorskip("torch")
    import runcheck

    return runcheck.make_reference(tmp_path_factory.mktemp("reference") / "run")
