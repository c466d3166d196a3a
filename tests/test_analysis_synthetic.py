"""Analysis on synthetic curves with known truth: noise, spikes, warm-up, restarts, smooth schedules,
early decays."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.analysis.events import logged_events
from lrscope.analysis.explain import explain
from lrscope.logs.runlog import build_runlog


def make(columns, **kw):
    return build_runlog(
        {k: np.asarray(v, float) for k, v in columns.items()}, path="synthetic", fmt="test", notes=[], **kw
    )


def staircase(n=120, cuts=(60, 90), noise=0.0, seed=0, floors=(0.6, 0.25, 0.18)):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    lr = np.full(n, 0.1)
    floor = np.full(n, floors[0])
    for k, c in enumerate(cuts):
        lr[c:] = 0.1 * 0.1 ** (k + 1)
        floor[c:] = floors[k + 1]
    loss = (floor + 1.5 * np.exp(-t / 8)) * np.exp(rng.normal(0, noise, n))
    acc = 100 * (1 - loss / 3)
    return t + 1, lr, loss, acc


@pytest.mark.parametrize("noise", [0.0, 0.03, 0.08])
def test_noisy_staircase_logged_and_inferred(noise):
    ep, lr, loss, acc = staircase(noise=noise, seed=1)
    cols = {"epoch": ep, "lr": lr, "loss": loss, "val_loss": loss * 1.1, "val_acc": acc}
    r = explain(make(cols))
    assert [e.row for e in r.events] == [60, 90]
    assert any(d.metric == "train_loss" and d.event == 0 and d.relative > 0.3 for d in r.drops)
    cols.pop("lr")
    inferred = explain(make(cols)).events
    for truth in (60, 90):
        assert any(abs(e.row - truth) <= 2 for e in inferred), [e.row for e in inferred]
    assert all(e.source == "inferred" and 0 < e.confidence <= 1 for e in inferred)


def test_spikes_are_not_drops():
    ep, lr, loss, acc = staircase(cuts=(), floors=(0.6,))
    loss = loss.copy()
    loss[[30, 31, 70]] *= 3.0  # spikes up, then back
    cols = {"epoch": ep, "loss": loss, "val_loss": loss * 1.1, "val_acc": 100 * (1 - loss / 3)}
    r = explain(make(cols))
    assert r.events == []
    assert not [d for d in r.drops if d.relative > 0.2]


def test_warmup_then_steps_warmup_is_not_an_event():
    ep, lr, loss, acc = staircase()
    lr = lr.copy()
    lr[:5] = 0.1 * np.arange(1, 6) / 5
    events, shape = logged_events(lr, ep.astype(float))
    assert [e.row for e in events] == [60, 90]
    assert shape.kind == "step" and shape.warmup_rows == 4


@pytest.mark.parametrize("to_zero", [True, False])
def test_cosine_is_smooth_with_no_events(to_zero):
    n = 100
    t = np.arange(n)
    lo = 0.0 if to_zero else 1e-4
    lr = lo + (0.1 - lo) * 0.5 * (1 + np.cos(np.pi * t / (n - 1)))
    events, shape = logged_events(lr, t.astype(float))
    assert events == [] and shape.kind == "smooth"


def test_one_cycle_is_smooth():
    n = 30
    up = np.linspace(0.004, 0.1, 9)
    down = 0.1 * 0.5 * (1 + np.cos(np.pi * np.arange(1, n - 8) / (n - 9))) + 1e-6
    events, shape = logged_events(np.concatenate([up, down]), np.arange(n, dtype=float))
    assert events == [] and shape.kind == "smooth"


def test_warm_restarts_are_increase_events_and_blame_no_drop():
    t = np.arange(60)
    lr = 1e-3 + 0.1 * 0.5 * (1 + np.cos(np.pi * (t % 20) / 20))
    events, shape = logged_events(lr, t.astype(float))
    assert [e.row for e in events] == [20, 40]
    assert all(not e.decay for e in events) and shape.kind == "mixed"
    loss = 0.3 + 0.5 * (lr / 0.1)
    r = explain(make({"epoch": t + 1, "lr": lr, "loss": loss}))
    assert all(d.event is None for d in r.drops)


def test_decay_too_early_stage_not_plateaued():
    t = np.arange(80)
    lr = np.where(t < 15, 0.1, 0.01)
    loss = np.where(t < 15, 0.6 + 2 * np.exp(-t / 20), 0.3 + 0.6 * np.exp(-t / 20))
    r = explain(make({"epoch": t + 1, "lr": lr, "loss": loss}))
    assert r.stages[0].plateaued is False and r.stages[0].tail_change < 0
    assert "early" in next(f.text for f in r.findings if f.kind == "stage")


def test_plateaued_stage_is_judged_long_enough():
    ep, lr, loss, acc = staircase(n=200, cuts=(120, 170))
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    assert r.stages[0].plateaued


def test_step_level_binned_decays_located():
    n = 200_000
    rng = np.random.default_rng(0)
    step = np.arange(n)
    lr = np.where(step < 100_000, 0.1, np.where(step < 150_000, 0.01, 0.001))
    floor = np.where(step < 100_000, 0.6, np.where(step < 150_000, 0.12, 0.05))
    loss = (0.3 + 2 * np.exp(-step / 10_000) + floor) * np.exp(rng.normal(0, 0.15, n))
    r = explain(make({"step": step, "loss": loss}))
    rows = [e.row for e in r.events]
    for truth in (100_000, 150_000):
        assert any(abs(x - truth) <= 1_000 for x in rows), rows
    r2 = explain(make({"step": step, "lr": lr, "loss": loss}))
    assert [e.row for e in r2.events] == [100_000, 150_000]


def test_overfitting_after_decay_names_best_epoch():
    t = np.arange(100)
    lr = np.where(t < 50, 0.1, 0.01)
    train = np.where(t < 50, 0.5 + np.exp(-t / 10), 0.1 * np.exp(-(t - 50) / 20))
    val = np.where(t < 50, 0.7 + np.exp(-t / 10), 0.4 + 0.004 * np.maximum(0, t - 55))
    r = explain(make({"epoch": t + 1, "lr": lr, "loss": train, "val_loss": val}))
    f = [f for f in r.findings if f.kind == "overfitting"]
    assert f and 50 <= f[0].row <= 57


def test_a_metric_that_did_not_move_at_a_decay_is_said_to_hold():
    """Not 'the validation accuracy fell 96.936% -> 96.936%' (seen on a real run): it held."""
    ep, lr, loss, acc = staircase()
    acc = acc.copy()
    acc[55:] = 96.9361
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss, "val_loss": loss * 1.1, "val_acc": acc}))
    texts = [f.text for f in r.findings if f.kind == "drop"]
    assert len(texts) == 2 and all("the validation accuracy held at 96.9%" in t for t in texts), texts
    assert not any("96.936% -> 96.936%" in t for t in texts)
