"""The words of an explanation on small logs with a known truth: directions and sizes, one number format, error
rates, pathologies, overfitting in every stage, what a smooth decay did, and a decay credited only with a fall
beyond the pace the curve already had (issue 16, "Truths the analysis must keep")."""

from __future__ import annotations

import re

import numpy as np

from lrscope.analysis.explain import explain
from lrscope.logs.runlog import build_runlog

# "<verb> ... A -> B" with the verb's claim (the same reading as tests/real_logs/_checks.py)
NUM = r"(-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?)"
CLAIM = re.compile(
    r"\b(fell|rose|barely moved)\b((?:(?!\bfell\b|\brose\b|\bbarely\b|\bheld\b|\. |; ).){0,60}?)\(?\s*"
    + NUM
    + r"\s*%?\s*->\s*"
    + NUM,
    re.IGNORECASE,
)
LONGER = re.compile(
    r"train(?:ing)? longer[^.;]*\bwould help|\b(?:needs?|needed|would (?:have )?need(?:ed)?) (?:about )?[\d,.]+ more\b"
    r"|decay came early|stage is not finished",
    re.IGNORECASE,
)


def make(columns, **kw):
    return build_runlog(
        {k: np.asarray(v, float) for k, v in columns.items()}, path="synthetic", fmt="test", notes=[], **kw
    )


def texts(result, kind=None):
    return [f.text for f in result.findings if kind is None or f.kind == kind]


def violations(text):
    bad = []
    for m in CLAIM.finditer(text):
        verb, a, b = m.group(1).lower(), float(m.group(3).replace(",", "")), float(m.group(4).replace(",", ""))
        if (verb == "fell" and b > a) or (verb == "rose" and b < a) or verb == "barely moved":
            bad.append(m.group(0))
    return bad


def staircase(n=120, cuts=(60, 90), seed=0, noise=0.01):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    lr = np.full(n, 0.1)
    floor = np.full(n, 0.6)
    for k, c in enumerate(cuts):
        lr[c:] = 0.1 * 0.1 ** (k + 1)
        floor[c:] = (0.25, 0.18)[k]
    loss = (floor + 1.5 * np.exp(-t / 8)) * np.exp(rng.normal(0, noise, n))
    return t + 1, lr, loss


# --- directions, sizes, numbers --------------------------------------------------------------------------------


def test_a_loss_that_rose_at_a_decay_is_said_to_have_risen():
    """The second cut comes while the loss climbs: never 'fell' or 'barely moved' about it."""
    ep, lr, loss = staircase(noise=0.0)
    loss = loss.copy()
    loss[90:] = loss[89] * np.linspace(1.05, 1.2, 30)  # worse after the second cut
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    drops = texts(r, "drop")
    assert len(drops) == 2
    assert "showed no distinct drop (it rose" in drops[1], drops[1]
    for t in texts(r):
        assert not violations(t), (violations(t), t)
        assert "barely moved" not in t


def test_the_same_rate_reads_the_same_everywhere():
    """0.0015625 is "0.00156" in every finding, never 0.0015625 or 0.001563."""
    ep, _, loss = staircase(cuts=(60,))
    lr = np.where(ep <= 60, 0.0125, 0.0015625)
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    joined = " ".join(texts(r))
    assert "0.00156" in joined
    assert "0.0015625" not in joined and "0.001563" not in joined


def test_percentages_come_from_the_drop_levels():
    ep, lr, loss = staircase(noise=0.0)
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    d = next(d for d in r.drops if d.event == 0 and d.metric == "train_loss")
    pct = round(100 * (d.before - d.after) / d.before)
    assert f"fell {pct}%" in texts(r, "drop")[0], (pct, texts(r, "drop")[0])


def test_an_error_fraction_is_worded_as_an_error_percentage():
    """A column of error rates (0.41 = 41 %, lower is better) is 'validation error 41.x%', never accuracy."""
    ep, lr, loss = staircase(cuts=(60,), noise=0.0)
    err = 0.2 + 0.21 * (loss / loss.max())
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss, "val_err": err}))
    joined = " ".join(texts(r))
    assert "validation error" in joined and "validation accuracy" not in joined, joined
    assert re.search(r"validation error fell \d\d\.\d% -> \d\d\.\d%", joined), joined


# --- units ------------------------------------------------------------------------------------------------------


