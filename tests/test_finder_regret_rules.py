"""The anchor tools' rules as bench/bench_finder_regret.py reimplements them (bench/finder_regret/), on fixed
curves (no training)."""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from lrscope.analysis.finder_curve import sweep_lrs

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench():
    """The bench's package, its modules loaded (bench/ on sys.path while they import: rules reads bench_finder)."""
    sys.path.insert(0, str(BENCH))
    try:
        for part in ("cache", "confirm_seeds", "grid", "report", "rules", "tasks", "trials"):
            importlib.import_module(f"finder_regret.{part}")
        return importlib.import_module("finder_regret")
    finally:
        sys.path.remove(str(BENCH))


def curve(noise=0.0, seed=0):
    lrs = sweep_lrs(1e-7, 10, 100)
    x = np.log10(lrs)
    clean = 2.3 - 1.2 / (1 + np.exp(-(x + 2.0) * 3)) + np.where(x > -0.5, 4.0 * (x + 0.5) ** 2, 0.0)
    return lrs, clean + np.random.default_rng(seed).normal(0, noise, len(x))


def test_each_tool_stops_where_its_own_smoothing_passes_its_threshold(bench):
    losses = np.array([1.0] * 20 + [1.0 + 0.5 * k for k in range(1, 40)])
    n4 = bench.rules.cut_at_divergence(losses, 0.98, 4.0, debias=True)
    n5 = bench.rules.cut_at_divergence(losses, 0.95, 5.0, debias=False)
    smooth = bench.rules.ema(losses[:n4], 0.98)
    assert smooth[-1] > 4.0 * smooth.min() and np.all(smooth[:-1] <= 4.0 * smooth.min())
    assert bench.rules.ema(losses[:n5], 0.95, debias=False)[-1] > 5.0
    assert bench.rules.cut_at_divergence(np.array([1.0, 1.0, math.nan, 1.0]), 0.98, 4.0, debias=True) == 3


def test_torch_lr_finder_and_fastai_steep_pick_the_steepest_descent_of_a_clean_curve(bench):
    lrs, losses = curve()
    tlf = bench.rules.tlf_rule(lrs, losses)
    fastai = bench.rules.fastai_rules(lrs, losses)
    # the clean descent is steepest at 10**-2 in log lr; EMA lag pushes both rules to the right of it
    assert -2.2 < np.log10(tlf) < -0.5
    assert -2.2 < np.log10(fastai["fastai steep"]) < -0.5
    # minimum / 10 is read on the lagging EMA, whose minimum lies past the clean curve's (10**-0.5)
    n = bench.rules.cut_at_divergence(losses, 0.98, 4.0, debias=True)
    smooth = bench.rules.ema(losses[:n], 0.98)[10:n - 5]
    assert fastai["fastai minimum"] == pytest.approx(lrs[10:n - 5][int(np.argmin(smooth))] / 10)
    assert np.log10(fastai["fastai minimum"] * 10) > -0.5


def test_lightnings_gradient_against_linear_lr_lands_at_the_start_on_a_noisy_curve(bench):
    """Lightning >= 2.5.3 differentiates against linear lr: on the flat noisy start the lr steps are tiny, so
    noise divided by them dominates (Lightning#21141)."""
    lrs, losses = curve(noise=0.01)
    assert bench.rules.lightning_rule(lrs, losses) < 1e-5


def test_lrscope_in_the_bench_is_the_packages_rule(bench):
    from lrscope.analysis.finder_curve import suggest

    lrs, losses = curve(noise=0.01)
    for batchnorm, rule in ((False, "turn_over_3"), (True, "turn")):
        values = bench.rules.rule_values({"lrs": list(lrs), "losses": list(losses)}, batchnorm)
        found = suggest(lrs, losses, batchnorm=batchnorm)
        assert found["rule"] == rule
        assert values["lrscope"] == pytest.approx((found["suggestions"][rule], found["range"][1]))


