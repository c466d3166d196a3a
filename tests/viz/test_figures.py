"""Every figure lrscope draws, saved as SVG: each log axis has more than one labelled tick (read from the drawn
figure and from the SVG's text), the rate is drawn with steps-post, the same series has the same colour in
``plot``, ``explain --plot`` and the report, legends sit outside the axes, and a log without accuracy gets no
accuracy panel and no Matplotlib warning."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest
from matplotlib.colors import to_hex

from lrscope.viz import palette
from lrscope.viz.ticks import log_tick_values, plain_number

EPOCHS = np.arange(1, 61, dtype=float)
LR = np.where(EPOCHS <= 30, 0.1, np.where(EPOCHS <= 45, 0.01, 0.001))


def staircase(accuracy: bool = True) -> dict:
    """Columns of a made-up step-decay run: loss 2.3 -> 0.3 in three flat stages, a cliff after each cut."""
    rng = np.random.default_rng(0)
    floor = np.where(EPOCHS <= 30, 0.9, np.where(EPOCHS <= 45, 0.5, 0.3))
    train = floor + 1.4 * np.exp(-EPOCHS / 4) + rng.normal(0, 0.01, EPOCHS.size)
    cols = {"epoch": EPOCHS, "lr": LR, "train_loss": train, "val_loss": train * 1.1}
    if accuracy:
        cols["val_acc"] = 1 - train / 3
    return cols


def svg_text(fig) -> list[str]:
    """The text Matplotlib wrote into the figure's SVG (each text element is preceded by a comment of it)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return re.findall(r"<!-- (.*?) -->", buf.getvalue())


def labelled_ticks(axis) -> list[str]:
    """The non-empty labels of the ticks (major and minor) inside the axis's view, as last drawn."""
    lo, hi = sorted(axis.get_view_interval())
    found = []
    for tick in axis.get_major_ticks() + axis.get_minor_ticks():
        text = tick.label1.get_text() or tick.label2.get_text()
        if text and lo * (1 - 1e-9) <= tick.get_loc() <= hi * (1 + 1e-9) and tick.get_visible():
            found.append(text)
    return found


def assert_readable_log_axes(fig) -> int:
    """Save as SVG, then every log axis has at least two labelled ticks, none in mathtext/'x10^' form, and
    each label is in the SVG's text; returns how many log axes there were."""
    text = svg_text(fig)
    count = 0
    for k, ax in enumerate(fig.axes):
        for axis, scale, shared in ((ax.xaxis, ax.get_xscale(), ax.get_shared_x_axes()),
                                    (ax.yaxis, ax.get_yscale(), ax.get_shared_y_axes())):
            if scale != "log" or any(shared.joined(ax, other) for other in fig.axes[:k]):
                continue  # a twin's copy of an axis already counted carries no labels of its own
            count += 1
            labels = labelled_ticks(axis)
            assert len(labels) > 1, f"a log axis of {ax.get_ylabel() or ax.get_xlabel()!r} shows {labels}"
            assert not any("$" in t or "10^" in t or "×" in t for t in labels), labels
            assert all(t in text for t in labels)
    return count


def lines_by_label(fig) -> dict:
    return {line.get_label(): line for ax in fig.axes for line in ax.lines}


def rate_lines(fig) -> list:
    return [line for line in lines_by_label(fig).values() if "learning rate" in line.get_label()]


def assert_legend_outside(fig) -> None:
    """The figure's legend box does not overlap any plotting area of the figure."""
    if not hasattr(fig.canvas, "get_renderer"):  # a pyplot figure, closed after saving
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.canvas.draw()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    renderer = fig.canvas.get_renderer()
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert not box.overlaps(ax.get_window_extent(renderer)), "the legend covers a plot"


# ---- the tick helper itself


@pytest.mark.parametrize(("lo", "hi"), [(0.3, 2.3), (1.4, 1.55), (0.9, 1.2), (1e-3, 0.1), (1e-7, 10.0), (2, 3)])
def test_log_ticks_give_several_values_inside_any_range(lo, hi):
    values = log_tick_values(lo, hi)
    assert len(values) >= 2 and np.all((values >= lo * 0.999) & (values <= hi * 1.001))
    assert len(values) <= 10