def test_rates_are_per_step_from_the_x_column_not_per_row():
    """Rows 115 steps apart, the loss falling 0.1 % per step: the stage says about -0.1% per step (scaled to
    its logging interval), not -10% 'per step' (a per-row slope)."""
    n = 60
    step = 115 * np.arange(n)
    loss = 2.0 * np.exp(-0.001 * step)
    r = explain(make({"step": step, "lr": np.full(n, 0.1), "loss": loss}))
    st = r.stages[0]
    assert abs(st.tail_change - (np.exp(-0.001) - 1)) < 1e-4, st.tail_change
    text = texts(r, "stage")[0]
    m = re.search(r"changed (-?[\d.]+)% per (\d+) steps", text)
    assert m, text
    per, scale = float(m.group(1)), float(m.group(2))
    assert abs(per - 100 * (np.exp(-0.001 * scale) - 1)) < 0.05 * abs(per), text


def test_stage_spans_are_the_logs_own_x_values():
    ep, lr, loss = staircase()
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    assert [e.x for e in r.events] == [61.0, 91.0]
    stages = texts(r, "stage")
    assert stages[0].startswith("Stage 1 (epoch 1-60,") and stages[1].startswith("Stage 2 (epoch 61-90,"), stages


# --- pathologies --------------------------------------------------------------------------------------------------


def test_nan_loss_is_a_divergence_with_no_advice_to_train_longer():
    n = 40
    step = 10 * np.arange(n)
    loss = 2.0 * np.exp(-step / 200)
    loss[25:] = np.nan  # logged as nan from step 250
    r = explain(make({"step": step, "lr": np.full(n, 0.1), "loss": loss}))
    found = texts(r, "pathology")
    assert found and "became NaN at step 250" in found[0] and "diverged" in found[0], found
    assert not any(LONGER.search(t) for t in texts(r)), texts(r)


def test_a_sparse_loss_with_validation_only_rows_is_not_nan():
    """Rows that hold only a validation value (a final evaluation) are not a NaN training loss."""
    n = 50
    step = np.arange(n, dtype=float)
    loss = 2.0 * np.exp(-step / 30)
    lr = np.full(n, 0.1)
    val = np.full(n, np.nan)
    val[::10] = 2.2 * np.exp(-step[::10] / 30)
    step = np.append(step, [50, 51])
    loss, lr, val = np.append(loss, [np.nan, np.nan]), np.append(lr, [np.nan, np.nan]), np.append(val, [0.9, 0.9])
    r = explain(make({"step": step, "lr": lr, "loss": loss, "val_loss": val}))
    assert not texts(r, "pathology"), texts(r, "pathology")


def test_an_exploding_loss_is_named_and_gets_no_advice():
    n = 60
    ep = np.arange(1, n + 1)
    loss = np.concatenate([2.0 * np.exp(-np.arange(20) / 10), 0.3 * np.exp(np.arange(40) / 4)])
    r = explain(make({"epoch": ep, "lr": np.full(n, 0.1), "loss": loss}))
    found = texts(r, "pathology")
    assert found and "exploded" in found[0], texts(r)
    assert not any(LONGER.search(t) for t in texts(r)), texts(r)


def test_a_negative_loss_is_allowed_and_said_so():
    n = 60
    ep = np.arange(1, n + 1)
    loss = -1.0 - 2.0 * (1 - np.exp(-ep / 10))  # a negative log-likelihood of a density: fine, and falling
    r = explain(make({"epoch": ep, "lr": np.full(n, 0.1), "loss": loss}))
    found = texts(r, "pathology")
    assert found and "below zero" in found[0] and "log scale" in found[0], found
    assert not any(LONGER.search(t) for t in texts(r)), texts(r)
    assert not any("%" in t for t in texts(r, "stage")), texts(r, "stage")


def test_a_loss_that_rises_throughout_is_named():
    n = 50
    ep = np.arange(1, n + 1)
    rng = np.random.default_rng(3)
    loss = 1.0 + 0.02 * ep + rng.normal(0, 0.01, n)
    r = explain(make({"epoch": ep, "lr": np.full(n, 0.1), "loss": loss}))
    found = texts(r, "pathology")
    assert found and "rose throughout" in found[0], texts(r)
    assert not any(LONGER.search(t) for t in texts(r)), texts(r)


def test_a_healthy_run_has_no_pathology():
    ep, lr, loss = staircase()
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss, "val_loss": loss * 1.1}))
    assert not texts(r, "pathology")


