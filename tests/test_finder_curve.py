"""The range test's curve maths (lrscope.analysis.finder_curve and finder_result), on NumPy curves alone.

This module never imports torch: the suggestion, the range, the interval and the combining of repeats are
checked on synthetic curves.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lrscope.analysis.finder_curve import (
    BAND,
    BATCHNORM_PEAK_ABOVE_TURN,
    BATCHNORM_PRIMARY,
    CONSTANT_BELOW_TURN,
    PEAK_BAND,
    PEAK_BELOW_TURN,
    PRIMARY,
    RULES,
    TURN_DROP,
    band_around,
    debiased_ema,
    suggest,
    sweep_lrs,
)
from lrscope.analysis.finder_result import Sweep, combine_sweeps
from lrscope.errors import UserError


def descent(lrs, centre=-1.5, noise=0.03, seed=0):
    """A sigmoid descent centred at lr = 10**centre, then divergence, with Gaussian noise."""
    x = np.log10(lrs)
    clean = 2.0 - 1.5 / (1 + np.exp(-(x - centre) * 4))
    clean = np.where(x > -0.3, clean + (x + 0.3) * 6, clean)
    return clean + np.random.default_rng(seed).normal(0, noise, len(x))


def sweep_of(lrs, losses, seed=None, batchnorm=False) -> Sweep:
    found = suggest(lrs, losses, batchnorm=batchnorm)
    return Sweep(lrs=lrs, losses=losses, smoothed=debiased_ema(losses, 0.98), fit=found["fit"],
                 slope=found["slope"], suggestions=found["suggestions"], range=found["range"],
                 interval=found["interval"], stopped="completed", seed=seed, reliable=found["reliable"],
                 rule=found["rule"])


def test_suggest_ignores_a_spike_and_matches_the_true_midpoint():
    lrs = sweep_lrs(1e-5, 10, 100)
    x = np.log10(lrs)
    clean = 2.0 - 1.5 / (1 + np.exp(-(x + 1.5) * 4))  # sigmoid descent centred at lr = 10**-1.5
    clean = np.where(x > -0.3, clean + (x + 0.3) * 6, clean)  # then divergence
    rng = np.random.default_rng(0)
    noisy = clean + rng.normal(0, 0.03, len(x))
    spiked = noisy.copy()
    spiked[55] = 50.0  # one terrible batch in the middle of the descent
    a, b = suggest(lrs, noisy), suggest(lrs, spiked)
    assert abs(np.log10(a["suggestions"]["combined"]) - (-1.5)) < 0.25
    assert abs(np.log10(b["suggestions"]["combined"]) - np.log10(a["suggestions"]["combined"])) < 0.15
    assert abs(np.log10(b["suggestions"][PRIMARY]) - np.log10(a["suggestions"][PRIMARY])) < 0.15
    assert a["interval"][0] <= a["suggestions"][PRIMARY] <= a["interval"][1]


def test_sweep_lrs_exp_and_linear_end_points():
    exp, lin = sweep_lrs(1e-4, 1.0, 5), sweep_lrs(0.0, 1.0, 5, mode="linear")
    assert np.allclose(exp, [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert np.allclose(lin, [0.0, 0.25, 0.5, 0.75, 1.0])


def test_debiased_ema_of_a_constant_is_the_constant():
    assert np.allclose(debiased_ema(np.full(20, 3.0), 0.98), 3.0)
    assert np.array_equal(debiased_ema(np.arange(4.0), 0.0), np.arange(4.0))


def test_range_brackets_the_suggestion_and_every_rule_is_there():
    lrs = sweep_lrs(1e-5, 10, 100)
    found = suggest(lrs, descent(lrs))
    low, high = found["range"]
    assert set(found["suggestions"]) == set(RULES)
    assert low < found["suggestions"][PRIMARY] < high
    assert found["reliable"] and found["notes"] == []


def test_a_flat_curve_is_unreliable_with_a_note():
    lrs = sweep_lrs(1e-5, 10, 60)
    found = suggest(lrs, 1.0 + np.random.default_rng(1).normal(0, 0.01, 60))
    assert not found["reliable"]
    assert any("hardly fell" in note for note in found["notes"])


def test_too_few_finite_points_is_a_user_error():
    lrs = sweep_lrs(1e-5, 10, 20)
    losses = np.full(20, np.nan)
    losses[:9] = 1.0
    with pytest.raises(UserError, match="9 usable points; at least 10"):
        suggest(lrs, losses)


def test_repeats_combine_as_the_median_in_log_space():
    lrs = sweep_lrs(1e-5, 10, 100)
    sweeps = [sweep_of(lrs, descent(lrs, centre=c, seed=k), seed=k) for k, c in enumerate((-2.0, -1.5, -1.0))]
    result = combine_sweeps(sweeps, [], 0.0, {})
    primary = sorted(s.suggestions[PRIMARY] for s in sweeps)
    assert result.suggestion == pytest.approx(primary[1])
    assert result.spread == pytest.approx(np.log10(primary[2] / primary[0]))
    assert result.repeats == 3 and result.reliable
    assert result.to_json()["schema"] == "lrscope.finder/1"


def test_the_curve_maths_never_imports_torch():
    code = ("import sys, lrscope.analysis.finder_curve, lrscope.analysis.finder_result; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_suggestion_is_a_third_and_the_peak_two_thirds_of_the_turn():
    """The regret bench's rule: the turn is where the fit has done 80 % of its drop; a constant rate goes 3x
    below it, far enough that the run does not fall off the cliff above the optimum; 1cycle, which only passes
    through its peak, to 1.5x below."""
    lrs = sweep_lrs(1e-5, 10, 100)
    found = suggest(lrs, descent(lrs, centre=-1.5, noise=0.0))
    fit = found["fit"]
    imin = int(np.nanargmin(fit))
    top = float(np.median(fit[: max(3, imin // 3)]))
    level = top - TURN_DROP * (top - fit[imin])
    turn = found["suggestions"][PRIMARY] * 3
    k = int(np.searchsorted(lrs, turn))  # the fit crosses the 80 % level between points k-1 and k
    assert fit[k - 1] >= level >= fit[k]
    assert found["range"][1] == pytest.approx(turn / 1.5, rel=1e-9)
    assert pytest.approx((np.log10(3), np.log10(1.5))) == (CONSTANT_BELOW_TURN, PEAK_BELOW_TURN)
    # the clean sigmoid's 80 % point: 2 - 1.5 s with s = 0.8 -> x = -1.5 + ln(4) / 4
    assert np.log10(turn) == pytest.approx(-1.5 + np.log(4) / 4, abs=0.08)


def test_with_batchnorm_the_suggestion_is_the_turn_and_the_peak_three_times_it():
    """A model with BatchNorm tolerates more than its sweep shows: the rule moves the suggestion to the turn
    itself and 1cycle's peak to 3x the turn, and the noise interval follows the rule in use."""
    lrs = sweep_lrs(1e-5, 10, 100)
    losses = descent(lrs, centre=-1.5, noise=0.02)
    plain, normed = suggest(lrs, losses), suggest(lrs, losses, batchnorm=True)
    assert (plain["rule"], normed["rule"]) == (PRIMARY, BATCHNORM_PRIMARY) == ("turn_over_3", "turn")
    turn = normed["suggestions"]["turn"]
    assert plain["suggestions"] == normed["suggestions"]  # the rules themselves do not depend on the model
    assert turn == pytest.approx(plain["suggestions"][PRIMARY] * 3, rel=1e-9)
    assert normed["range"][1] == pytest.approx(turn * 10**BATCHNORM_PEAK_ABOVE_TURN, rel=1e-9)
    assert plain["range"][1] == pytest.approx(turn / 1.5, rel=1e-9)
    assert normed["range"][0] == pytest.approx(plain["range"][0])  # the low bound is read the same way
    assert normed["interval"][0] <= turn <= normed["interval"][1]
    assert not plain["interval"][0] <= turn <= plain["interval"][1]