def test_plain_numbers_not_powers():
    assert [plain_number(v) for v in (0.3, 2.0, 1.45, 1e-4, 1e-6, 2e5)] == ["0.3", "2", "1.45", "0.0001", "1e-6",
                                                                             "2e+5"]


# ---- each figure


def test_plot_curves_log_ticks_steps_and_no_empty_accuracy_panel():
    from lrscope.viz.curves import curves_plot

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = curves_plot(staircase(accuracy=False), title="run")
        assert assert_readable_log_axes(fig) >= 2  # loss and rate
    assert len([ax for ax in fig.axes if ax.get_ylabel() == "accuracy"]) == 0
    assert rate_lines(fig) and all(line.get_drawstyle() == "steps-post" for line in rate_lines(fig))
    assert_legend_outside(fig)
    with_acc = curves_plot(staircase(), title="run")
    assert [ax.get_ylabel() for ax in with_acc.axes].count("accuracy") == 1


def test_the_loss_axis_from_point_3_to_2_3_is_not_one_decade_label():
    from lrscope.viz.curves import curves_plot

    fig = curves_plot(staircase(accuracy=False))
    svg_text(fig)
    loss_ax = next(ax for ax in fig.axes if ax.get_ylabel() == "loss")
    assert len(labelled_ticks(loss_ax.yaxis)) >= 3


def test_decay_lines_sit_where_the_rate_steps():
    from lrscope.viz.curves import curves_plot

    fig = curves_plot(staircase())
    verticals = sorted({float(line.get_xdata()[0]) for ax in fig.axes for line in ax.lines
                        if line.get_label() == "rate decay" or (len(set(line.get_xdata())) == 1
                                                               and line.get_linestyle() == ":")})
    assert verticals == [31.0, 46.0]  # the first epochs at 0.01 and at 0.001


def explained(tmp_path, accuracy: bool = True):
    from lrscope.jobs.explain import explain_path

    cols = staircase(accuracy)
    path = tmp_path / "log.csv"
    keys = list(cols)
    rows = [",".join(keys)] + [",".join(f"{cols[k][i]:.6g}" for k in keys) for i in range(EPOCHS.size)]
    path.write_text("\n".join(rows) + "\n")
    result = explain_path(path)
    return result, result.log


def test_explain_plot_ticks_steps_drops_from_the_decay_line(tmp_path):
    from lrscope.viz.explain import explanation_figure

    result, log = explained(tmp_path)
    fig = explanation_figure(result, log)
    assert assert_readable_log_axes(fig) >= 2
    assert all(line.get_drawstyle() == "steps-post" for line in rate_lines(fig))
    decays = sorted(e.x for e in result.events if e.decay)
    spans = [p for ax in fig.axes for p in ax.patches if p.get_label() == "drop after a decay"]
    assert decays and spans
    for span in spans:
        start = span.get_x()
        assert min(abs(start - d) for d in decays) < 1e-9, f"a drop shaded from {start}, decays at {decays}"
    assert_legend_outside(fig)