# --- overfitting ----------------------------------------------------------------------------------------------------


def test_overfitting_before_the_first_decay_names_the_plateau_rule():
    """Validation loss doubles while training falls, then a plateau rule cuts the rate: reported in stage 1."""
    n = 40
    ep = np.arange(1, n + 1)
    lr = np.where(ep <= 30, 1e-3, 1e-4)
    train = 0.5 * np.exp(-ep / 8) + 0.01
    val = np.where(ep <= 20, 0.4 * np.exp(-ep / 8) + 0.06, 0.08 * (1 + 0.12 * (ep - 20)))
    r = explain(make({"epoch": ep, "lr": lr, "loss": train, "val_loss": val}))
    over = [f for f in r.findings if f.kind == "overfitting"]
    assert over and over[0].row < 30, [(f.kind, f.row) for f in r.findings]
    assert "In stage 1" in over[0].text and "ReduceLROnPlateau" in over[0].text, over[0].text
    stage1 = next(f.text for f in r.findings if f.kind == "stage")
    assert not LONGER.search(stage1), stage1


def test_few_evaluations_rising_at_every_one_is_overfitting_and_not_credited_to_the_decay():
    """HF trainer_state: 5 evaluations, each worse (0.321 -> 0.420), training loss falling; a linear decay."""
    step = np.arange(25, 5001, 25, dtype=float)
    lr = np.where(step <= 500, 1e-5 * step / 500, 1e-5 * (5000 - step) / 4500)
    train = 0.3 * np.exp(-step / 600) + 0.0002
    val = np.full(len(step), np.nan)
    for s, v in zip((1000, 2000, 3000, 4000, 5000), (0.321, 0.3585, 0.3937, 0.4123, 0.42), strict=True):
        val[int(s / 25) - 1] = v
    r = explain(make({"step": step, "learning_rate": lr, "loss": train, "eval_loss": val}))
    assert r.events == []
    assert texts(r, "overfitting"), texts(r)
    joined = " ".join(texts(r))
    assert not re.search(r"validation loss fell", joined), joined
    assert not any(LONGER.search(t) for t in texts(r)), texts(r)


def test_flat_validation_with_a_saturated_training_accuracy_is_not_overfitting():
    """gluoncv-like: the validation accuracy stays flat near 93 % while training accuracy saturates."""
    rng = np.random.default_rng(5)
    n = 100
    ep = np.arange(n)
    train_acc = 0.999 - 0.05 * np.exp(-ep / 10)
    val_acc = 0.933 + rng.normal(0, 0.0012, n)
    loss = 0.004 + 0.1 * np.exp(-ep / 10)
    r = explain(make({"epoch": ep, "lr": np.full(n, 0.001), "loss": loss, "train_acc": train_acc, "val_acc": val_acc}))
    assert not texts(r, "overfitting"), texts(r, "overfitting")


def test_an_overfitting_stage_gets_one_consistent_verdict():
    """Still falling *and* overfitting: the overfitting verdict wins; no 'the decay came early' for that stage."""
    n = 100
    ep = np.arange(1, n + 1)
    lr = np.where(ep <= 50, 0.1, 0.01)
    train = np.where(ep <= 50, 0.5 + np.exp(-ep / 10), 0.2 * np.exp(-(ep - 50) / 40))
    val = np.where(ep <= 50, 0.7 + np.exp(-ep / 10), 0.4 + 0.004 * np.maximum(0, ep - 55))
    r = explain(make({"epoch": ep, "lr": lr, "loss": train, "val_loss": val}))
    last = [f.text for f in r.findings if f.kind == "stage"][-1]
    assert "overfitting" in last and not LONGER.search(last), last
    assert any(f.kind == "overfitting" and 50 <= f.row <= 57 for f in r.findings)


# --- a decay's drop against the pace before it -------------------------------------------------------------------


def test_a_cut_during_steep_early_training_gets_no_drop_credit():
    """keras-ecg: the loss falls ~30 % per epoch before the cut and after it: the fall continues the pace."""
    ep = np.arange(19, dtype=float)
    loss = 0.25 * np.exp(-0.3 * ep)
    lr = np.where(ep < 17, 1e-3, 1e-4)
    r = explain(make({"step": ep, "lr": lr, "loss": loss}))
    assert texts(r, "drop"), texts(r)
    for t in texts(r, "drop"):
        assert "no distinct drop" in t and "A lower rate" not in t, t