def test_combining_repeats_keeps_the_rule_of_the_sweeps():
    lrs = sweep_lrs(1e-5, 10, 100)
    sweeps = [sweep_of(lrs, descent(lrs, noise=0.03, seed=seed), batchnorm=True) for seed in range(3)]
    result = combine_sweeps(sweeps, [], 0.0, {})
    assert result.rule == "turn" and result.to_json()["rule"] == "turn"
    assert result.suggestion == result.suggestions["turn"]
    assert result.band == pytest.approx(band_around(result.suggestions["turn"], BAND))


def test_a_flat_bottom_does_not_move_the_suggestion():
    """Two curves that fall alike and differ only in where their flat bottom is lowest: the fit's minimum
    jumps by 0.6 decade, the suggestion (read on the falling side) by far less."""
    lrs = sweep_lrs(1e-6, 10, 100)
    x = np.log10(lrs)
    fall = 2.3 - 0.7 / (1 + np.exp(-(x + 1.5) * 6))
    rise = np.where(x > -0.1, (x + 0.1) * 3, 0.0)
    base = fall + rise + np.random.default_rng(0).normal(0, 0.01, len(x))
    left = base - 0.08 * np.exp(-0.5 * ((x + 0.8) / 0.2) ** 2)  # lowest near 10**-0.8
    right = base - 0.08 * np.exp(-0.5 * ((x + 0.3) / 0.2) ** 2)  # lowest near 10**-0.3
    a, b = suggest(lrs, left), suggest(lrs, right)
    minima = [np.log10(lrs[int(np.nanargmin(f["fit"]))]) for f in (a, b)]
    assert abs(minima[0] - minima[1]) > 0.3
    assert abs(np.log10(a["suggestions"][PRIMARY] / b["suggestions"][PRIMARY])) < 0.1


def test_the_range_never_starts_above_its_top():
    """A curve that falls only at the very end: the 10 % crossing lies past minimum / 2, so the low bound is
    pulled down to the top rather than giving an empty range."""
    lrs = sweep_lrs(1e-5, 10, 100)
    x = np.log10(lrs)
    losses = np.where(x < -0.2, 2.0, 2.0 - 8 * (x + 0.2)) + np.where(x > 0.0, 40 * x, 0.0)
    found = suggest(lrs, losses)
    low, high = found["range"]
    assert low <= high


def test_the_band_is_the_suggestion_times_the_benchs_edges():
    lrs = sweep_lrs(1e-5, 10, 100)
    result = combine_sweeps([sweep_of(lrs, descent(lrs))], [], 0.0, {})
    assert result.band == pytest.approx(band_around(result.suggestion, BAND))
    assert result.band[0] < result.suggestion < result.band[1]
    assert result.peak_band == pytest.approx(band_around(result.range[1], PEAK_BAND))
    doc = result.to_json()
    assert doc["band"] == pytest.approx(list(result.band)) and doc["rule"] == PRIMARY
    assert "within 1% of the best validation loss expected at" in result.summary()