def test_explain_plot_without_accuracy_has_one_panel_and_no_warning(tmp_path):
    from lrscope.viz.explain import explanation_figure

    result, log = explained(tmp_path, accuracy=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = explanation_figure(result, log)
        svg_text(fig)
    assert not any(ax.get_ylabel().startswith("accuracy") for ax in fig.axes)


def test_same_series_same_colour_in_plot_explain_and_report(tmp_path):
    from lrscope.viz.curves import curves_plot
    from lrscope.viz.explain import explanation_figure
    from lrscope.viz.report_figures import curves_figure

    result, log = explained(tmp_path)
    plot = lines_by_label(curves_plot(staircase()))
    report = lines_by_label(curves_figure([{"label": "run", **staircase()}]))
    explain = lines_by_label(explanation_figure(result, log))
    for figure_lines, train, val in ((plot, "train loss", "val loss"), (report, "train loss", "validation loss"),
                                     (explain, "train_loss", "val_loss")):
        assert to_hex(figure_lines[train].get_color()) == palette.TRAIN
        assert to_hex(figure_lines[val].get_color()) == palette.VALIDATION
        assert to_hex(figure_lines["learning rate"].get_color()) == palette.LR


def test_report_curves_runs_compared_rates_distinct_from_validation():
    from lrscope.viz.report_figures import curves_figure

    other = dict(staircase(), lr=np.full(EPOCHS.size, 0.05))
    fig = curves_figure([{"label": "a", **staircase()}, {"label": "b", **other}])
    lines = lines_by_label(fig)
    assert assert_readable_log_axes(fig) >= 1  # the rate (a loss within a factor 8 stays linear here)
    for run in ("a", "b"):
        rate, val = lines[f"{run}: learning rate"], lines[f"{run}: validation"]
        assert rate.get_color() == val.get_color()  # the run's colour ...
        assert rate.get_linestyle() != val.get_linestyle()  # ... in another style
        assert rate.get_drawstyle() == "steps-post"
    assert lines["a: validation"].get_color() != lines["b: validation"].get_color()
    assert_legend_outside(fig)


def test_report_curves_shade_from_the_explanations_decay_line(tmp_path):
    from lrscope.viz.report_figures import curves_figure

    result, _ = explained(tmp_path)
    fig = curves_figure([{"label": "run", **staircase()}], explanation=result.to_json())
    starts = {round(p.get_x(), 6) for ax in fig.axes for p in ax.patches
              if p.get_label() == "drop after a decay"}
    assert starts and starts <= {e.x for e in result.events}


def test_rate_and_schedule_figures():
    from lrscope.schedules import parse_schedule
    from lrscope.viz.report_figures import rate_figure
    from lrscope.viz.schedule import schedule_figure

    fig = rate_figure(EPOCHS, LR)
    assert assert_readable_log_axes(fig) == 1
    assert fig.axes[0].lines[0].get_drawstyle() == "steps-post"
    sched = schedule_figure(parse_schedule("multistep(0.1, milestones=[30, 45])"), 60, log_y=True)
    assert assert_readable_log_axes(sched) == 1
    assert sched.axes[0].lines[0].get_drawstyle() == "steps-post"


def test_noise_series_is_smoothed_over_its_faint_raw_line():
    from lrscope.viz.report_figures import series_figure

    x = np.arange(0, 400, 4.0)
    noisy = 2 + np.random.default_rng(1).lognormal(0, 0.8, x.size)
    fig = series_figure(x, {"noise trace": noisy}, xlabel="step", ylabel="tr(Sigma)", lr=np.full(x.size, 0.1))
    lines = lines_by_label(fig)
    raw, smooth = lines["noise trace (raw)"], lines["noise trace (smoothed)"]
    assert raw.get_alpha() < 0.5 and (smooth.get_alpha() or 1.0) == 1.0
    assert np.nanstd(np.diff(smooth.get_ydata())) < 0.5 * np.nanstd(np.diff(raw.get_ydata()))
    assert_readable_log_axes(fig)


def finder_doc():
    from lrscope.analysis.finder_curve import debiased_ema, suggest, sweep_lrs
    from lrscope.analysis.finder_result import Sweep, combine_sweeps

    lrs = sweep_lrs(1e-5, 10.0, 60)
    losses = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 2) * 3)) + np.random.default_rng(0).normal(0, 0.02, 60)
    losses[-3:] = [4.0, 9.0, 30.0]
    found = suggest(lrs, losses)
    sweep = Sweep(lrs=lrs, losses=losses, smoothed=debiased_ema(losses, 0.98), fit=found["fit"],
                  slope=found["slope"], suggestions=found["suggestions"], range=found["range"],
                  interval=found["interval"], stopped="diverged", seed=0, reliable=found["reliable"])
    return combine_sweeps([sweep], [], 0.0, {}).to_json()


def test_finder_legend_is_off_the_suggestion_and_short():
    from lrscope.viz.finder import plot_finder

    doc = finder_doc()
    fig = plot_finder(doc).figure
    assert assert_readable_log_axes(fig) >= 1
    assert_legend_outside(fig)
    assert len(fig.legends[0].get_texts()) <= 7