def trials_of(bench, noisy, settled, offsets=(-1.5, -1.0, -0.5, 0.0, 0.5, 1.0)):
    """Fixed short-trial results at rates 10^d for one seed, as ensure_trials hands them to trial_picks."""
    return {("task", "sgd", "constant", 0, 10.0 ** d): dict(loss=a, settled_loss=b)
            for d, a, b in zip(offsets, noisy, settled, strict=True)}


def test_short_trials_pick_the_lowest_validation_loss_between_its_neighbours(bench):
    trials = trials_of(bench, [2.0, 1.5, 1.2, 1.2, 1.6, math.inf], [2.0, 1.5, 1.2, 1.2, 1.6, math.inf])
    pick = bench.trials.trial_picks(trials, "task", "sgd", "constant", 0, epochs=1)["short trials"]
    assert -0.75 < pick < 0.0  # between the two equal best trials, on the side of the steeper neighbour's rise


def test_the_extrapolated_rule_trades_the_longer_runs_progress_against_the_noise_floor(bench):
    progress = [2.0, 1.4, 1.1, 1.0, 1.0, 1.0]  # settled loss: saturates from the turn on
    # no noise floor: progress at r x 10 epochs is already saturated from d = -1 on; the lowest such rate wins
    quiet = bench.trials.trial_picks(trials_of(bench, progress, progress), "task", "sgd", "constant", 0, epochs=10)
    assert quiet["short trials, extrapolated"] == pytest.approx(-1.0, abs=0.05)
    # a noise floor growing with the rate keeps it at the lowest rate whose extrapolated progress saturates
    noisy = [p + 0.05 * 10 ** d for p, d in zip(progress, (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0), strict=True)]
    assert bench.trials.trial_picks(trials_of(bench, noisy, progress), "task", "sgd", "constant", 0,
                             epochs=10)["short trials, extrapolated"] <= -0.95
    # one epoch: no extrapolation, so the pick follows the settled loss to the turn
    short = bench.trials.trial_picks(trials_of(bench, progress, progress), "task", "sgd", "constant", 0, epochs=1)
    assert short["short trials, extrapolated"] == pytest.approx(0.0, abs=0.05)


def grid_of_trainings(bench, accs, losses=None):
    """{key: row} for task 'task', sgd constant, rates 1, 2, 3, ... and one row per (seed, rate)."""
    rows = {}
    for seed, (acc_row, loss_row) in enumerate(zip(accs, losses or accs, strict=True)):
        for i, (acc, loss) in enumerate(zip(acc_row, loss_row, strict=True)):
            rows[bench.tasks.key("task", "sgd", "constant", seed, float(i + 1))] = dict(
                acc=acc, loss=loss, finite=math.isfinite(loss))
    return rows


def test_the_one_seed_grid_search_picks_the_previous_seeds_lowest_loss_and_never_a_diverged_rate(bench, monkeypatch):
    monkeypatch.setattr(bench.grid, "SEEDS", (0, 1, 2))
    losses = [[0.5, 0.3, math.nan], [0.2, 0.4, 0.9], [0.6, 0.7, 0.1]]
    rows = grid_of_trainings(bench, [[0.0] * 3] * 3, losses)
    pick = [bench.grid.grid_pick_one_seed(rows, "task", "sgd", "constant", [1.0, 2.0, 3.0], seed) for seed in (0, 1, 2)]
    assert pick == [3.0, 2.0, 1.0]  # seed 0 is judged at seed 2's choice; seed 1 at seed 0's, not the nan


def test_the_half_the_seeds_grid_search_loses_nothing_on_a_clear_optimum_and_pays_for_noise(bench, monkeypatch):
    monkeypatch.setattr(bench.grid, "SEEDS", (0, 1, 2, 3))
    clear = grid_of_trainings(bench, [[80, 90, 70]] * 4)
    assert bench.grid.split_half_regret(clear, "task", "sgd", "constant", [1.0, 2.0, 3.0]) == pytest.approx(0.0)
    # two rates that are equal on average but swap with the seed: any half's best is the other half's worst
    noisy = grid_of_trainings(bench, [[90, 80], [90, 80], [80, 90], [80, 90]])
    regret = bench.grid.split_half_regret(noisy, "task", "sgd", "constant", [1.0, 2.0])
    assert 0.0 < regret <= 5.0


