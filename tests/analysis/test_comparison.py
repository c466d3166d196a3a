"""Runs side by side: the directory names compare gives its runs."""

from __future__ import annotations

from lrscope.analysis.comparison import run_name


def test_run_names_are_safe():
    assert run_name("multistep(0.1, milestones=[30,45])") == "multistep-0.1-milestones-30-45"
    assert run_name("../../etc") == "etc"
    assert "/" not in run_name("a/b(1)")