def test_sharpness_single_checkpoint_draws_the_threshold_lines():
    from lrscope.viz.sharpness import sharpness_figure

    fig = sharpness_figure({"epoch": [58.0], "sharpness": [35.0], "lr": [0.0016], "momentum_threshold": [2400.0]})
    ax = fig.axes[0]
    limit = lines_by_label(fig)["2 / LR"]
    assert list(limit.get_xdata()) == [0, 1] and limit.get_ydata()[0] == pytest.approx(1250.0)  # across the plot
    assert any("2 / LR = 1250" in t.get_text() for t in ax.texts)
    assert lines_by_label(fig)["sharpness (top eigenvalue)"].get_markersize() >= 8
    assert assert_readable_log_axes(fig) == 1


def capture(monkeypatch, module) -> list:
    """Figures handed to save_figure (patched in the drawing module and in lrscope.viz.save)."""
    import lrscope.viz.save as save

    seen, original = [], save.save_figure

    def keep(fig, out, **kw):
        seen.append(fig)
        return original(fig, out, **kw)

    monkeypatch.setattr(save, "save_figure", keep)
    if hasattr(module, "save_figure"):
        monkeypatch.setattr(module, "save_figure", keep)
    return seen


def test_trajectory_log_colour_scale_and_final_marker_hollow(monkeypatch, tmp_path):
    from types import SimpleNamespace

    import lrscope.viz.surfaces as surfaces

    seen = capture(monkeypatch, surfaces)
    g = np.linspace(-3, 3, 31)
    xx, yy = np.meshgrid(g, g)
    t = np.linspace(0, 1, 30)
    path = {"coords": np.c_[-2.5 + 4.5 * (1 - np.exp(-4 * t)), -2 + 3.5 * (1 - np.exp(-5 * t))],
            "stage": [0] * 20 + [1] * 6 + [2] * 4, "lr": [0.1] * 20 + [0.01] * 6 + [0.001] * 4,
            "epochs": list(range(30))}
    surface = SimpleNamespace(kind="trajectory", x=g, y=g, loss=0.5 + (xx - 2) ** 2 + (yy - 1.5) ** 2, path=path)
    surfaces.plot_surface(surface, tmp_path / "t.svg")
    fig = seen[0]
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    assert bar.get_yscale() == "log"  # 0.5 .. 40 is under two decades: log all the same, for the basin
    assert len(labelled_ticks(bar.yaxis)) > 1
    final = lines_by_label(fig)["final (epoch 29)"]
    assert final.get_fillstyle() == "none"
    assert fig.axes[0].child_axes  # the inset on the later stages


def test_comparison_plot_steps_and_legend(monkeypatch, tmp_path):
    import lrscope.viz.compare as compare

    seen = capture(monkeypatch, compare)
    cols = staircase()
    rows = [{"name": n, "spec": n, "curves": {k: list(cols[k]) for k in ("epoch", "val_acc", "val_loss",
                                                                        "train_loss", "lr")}}
            for n in ("a", "b")]
    compare.save_comparison_plot(rows, tmp_path / "c.svg", target_acc=0.8)
    fig = seen[0]
    assert assert_readable_log_axes(fig) == 2
    rate_axis = next(ax for ax in fig.axes if ax.get_ylabel() == "learning rate")
    assert all(line.get_drawstyle() == "steps-post" for line in rate_axis.lines)
    assert_legend_outside(fig)


def test_nqm_plot_log_axes(monkeypatch, tmp_path):
    import lrscope.viz.nqm as nqm

    seen = capture(monkeypatch, nqm)
    steps = 200
    lrs = np.where(np.arange(steps) < 100, 0.1, 0.01)
    loss = np.r_[np.geomspace(1.0, 0.2, 101), np.geomspace(0.2, 0.05, 100)]
    nqm.plot_nqm(tmp_path / "n.svg", [{"spec": "step", "lrs": lrs, "loss": loss}], {0.1: 0.2, 0.01: 0.05}, steps)
    assert assert_readable_log_axes(seen[0]) == 2
    assert_legend_outside(seen[0])
