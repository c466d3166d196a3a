"""The examples in the schedules' docstrings run as written (one family per module, optax style)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lrscope.schedules",
    "lrscope.schedules.decays",
    "lrscope.schedules.cyclical",
    "lrscope.schedules.composites",
    "lrscope.schedules.wsd",
    "lrscope.schedules.spec",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
