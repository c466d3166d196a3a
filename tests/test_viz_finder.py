"""The range test's picture (lrscope.viz.finder), drawn from a result and from its JSON document."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrscope.analysis.finder_curve import debiased_ema, suggest, sweep_lrs
from lrscope.analysis.finder_result import Sweep, combine_sweeps
from lrscope.viz.finder import plot_finder, save_finder_plot


def two_sweeps():
    lrs = sweep_lrs(1e-4, 1e3, 30)
    x = np.log10(lrs)
    sweeps = []
    for seed in (1, 2):
        losses = 1.1 - 1.0 / (1 + np.exp(-(x + 1) * 3)) + np.random.default_rng(seed).normal(0, 0.02, 30)
        losses[-3:] = [5.0, 40.0, np.inf]  # the divergent tail
        found = suggest(lrs, losses)
        sweeps.append(Sweep(lrs=lrs, losses=losses, smoothed=debiased_ema(losses, 0.98), fit=found["fit"],
                            slope=found["slope"], suggestions=found["suggestions"], range=found["range"],
                            interval=found["interval"], stopped="diverged", seed=seed,
                            reliable=found["reliable"]))
    return combine_sweeps(sweeps, [], 0.0, {})


def test_plot_marks_every_suggestion(tmp_path):
    result = two_sweeps()
    back = json.loads(json.dumps(result.to_json(), allow_nan=False))
    ax = plot_finder(result)
    legend = ax.figure.legends[0]  # the figure's one legend, outside the axes (viz.palette.place_legend)
    labels = [t.get_text() for t in legend.get_texts()]
    assert any(label.startswith("suggestion") for label in labels)
    assert any("steepest" in label for label in labels)  # the other rules share one entry

    out = save_finder_plot(back, tmp_path / "f.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_viz_package_quiets_matplotlibs_font_warnings():
    import logging

    import lrscope.viz  # noqa: F401

    assert logging.getLogger("matplotlib.font_manager").getEffectiveLevel() >= logging.ERROR


def test_the_package_level_plot_finder_returns_a_figure():
    from matplotlib.figure import Figure

    import lrscope.viz

    figure = lrscope.viz.plot_finder(two_sweeps())
    assert isinstance(figure, Figure) and figure.axes and figure.legends


def test_a_finder_json_from_before_the_rule_change_still_marks_combined_as_its_suggestion():
    """finder.json written before turn_over_3 has no "rule" and its suggestion is the combined rule: the
    picture lists every other rule in grey and combined only as the suggestion; a new document lists combined
    among the others and shows its band."""
    new = json.loads(json.dumps(two_sweeps().to_json(), allow_nan=False))
    old = {k: v for k, v in new.items() if k not in ("rule", "band", "peak_band")}
    old["suggestions"] = {k: v for k, v in new["suggestions"].items() if k != "turn_over_3"}
    old["suggestion"] = old["suggestions"]["combined"]

    def labels(doc):
        return [t.get_text() for t in plot_finder(doc).figure.legends[0].get_texts()]

    old_labels, new_labels = labels(old), labels(new)
    assert not any("combined" in label for label in old_labels if label.startswith("other rules"))
    assert any("combined" in label for label in new_labels if label.startswith("other rules"))
    assert any(label.startswith("within 1% of the best val loss") for label in new_labels)
    assert not any(label.startswith("within 1%") for label in old_labels)


def test_confirm_runs_are_drawn_at_their_rates_with_the_chosen_one_filled():
    from lrscope.analysis.finder_confirm import confirm_lr

    result = two_sweeps()
    result.confirmed = confirm_lr(lambda lr: 0.2 + (np.log10(lr) + 2) ** 2 if lr < 1 else float("nan"),
                                  result.suggestion)
    doc = json.loads(json.dumps(result.to_json(), allow_nan=False))  # a diverged run is null, not NaN
    ax = plot_finder(doc)
    lines = {line.get_label(): line for line in ax.get_lines()}
    runs = lines["confirm runs: final val loss"]
    assert np.allclose(runs.get_xdata(), result.confirmed.rates)
    chosen = next(line for label, line in lines.items() if label.startswith("confirmed"))
    assert np.allclose(chosen.get_xdata(), [result.confirmed.chosen])
    assert "confirmed by training" in ax.get_title()
    assert ax.get_ylim()[0] <= min(v for v in result.confirmed.val_losses if np.isfinite(v))


def test_the_refined_rate_is_a_dotted_line_and_named_in_the_title_and_summary(tmp_path):
    from lrscope.analysis.finder_confirm import confirm_lr

    result = two_sweeps()
    base = result.suggestion  # the recipe's best rate lies 0.1 decade above the best candidate, base/10
    result.confirmed = confirm_lr(lambda lr: 0.2 + (np.log10(lr / base) + 0.9) ** 2, base)
    refined = result.confirmed.refined
    assert np.log10(refined / result.confirmed.chosen) == pytest.approx(0.1)
    doc = json.loads(json.dumps(result.to_json(), allow_nan=False))
    ax = plot_finder(doc)
    lines = {line.get_label(): line for line in ax.get_lines()}
    line = next(line for label, line in lines.items() if label.startswith("train at"))
    assert np.allclose(line.get_xdata(), [refined, refined])
    assert f"(train at {refined:.3g})" in ax.get_title()
    assert f"train the recipe at lr {refined:.3g}" in result.summary()
    save_finder_plot(doc, tmp_path / "refined.png")


def test_no_refined_line_when_the_best_run_is_the_vertex():
    from lrscope.analysis.finder_confirm import confirm_lr

    result = two_sweeps()
    base = result.suggestion
    result.confirmed = confirm_lr(lambda lr: 0.2 + np.log10(lr / base) ** 2, base)  # symmetric about base
    ax = plot_finder(json.loads(json.dumps(result.to_json(), allow_nan=False)))
    assert not any(line.get_label().startswith("train at") for line in ax.get_lines())
    assert "train the recipe" not in result.summary()


def test_a_result_fills_auto_with_its_own_numbers():
    result = two_sweeps()
    low, high = result.range
    assert result.fill_auto("onecycle(auto, total=10)") == f"onecycle({float(f'{high:.3g}')!r}, total=10)"
    assert result.fill_auto("triangular(auto, auto, 8)") == \
        f"triangular({float(f'{low:.3g}')!r}, {float(f'{high:.3g}')!r}, 8)"
    assert result.fill_auto("constant(auto)") == f"constant({float(f'{result.suggestion:.3g}')!r})"
