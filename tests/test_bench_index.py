"""bench/run_all.py (what `make bench` runs) lists every benchmark in bench/, and only files that are there."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_run_all():
    spec = importlib.util.spec_from_file_location("run_all", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_all_lists_every_benchmark_and_nothing_else():
    listed = [script for script, _, _ in load_run_all().BENCHMARKS]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in BENCH.glob("bench_*.py"))


def test_run_all_refuses_a_name_that_matches_nothing(capsys):
    assert load_run_all().main(["no-such-benchmark"]) == 2
    assert "no benchmark matches" in capsys.readouterr().err
