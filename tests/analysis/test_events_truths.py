"""Rate changes read off a logged rate, a schedule spec, or a log that restarts: the truths of issue 16.

Steps are 1.3x changes between stretches where the rate holds; a rate that changes on every row has none, even
where the ratio between rows is large; a fall the rate climbs back from is a restarted warm-up, not a decay;
a spec is counted in the unit the log's x axis says (or --step-unit), and one that misses the log says so."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.analysis.events import classify_changes, cooldown_start, logged_events, place_schedule
from lrscope.analysis.explain import explain
from lrscope.analysis.smooth import x_per_row
from lrscope.errors import UserError
from lrscope.logs.runlog import build_runlog


def make(columns, **kw):
    return build_runlog(
        {k: np.asarray(v, float) for k, v in columns.items()}, path="synthetic", fmt="test", notes=[], **kw
    )


def rows_of(lr, x=None):
    lr = np.asarray(lr, dtype=np.float64)
    events, shape = logged_events(lr, np.arange(len(lr), dtype=float) if x is None else x)
    return [e.row for e in events], shape


# --- steps between held stretches ----------------------------------------------------------------------------


def test_plateau_cuts_two_rows_apart_and_a_small_clamped_one_are_all_steps():
    """ReduceLROnPlateau (factor 0.2, min_lr 1e-6) written as float32: cuts at rows 9, 26, 28, 30 and a 1.6x
    cut at 32 clamped by min_lr; the neighbouring cuts two rows away do not hide each other."""
    lr = np.array([1e-3] * 9 + [2e-4] * 17 + [4e-5] * 2 + [8e-6] * 2 + [1.6e-6] * 2 + [1e-6] * 3, dtype=np.float32)
    rows, shape = rows_of(lr.astype(np.float64))
    assert rows == [9, 26, 28, 30, 32]
    assert shape.kind == "step" and shape.cooldown_row is None


def test_a_cut_right_at_the_end_of_a_warm_up_is_a_step():
    """detectron2's WarmupMultiStepLR: the rate rises every row, then is cut 20x at its peak and held."""
    lr = np.concatenate([np.linspace(2e-5, 1e-3, 50), np.full(25, 5e-5), np.full(15, 2.5e-6)])
    rows, shape = rows_of(lr)
    assert rows == [50, 75]
    assert shape.kind == "step" and shape.warmup_rows == 49


@pytest.mark.parametrize(
    "name, lr",
    [
        ("triangular", np.concatenate([0.1 + 0.058 * np.arange(51), 3.0 - 0.058 * np.arange(1, 50)])),
        ("linear to 0.001", 0.01 * ((1 - np.arange(22) / 22) * 0.99 + 0.01)),
        (
            "1cycle sampled every 50 steps",
            np.array(
                [0.0048, 0.0073, 0.0115, 0.017, 0.024, 0.032, 0.040, 0.049, 0.058, 0.067, 0.075, 0.083]
                + [0.089, 0.094, 0.098, 0.0997, 0.09997, 0.0997, 0.090, 0.070, 0.045, 0.020, 0.0064]
                + [0.0030, 0.00087, 0.000278, 1.52e-05]
            ),
        ),
        ("bias warm-up falling 4.35x, then held, then linear", [0.070, 0.0397, 0.00914, 0.00865, 0.00865, 0.0082]),
        ("cosine to zero", 0.05 * (1 + np.cos(np.pi * np.arange(101) / 100))),
    ],
)
def test_a_rate_that_changes_on_every_row_has_no_step(name, lr):
    rows, shape = rows_of(lr)
    assert rows == [], name
    assert shape.kind == "smooth", name


def test_a_decay_to_a_floor_that_is_then_held_is_no_step():
    """A linear decay to 0 (or a cosine to its minimum) held for the last rows ends smoothly: no step there."""
    for lr in (np.concatenate([np.linspace(0.1, 0.0, 30), np.zeros(5)]), 1e-4 + np.linspace(0.1, 0, 30) ** 2):
        rows, shape = rows_of(lr)
        assert rows == [] and shape.kind == "smooth"


def test_a_cut_in_a_rate_that_wobbles_on_every_row_is_a_step():
    """An adaptive per-batch rate summarised per row wobbles by up to 1.8x between rows; a 10x cut stands out."""
    rng = np.random.default_rng(3)
    lr = np.where(np.arange(120) < 80, 0.01, 0.001) * np.exp(rng.normal(0, 0.15, 120))
    rows, _ = rows_of(lr)
    assert rows == [80]


def test_sparse_logged_rate_is_judged_on_its_logged_values(tmp_path):
    """A rate logged every 50 steps in a merged table (NaN between): the gaps are no holds, so a 1cycle's
    last samples are no steps and a real cut is one."""
    steps = np.arange(0, 2800, 25, dtype=float)
    onecycle = np.where(steps < 800, 0.004 + 0.096 * steps / 800, 0.05 * (1 + np.cos(np.pi * (steps - 800) / 2000)))
    onecycle = np.clip(onecycle, 1.5e-5, None)
    lr = np.where(np.arange(len(steps)) % 2 == 0, onecycle, np.nan)
    loss = 2.0 * np.exp(-steps / 1000) + 0.1
    r = explain(make({"step": steps, "lr": lr, "loss": loss}))
    assert r.events == [] and r.shape.kind == "smooth"
    stepped = np.where(np.arange(len(steps)) % 2 == 0, np.where(steps < 1400, 0.1, 0.01), np.nan)
    r = explain(make({"step": steps, "lr": stepped, "loss": loss}))
    assert [e.x for e in r.events] == [1400.0]


