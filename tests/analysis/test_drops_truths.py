"""What a decay did to each metric: tied with a lag, robust levels that say the direction, 'sharp' only beyond
the trend and the noise, and no drop made of a quantised metric's noise (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.analysis.explain import explain
from lrscope.analysis.levels import measure
from lrscope.analysis.smooth import series
from lrscope.errors import UserError
from lrscope.logs.runlog import build_runlog


def make(columns, **kw):
    return build_runlog(
        {k: np.asarray(v, float) for k, v in columns.items()}, path="synthetic", fmt="test", notes=[], **kw
    )


def staircase(n=150, cut=100, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    lr = np.where(t < cut, 0.1, 0.01)
    loss = np.where(t < cut, 0.6, 0.25) + 1.5 * np.exp(-t / 8)
    return t + 1, lr, loss * np.exp(rng.normal(0, noise, n))


def tied(r, metric, k=0):
    return [d for d in r.drops if d.metric == metric and d.event == k]


def test_an_evaluation_every_k_rows_is_tied_to_the_cut_before_it():
    """Validation every 5 rows: the first evaluation after the cut (3 rows later) carries the fall."""
    ep, lr, loss = staircase()
    val = np.full(len(ep), np.nan)
    every = (np.arange(len(ep)) % 5) == 3
    val[every] = (loss * 1.2)[every]
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss, "val_loss": val}))
    (d,) = tied(r, "val_loss")
    assert d.row == 103 and d.after < 0.7 * d.before and d.sharp
    assert not [d for d in r.drops if d.event is None and d.metric == "val_loss" and abs(d.row - 100) <= 10]


def test_a_test_run_before_any_update_at_the_new_rate_lags_the_fall_by_one_row():
    """Caffe tests at iteration N before the update at N: the row of the cut still shows the old level."""
    ep, lr, loss = staircase()
    test = loss * 1.3
    test[1:] = test[:-1].copy()  # the test at each row sees the weights of the row before
    r = explain(make({"iteration": 100.0 * (ep - 1), "lr": lr, "loss": loss, "val_loss": test}))
    (d,) = tied(r, "val_loss")
    assert d.row == 101 and d.before == pytest.approx(test[100]) and d.after == pytest.approx(test[101])


def test_a_gradual_response_is_followed_to_its_new_level():
    """A test loss that falls 3-4 % per evaluation for six evaluations after the cut, then flattens."""
    n, cut = 120, 80
    g = np.full(n, np.log(0.53))
    g[cut : cut + 7] -= np.cumsum([0.033, 0.037, 0.031, 0.027, 0.024, 0.021, 0.004])
    g[cut + 7 :] = g[cut + 6] - 0.0005 * np.arange(n - cut - 7)
    lr = np.where(np.arange(n) < cut, 0.035, 0.0035)
    r = explain(make({"epoch": np.arange(1, n + 1), "lr": lr, "val_loss": np.exp(g)}))
    (d,) = tied(r, "val_loss")
    assert d.before == pytest.approx(0.53, rel=1e-6)
    assert d.after <= 0.53 * np.exp(-0.15)  # most of the ramp, not its first step


def test_a_metric_that_rose_is_said_to_have_risen():
    ep, lr, loss = staircase()
    val = np.where(np.arange(len(ep)) < 100, 0.8, 0.9)
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss, "val_loss": val}))
    (d,) = tied(r, "val_loss")
    assert d.after > d.before and d.relative < 0
    for drop in r.drops:  # the sign always follows the levels
        lower = r.drops and series(make({"epoch": ep, "x": val}, loss="x"), "train_loss").lower_is_better
        assert lower and np.sign(drop.relative) == np.sign(drop.before - drop.after) or drop.relative == 0


def test_levels_of_a_noisy_curve_are_robust_medians():
    """Step-level noise of 15 % with spikes: the quoted levels stay within 10 % of the true ones."""
    ep, lr, loss = staircase(n=600, cut=400, noise=0.15, seed=2)
    loss[[390, 396, 405]] *= 6.0
    r = explain(make({"step": ep, "lr": lr, "loss": loss}))
    (d,) = tied(r, "train_loss")
    assert d.before == pytest.approx(0.6, rel=0.1) and d.after == pytest.approx(0.25, rel=0.1)


def test_a_loss_keeping_its_pace_across_the_cut_is_not_sharp():
    """A steady 1.5 % fall per row that the cut does not change (a warm-up's end): tied, but not sharp."""
    n = 90
    loss = 0.8 * np.exp(-0.015 * np.arange(n))
    lr = np.where(np.arange(n) < 50, 1e-3, 5e-5)
    r = explain(make({"iteration": 20.0 * np.arange(n) + 19, "lr": lr, "total_loss": loss}, loss="total_loss"))
    (d,) = tied(r, "train_loss")
    assert not d.sharp and d.after < d.before


def test_noise_around_a_flat_level_is_not_sharp():
    rng = np.random.default_rng(5)
    loss = 0.055 * np.exp(rng.normal(0, 0.12, 35))
    lr = np.repeat([1e-3, 2e-4, 4e-5, 8e-6], [10, 16, 2, 7])
    r = explain(make({"epoch": np.arange(35), "lr": lr, "loss": loss}))
    assert not [d for d in r.drops if d.event is not None and d.sharp]


def test_a_clean_step_is_sharp():
    ep, lr, loss = staircase()
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    (d,) = tied(r, "train_loss")
    assert d.sharp and d.row == 100 and d.before == pytest.approx(loss[99]) and d.after == pytest.approx(loss[100])


def test_levels_never_cross_the_neighbouring_cuts():
    s_log = make({"epoch": np.arange(1, 41), "loss": np.repeat([1.0, 0.5, 0.2, 0.1], 10)})
    s = series(s_log, "train_loss")
    lev = measure(s, 20, 10, 30)
    assert lev.before == pytest.approx(0.5) and lev.after == pytest.approx(0.2)
    assert measure(s, 10, 10, 30) is None  # no point before the cut inside the stage


def test_a_quantised_metric_wobbling_between_a_few_values_is_not_a_drop():
    """Accuracy on a 50-image evaluation set (multiples of 2 %) and a loss printed with 4 decimals near zero."""
    rng = np.random.default_rng(1)
    acc = np.round(np.clip(0.9 + rng.normal(0, 0.02, 200), 0, 1) * 50) / 50
    loss = np.round(0.0004 * np.exp(-np.arange(200) / 150) + rng.normal(0, 0.00003, 200), 4)
    r = explain(make({"step": 25.0 * np.arange(1, 201), "loss": np.maximum(loss, 0.0001), "val_acc": acc}))
    assert r.events == []
    assert not [d for d in r.drops if d.event is None]


# --- real logs ------------------------------------------------------------------------------------------------


def read(real_logs, name, **kw):
    from lrscope.logs.read import read_runs

    try:
        return read_runs(real_logs / name, **kw)
    except UserError as exc:
        pytest.skip(f"{name}: {exc}")


def test_real_bearpaw_first_decay_halves_the_training_loss(real_logs):
    (log,) = read(real_logs, "bearpaw-cifar10-resnet110.tsv")
    (d,) = tied(explain(log), "train_loss")
    assert d.x == 82 and d.before == pytest.approx(0.162, rel=0.05) and d.after == pytest.approx(0.081, rel=0.05)


def test_real_caffe_second_cut_test_loss_reaches_its_new_level(real_logs):
    """0.530 (median of rows 601-700) -> 0.4333 (row 711) after a gradual response; the train loss shows no drop."""
    (log,) = read(real_logs, "caffe-superconv-cifar10-resnet20-multistep.log")
    r = explain(log)
    (v,) = tied(r, "val_loss", 1)
    assert v.before == pytest.approx(0.530, rel=0.05) and 0.38 <= v.after <= 0.4766
    (t,) = tied(r, "train_loss", 1)
    assert not t.sharp and t.after > 0.9 * t.before


def test_real_watermeter_loss_keeps_its_pace_across_the_cut(real_logs):
    (log,) = read(real_logs, "detectron2-watermeter-digits-fasterrcnn-multistep-metrics.json")
    r = explain(log)
    assert not [d for d in r.drops if d.metric == "train_loss" and d.event is not None and d.sharp]


def test_real_detr_ecg_test_loss_spikes_are_no_drops(real_logs):
    runs = read(real_logs, "detr-ecg-two-runs-appended-steplr-log.jsonl")
    if len(runs) != 2:
        pytest.skip("the appended runs are not split yet")
    for log, spikes in zip(runs, ((74,), (75, 152)), strict=True):
        r = explain(log)
        loose = [d for d in r.drops if d.event is None and d.metric == "val_loss"]
        assert not [d for d in loose if any(abs(d.x - (s + 1)) <= 1 for s in spikes)], loose


def test_real_quantised_hf_training_loss_gives_no_late_drops(real_logs):
    """The Trainer prints the loss with 4 decimals: 0.0003 -> 0.0002 late in training is one quantum."""
    (log,) = read(real_logs, "hf-commonvoice-ja-whisper-large-v2-linear-trainer_state.json")
    r = explain(log)
    assert not [d for d in r.drops if d.metric == "train_loss" and d.x >= 1500]