def test_a_real_step_after_a_plateau_is_credited():
    ep, lr, loss = staircase(noise=0.02, seed=4)
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    first = texts(r, "drop")[0]
    assert first.startswith("The training loss fell") and "A lower rate" in first, first


def test_noise_at_a_cut_is_not_credited():
    rng = np.random.default_rng(11)
    n = 40
    ep = np.arange(n, dtype=float)
    loss = 0.06 * np.exp(rng.normal(0, 0.12, n))
    lr = np.where(ep < 20, 1e-3, 2e-4)
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss}))
    assert texts(r, "drop"), texts(r)
    for t in texts(r, "drop"):
        assert "A lower rate" not in t and not t.startswith("The training loss fell"), t


# --- smooth schedules ----------------------------------------------------------------------------------------------


def _wsd(n=5100, start=3650):
    rng = np.random.default_rng(2)
    step = np.arange(n + 1, dtype=float)
    lr = np.where(step < start, 0.0036, 0.0036 * (n - step) / (n - start))
    # the loss falls slowly at the constant rate and faster as the rate anneals
    base = 3.3 + 2.5 * np.exp(-step / 400) + 0.2 * (1 - np.clip((step - start) / (n - start), 0, 1))
    base -= 0.1 * np.clip((step - start) / (n - start), 0, 1) ** 1.0
    train = base * np.exp(rng.normal(0, 0.01, len(step)))
    val = np.full(len(step), np.nan)
    val[::125] = base[::125] + 0.02
    return step, lr, train, val


def test_a_logged_cooldown_is_described_with_the_logs_numbers():
    step, lr, train, val = _wsd()
    r = explain(make({"step": step, "lr": lr, "loss": train, "val_loss": val}))
    assert r.events == []
    cool = texts(r, "cooldown")
    assert cool and "at step 3650" in cool[0], texts(r)
    assert re.search(
        r"validation loss fell [\d.]+ -> [\d.]+, faster than before it \(-[\d.]+ per 125 steps", cool[0]
    ), cool[0]


def test_a_cooldown_from_a_schedule_spec_when_the_log_has_no_rate():
    step, _, train, val = _wsd()
    r = explain(
        make({"step": step, "loss": train, "val_loss": val}),
        "join([constant(0.0036), linear(0.0036, 0.0, 1450)], [3650])",
    )
    cool = texts(r, "cooldown")
    assert cool and "at step 3650" in cool[0] and "--schedule" in cool[0], texts(r)


def test_no_rate_and_no_spec_makes_no_schedule_claim():
    step, _, train, val = _wsd()
    r = explain(make({"step": step, "loss": train, "val_loss": val}))
    joined = " ".join(texts(r))
    assert not texts(r, "cooldown") and "at this rate would help" not in joined, joined
    assert "no learning-rate column" in joined


def test_per_group_rates_say_which_group_was_used():
    n = 30
    ep = np.arange(n, dtype=float)
    lr1 = 0.01 * (1 - ep / n) + 1e-4
    lr0 = np.where(ep < 3, 0.1 - 0.03 * ep, lr1)
    loss = 0.08 * np.exp(-ep / 15)
    r = explain(make({"epoch": ep, "x/lr0": lr0, "x/lr1": lr1, "x/lr2": lr1, "train/box_loss": loss}))
    used = r.source["columns"]["lr"]
    assert any(f"use {used!r}" in t for t in texts(r)), texts(r)


def test_a_rising_validation_loss_during_a_cosine_is_not_credited():
    n = 100
    t = np.arange(n, dtype=float)
    lr = 0.05 * 0.5 * (1 + np.cos(np.pi * t / n))
    train = 1.0 * np.exp(-t / 20) + 0.01
    val = 0.5 + 0.003 * t
    r = explain(make({"step": t, "lr": lr, "loss": train, "val_loss": val}))
    cool = texts(r, "cooldown")
    assert cool and "validation loss rose" in cool[0] and "not what moved it" in cool[0], cool


def test_a_tiny_stage_is_too_short_and_nothing_judges_it():
    ep, lr, loss = staircase(n=62, cuts=(60,))
    r = explain(make({"epoch": ep, "lr": lr, "loss": loss, "val_loss": loss * 1.2}))
    last = [f for f in r.findings if f.kind == "stage"][-1]
    assert "too short to judge" in last.text, last.text
    assert not [f for f in r.findings if f.kind == "overfitting" and f.row is not None and f.row >= 60]