def test_warm_restarts_of_a_cosine_are_raises_not_decays():
    t = np.arange(60)
    lr = 1e-3 + 0.1 * 0.5 * (1 + np.cos(np.pi * (t % 20) / 20))
    rows, shape = rows_of(lr)
    assert rows == [20, 40] and shape.restarts == 2


# --- restarted warm-ups ---------------------------------------------------------------------------------------


def _appended_warmups():
    """Two runs appended: a warm-up to 2.5e-4 over 15 rows, then a resumed run whose warm-up restarts lower
    (3.1x fall) and climbs back to 2.5e-4, where it holds."""
    first = 2.5e-4 * np.linspace(0.06, 1.0, 16)
    second = np.concatenate([np.linspace(8e-5, 2.5e-4, 35), np.full(30, 2.5e-4)])
    return np.concatenate([first, second])


def test_a_fall_the_rate_climbs_back_from_is_a_restarted_warm_up():
    lr = _appended_warmups()
    rows, shape = rows_of(lr)
    assert rows == []
    (r,) = shape.restarted_warmups
    assert r.row == 16 and r.source == "restart" and not r.decay
    assert r.lr_before == pytest.approx(2.5e-4) and r.lr_after == pytest.approx(8e-5)
    assert 45 <= r.end_row <= 51  # back at 2.5e-4


def test_a_restarted_warm_up_blames_no_drop_and_is_worded():
    lr = _appended_warmups()
    it = 20.0 * np.arange(len(lr)) + 19
    loss = 0.3 + 0.6 * np.exp(-np.arange(len(lr)) / 20)
    r = explain(make({"iteration": it, "lr": lr, "total_loss": loss}, loss="total_loss"))
    assert not [e for e in r.events if e.decay]
    assert all(d.event is None for d in r.drops)
    texts = [f.text for f in r.findings if "restarted warm-up" in f.text]
    assert texts and "fell 3.12x" in texts[0] and "not a decay" in texts[0]
    doc = r.to_json()
    assert doc["schedule"]["restarted_warmups"][0]["x"] == it[16]


def test_a_noisy_rate_is_not_a_string_of_restarts():
    rng = np.random.default_rng(0)
    lr = 0.01 * np.exp(rng.normal(0, 0.3, 200))
    assert classify_changes(lr).restart.sum() == 0


# --- smooth decays: where the cooldown starts ------------------------------------------------------------------


def test_cooldown_starts_where_the_stable_phase_ends():
    """warm-up-stable-decay: 10 rows up, constant to row 60, linear to 0 over the last 40 rows."""
    lr = np.concatenate([np.linspace(0.1, 1.0, 10), np.ones(51), np.linspace(1.0, 0.0, 41)[1:]])
    _, shape = rows_of(lr)
    assert shape.kind == "smooth" and shape.warmup_rows == 9 and shape.cooldown_row == 60
    assert cooldown_start(np.full(30, 0.1)) is None


def test_a_step_schedule_has_no_cooldown():
    _, shape = rows_of(np.repeat([0.1, 0.01, 0.001], 30))
    assert shape.cooldown_row is None


# --- schedule specs and their unit ----------------------------------------------------------------------------


def epoch_log(n=50, first=0):
    ep = np.arange(first, first + n, dtype=float)
    return make({"epoch": ep, "loss": 2.0 * np.exp(-ep / 10) + 0.2})


def test_spec_on_an_epoch_log_counts_epochs_and_says_so():
    placed = place_schedule("step(0.0001, 40)", epoch_log())
    assert [e.x for e in placed.events] == [40.0] and placed.unit == "epoch"
    assert any("counted in epochs" in n and "--step-unit" in n for n in placed.notes)
    assert not any("outside" in n for n in placed.notes)  # StepLR jumps past any run's end: no note


def test_one_based_epochs_first_use_the_new_rate_one_epoch_later():
    placed = place_schedule("multistep(0.1, milestones=[50, 100])", epoch_log(150, first=1))
    assert [e.x for e in placed.events] == [51.0, 101.0]


def test_a_spec_that_misses_the_log_entirely_is_an_error():
    with pytest.raises(UserError, match=r"t=60, 120 lie outside the log's epoch range 0-49"):
        place_schedule("multistep(0.1, milestones=[60, 120])", epoch_log())


def test_changes_past_the_log_and_a_unit_mismatch_give_notes():
    placed = place_schedule("multistep(0.1, milestones=[20, 120])", epoch_log())
    assert [e.x for e in placed.events] == [20.0]
    assert any("t=120 lie outside" in n for n in placed.notes)
    steps = np.arange(0, 5000, dtype=float)
    log = make({"step": steps, "loss": 1 / (1 + steps / 100)})
    placed = place_schedule("multistep(0.1, milestones=[30, 60])", log)
    assert any("first 5 %" in n and "--step-unit" in n for n in placed.notes)
    placed = place_schedule("linear(0.1, 0.0, 4500)", epoch_log())
    assert any("still changing at t=4500" in n for n in placed.notes)