def test_confirm_on_several_seeds_chooses_on_earlier_seeds_and_a_divergence_on_any_rules_a_rate_out(bench,
                                                                                                  monkeypatch):
    monkeypatch.setattr(bench.grid, "SEEDS", (0, 1, 2, 3))
    assert bench.grid.choosing_seeds(2, 2) == [2, 1]
    assert bench.grid.choosing_seeds(0, 3) == [0, 3, 2]  # wraps, and never reaches 1, which scores it
    rows = grid_of_trainings(bench, [[0.0] * 3] * 4, [[0.4, 0.2, 0.3], [0.6, math.nan, 0.1], [0.5, 0.3, 0.2],
                                                      [0.2, 0.2, 0.2]])
    means = bench.grid.mean_losses(rows, "task", "sgd", "constant", [1.0, 2.0, 3.0], [0, 2])
    assert means == pytest.approx([0.45, 0.25, 0.25])
    means = bench.grid.mean_losses(rows, "task", "sgd", "constant", [1.0, 2.0, 3.0], [1, 0])
    assert means[0] == pytest.approx(0.5) and math.isnan(means[1]) and means[2] == pytest.approx(0.2)
    # a grid search on seeds 1 and 0 (scored on seed 2): rate 2 diverged on seed 1, so rate 3 wins on the mean
    assert bench.grid.grid_pick_on_seeds(rows, "task", "sgd", "constant", [1.0, 2.0, 3.0], 2, 2) == 3.0


def test_the_best_seed_mean_is_biased_upwards_only_where_rates_swap_places_from_seed_to_seed(bench):
    rng = np.random.default_rng(0)
    clear = [[80.0, 90.0, 70.0]] * 6  # the same best rate on every seed: no bias
    assert bench.report.best_mean_bias(clear, rng, 200) == pytest.approx(0.0)
    noisy = [[90.0, 80.0], [80.0, 90.0]] * 3  # equal on average, swapping with the seed
    assert 0.5 < bench.report.best_mean_bias(noisy, rng, 200) < 5.0


def test_the_compressed_cache_keeps_every_row_appended_across_runs(bench, tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    for rows in ([{"key": "a", "acc": 1.0}], [{"key": "b", "acc": 2.0}, {"key": "a", "acc": 3.0}]):
        with bench.cache.open_rows(path, "a") as f:  # one gzip member per run of the bench
            for row in rows:
                f.write(json.dumps(row) + "\n")
    assert bench.cache.load_rows(path) == {"a": {"key": "a", "acc": 3.0}, "b": {"key": "b", "acc": 2.0}}
    assert bench.cache.load_rows(tmp_path / "absent.jsonl.gz") == {}


def test_every_bench_task_builds_a_model_for_its_data_and_reports_its_normalisation(bench):
    import torch

    for task in bench.tasks.EVERY_TASK:
        x, y, xv, yv, classes, shape = bench.tasks.task_data(task)
        torch.manual_seed(0)
        model = bench.tasks.make_model(task, shape, classes)
        assert model(x[:3]).shape == (3, classes), task
        assert len(xv) == len(yv) > 0 and int(y.max()) < classes, task
        has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
        assert bench.tasks.task_batchnorm(task) == has_bn, task
    assert not bench.tasks.task_batchnorm("digits-vit") and not bench.tasks.task_batchnorm("synthetic-lnmlp")


def test_the_figures_lrscope_find_quotes_are_the_benchs_latest():
    from lrscope.cli.probe_commands import REGRET_CONFIRMED, REGRET_SWEEP_ALONE

    every_case = json.loads((BENCH / "results" / "finder-regret" / "summary.json").read_text())["all"]
    assert round(every_case["lrscope"]["mean"], 1) == REGRET_SWEEP_ALONE
    assert round(every_case["confirmed, refined"]["mean"], 1) == REGRET_CONFIRMED
