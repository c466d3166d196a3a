"""A schedule spec that will not read is refused before the range test that ``auto`` needs, not minutes after."""

from __future__ import annotations

import pytest

import lrscope.jobs.auto as auto
import lrscope.jobs.compare as compare
import lrscope.jobs.find as find
from lrscope.errors import UserError
from lrscope.jobs.compare import compare_job
from lrscope.jobs.find import find_job
from lrscope.jobs.train import train_job
from lrscope.schedules import check_spec


@pytest.fixture
def no_range_test(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the range test ran before the spec was read")

    for module in (auto, compare, find):
        monkeypatch.setattr(module, "find_for_config", refuse)


def test_train_reads_an_auto_spec_before_its_range_test(no_range_test, tmp_path):
    with pytest.raises(UserError, match="no parameter 'totl'"):
        train_job(dict(data="digits", model="mlp", schedule="onecycle(auto, totl=10)", epochs=1), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_compare_reads_every_spec_before_the_range_test_and_the_first_training(no_range_test, tmp_path):
    with pytest.raises(UserError, match="no parameter 'totl'"):
        compare_job(["onecycle(auto, total=10)", "cosine(0.1, totl=10)"], data="digits", model="mlp", epochs=1,
                    out=tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()


def test_find_confirm_reads_its_recipe_before_the_sweep(no_range_test, tmp_path):
    with pytest.raises(UserError, match="no parameter 'totl'"):
        find_job(dict(data="digits", model="mlp"), tmp_path / "f", confirm=True, schedule="onecycle(auto, totl=2)")


@pytest.mark.parametrize("spec", ["onecycle(auto, total=10)", "triangular(auto, auto, 8)", "cosine(0.1, total=5)"])
def test_check_spec_passes_what_reads(spec):
    check_spec(spec)


@pytest.mark.parametrize("spec, message", [
    ("onecycle(auto, totl=10)", "did you mean total?"),
    ("cosine(0.1, total=-5)", "total"),
    ("auto(0.1)", "schedule spec"),
])
def test_check_spec_refuses_what_parse_schedule_refuses(spec, message):
    with pytest.raises(UserError, match=message):
        check_spec(spec)