def test_a_log_with_epoch_and_step_columns_counts_epochs_unless_the_spec_lies_past_them():
    steps = np.arange(25, 5001, 25, dtype=float)
    log = make({"step": steps, "epoch": steps / 131.0, "loss": 1 / (1 + steps / 500)})
    assert place_schedule("multistep(0.1, milestones=[10, 20])", log).unit == "epoch"
    placed = place_schedule("warmup(500, linear(1e-05, 0.0, 4500))", log)
    assert placed.unit == "step" and placed.events == []
    assert placed.shape.kind == "smooth" and log.columns["step"][placed.shape.cooldown_row] == 500.0
    (e,) = place_schedule("multistep(0.1, milestones=[1000])", log, step_unit="step").events
    assert log.columns["step"][e.row] == 1000.0


def test_step_unit_is_checked():
    with pytest.raises(UserError, match="--step-unit"):
        explain(epoch_log(), "step(0.1, 10)", step_unit="batch")
    with pytest.raises(UserError, match="counts epochs"):
        place_schedule("step(0.1, 10)", epoch_log(), step_unit="step")


def test_explain_with_a_spec_notes_the_unit_and_the_shape():
    r = explain(epoch_log(), "multistep(0.1, milestones=[20, 35])")
    assert [e.x for e in r.events] == [20.0, 35.0] and r.shape.kind == "step"
    assert any("counted in epochs" in n for n in r.notes)


def test_x_per_row_turns_per_row_slopes_into_per_x_slopes():
    assert x_per_row(np.arange(0, 5000, 115.0)) == pytest.approx(115.0)
    assert x_per_row(np.array([19.0, 39.0, np.nan, 79.0])) == pytest.approx(20.0)
    assert x_per_row(np.array([3.0])) == 1.0


# --- the real logs that log their rate ------------------------------------------------------------------------


def read(real_logs, name):
    from lrscope.logs.read import read_runs

    try:
        return read_runs(real_logs / name)
    except UserError as exc:
        pytest.skip(f"{name}: {exc}")


@pytest.mark.parametrize(
    "name, xs",
    [
        ("keras-brats-unet-reducelr-learning_rate-column.csv", [9, 26, 28, 30, 32]),
        ("detectron2-watermeter-digits-fasterrcnn-multistep-metrics.json", [1019, 1519]),
        ("keras-ecg-resnet-reducelr-epoch_lr.tfevents", [17]),
        ("caffe-superconv-cifar10-resnet20-multistep.log", [50000, 70000]),
        ("simpleclassification-resnet18-cosine.tfevents", []),
        ("lightning-cifar10-resnet18-onecycle-lr-SGD-metrics.csv", []),
        ("caffe-superconv-cifar10-resnet56-clr-triangular.log", []),
        ("hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json", []),
    ],
)
def test_real_logged_rates(real_logs, name, xs):
    (log,) = read(real_logs, name)
    if not log.has("lr"):
        pytest.skip(f"{name}: no rate column recognised")
    events, shape = logged_events(log.role("lr"), log.x)
    assert [e.x for e in events] == xs
    assert shape.kind == ("step" if xs else "smooth")


def test_real_yolo_rate_columns_are_smooth_with_a_cooldown_after_epoch_4(real_logs):
    (log,) = read(real_logs, "yolov5-driving-yolov5s-linear-22ep-results.csv")
    for name in ("x/lr0", "x/lr1", "x/lr2"):
        events, shape = logged_events(log.columns[name], log.x)
        assert events == [] and shape.kind == "smooth", name
        assert log.x[shape.cooldown_row] == 4.0, name


def test_real_appended_detectron2_runs_restart_their_warm_up(real_logs):
    """The last run (lines 19-119) holds a fresh run's warm-up (14x fall at iteration 19) and the resumed run's
    (3.1x at 319, back at 0.00025 by iteration 999): restarted warm-ups, no decay."""
    runs = read(real_logs, "detectron2-mine-maskrcnn-appended-runs-metrics.json")
    log = runs[-1]
    events, shape = logged_events(log.role("lr"), log.x)
    assert [e for e in events if e.decay] == []
    restarts = {r.x: r for r in shape.restarted_warmups}
    assert 319.0 in restarts and log.x[restarts[319.0].end_row] == 999.0
    assert restarts[319.0].factor == pytest.approx(3.118, rel=1e-3)


def test_a_fall_followed_only_by_rises_is_classified():
    from lrscope.analysis.events import classify_changes

    # every change after the fall is a rise (no held or falling change anywhere): a damaged log found this
    v = np.array([1.0, 0.1, 0.2, 0.4, 0.8])
    changes = classify_changes(v)  # used to index an empty array
    assert len(changes.step) == len(changes.restart) == len(v) - 1
    assert not changes.step[1:].any()  # the rises are no steps
