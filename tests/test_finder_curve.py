"""The range test's curve maths (lrscope.analysis.finder_curve and finder_result), on NumPy curves alone.

This module never imports torch: the suggestion, the range, the interval and the combining of repeats are
checked on synthetic curves.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lrscope.analysis.finder_curve import RULES, debiased_ema, suggest, sweep_lrs
from lrscope.analysis.finder_result import Sweep, combine_sweeps
from lrscope.errors import UserError


def descent(lrs, centre=-1.5, noise=0.03, seed=0):
    """A sigmoid descent centred at lr = 10**centre, then divergence, with Gaussian noise."""
    x = np.log10(lrs)
    clean = 2.0 - 1.5 / (1 + np.exp(-(x - centre) * 4))
    clean = np.where(x > -0.3, clean + (x + 0.3) * 6, clean)
    return clean + np.random.default_rng(seed).normal(0, noise, len(x))


def sweep_of(lrs, losses, seed=None) -> Sweep:
    found = suggest(lrs, losses)
    return Sweep(lrs=lrs, losses=losses, smoothed=debiased_ema(losses, 0.98), fit=found["fit"],
                 slope=found["slope"], suggestions=found["suggestions"], range=found["range"],
                 interval=found["interval"], stopped="completed", seed=seed, reliable=found["reliable"])


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
    assert a["interval"][0] <= a["suggestions"]["combined"] <= a["interval"][1]


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
    assert low < found["suggestions"]["combined"] < high
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
    combined = sorted(s.suggestions["combined"] for s in sweeps)
    assert result.suggestion == pytest.approx(combined[1])
    assert result.spread == pytest.approx(np.log10(combined[2] / combined[0]))
    assert result.repeats == 3 and result.reliable
    assert result.to_json()["schema"] == "lrscope.finder/1"


def test_the_curve_maths_never_imports_torch():
    code = ("import sys, lrscope.analysis.finder_curve, lrscope.analysis.finder_result; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
