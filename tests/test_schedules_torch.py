"""ScheduleLR: a real torch LRScheduler driven by a pure schedule (rates, momentum, resume, no warnings)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import UserError
from lrscope.schedules import cosine, multistep, onecycle, parse_schedule

torch = pytest.importorskip("torch")
S = torch.optim.lr_scheduler
from lrscope.schedules.torch import ScheduleLR, peak_rate  # noqa: E402


def tiny_problem(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(12, 3), torch.randn(12, 1)
    return model, x, y


def train_step(model, opt, x, y):
    opt.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.step()


@pytest.fixture(autouse=True)
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_is_a_torch_lr_scheduler():
    model, _, _ = tiny_problem()
    sched = ScheduleLR(torch.optim.SGD(model.parameters(), lr=0.1), "cosine(0.1, total=10)")
    assert isinstance(sched, S.LRScheduler)
    assert sched.get_last_lr() == [0.1]


def test_per_epoch_matches_multisteplr_in_a_training_loop():
    model, x, y = tiny_problem()
    model2, _, _ = tiny_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.1, momentum=0.9)
    ours = ScheduleLR(opt, multistep(0.1, [3, 5], 0.1), unit="epoch")
    theirs = S.MultiStepLR(opt2, [3, 5], 0.1)
    for _epoch in range(8):
        for batch in range(3):
            assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]
            train_step(model, opt, x[batch::3], y[batch::3])
            train_step(model2, opt2, x[batch::3], y[batch::3])
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr()
    for a, b in zip(model.parameters(), model2.parameters(), strict=False):
        assert torch.equal(a, b)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_per_step_onecycle_rate_and_momentum_match_onecyclelr(optimizer):
    total = 60
    make = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.4, momentum=0.9),  # the spec's peak: OneCycleLR ignores it
        "adam": lambda p: torch.optim.AdamW(p, lr=0.4),
    }[optimizer]
    model, x, y = tiny_problem()
    model2, _, _ = tiny_problem()
    opt, opt2 = make(model.parameters()), make(model2.parameters())
    ours = ScheduleLR(opt, onecycle(0.4, total, pct_start=0.25, anneal="linear"), unit="step")
    theirs = S.OneCycleLR(opt2, 0.4, total_steps=total, pct_start=0.25, anneal_strategy="linear")
    key = "momentum" if optimizer == "sgd" else "betas"
    for _ in range(total):
        g, g2 = opt.param_groups[0], opt2.param_groups[0]
        assert g["lr"] == pytest.approx(g2["lr"], rel=1e-12, abs=0)
        assert np.allclose(np.ravel(g[key]), np.ravel(g2[key]), rtol=1e-12, atol=0)
        train_step(model, opt, x, y)
        train_step(model2, opt2, x, y)
        ours.step()
        theirs.step()
    for a, b in zip(model.parameters(), model2.parameters(), strict=False):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_cycle_momentum_off_and_optimizers_without_momentum():
    model, _, _ = tiny_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.4, momentum=0.5)
    ScheduleLR(opt, "onecycle(0.4, total=100)", cycle_momentum=False)
    assert opt.param_groups[0]["momentum"] == 0.5
    with pytest.raises(UserError, match="cycle_momentum=False"):
        ScheduleLR(torch.optim.Adagrad(model.parameters(), lr=0.4), "onecycle(0.4, total=100)")
    ScheduleLR(torch.optim.Adagrad(model.parameters(), lr=0.1), "cosine(0.1, total=10)")  # no curve: fine


def test_param_groups_keep_their_own_base_rate_whatever_their_order():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    # the first group is NOT at the spec's base rate 0.2: it must not be forced onto s(t)
    opt = torch.optim.SGD([{"params": [a], "lr": 0.02}, {"params": [b], "lr": 0.2}], lr=0.2)
    sched = ScheduleLR(opt, cosine(0.2, 10))
    s = cosine(0.2, 10)
    for t in range(12):
        assert opt.param_groups[0]["lr"] == pytest.approx(s(t) * 0.1, rel=1e-12)
        assert opt.param_groups[1]["lr"] == pytest.approx(s(t), rel=1e-12)
        opt.step()
        sched.step()


def test_three_groups_match_torch_multisteplr_and_onecyclelr_given_per_group_rates():
    def groups(rates):
        return [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": r} for r in rates]

    rates = [0.01, 0.1, 0.5]  # the base rate (0.1) in the middle: order must not matter
    ours_opt, torch_opt = torch.optim.SGD(groups(rates), lr=0.1), torch.optim.SGD(groups(rates), lr=0.1)
    ours = ScheduleLR(ours_opt, multistep(0.1, [3, 5], 0.1), unit="step")
    theirs = S.MultiStepLR(torch_opt, milestones=[3, 5], gamma=0.1)
    for _ in range(8):
        assert [g["lr"] for g in ours_opt.param_groups] == pytest.approx([g["lr"] for g in torch_opt.param_groups])
        ours_opt.step(), torch_opt.step(), ours.step(), theirs.step()
    peak = 0.4
    rates = [0.04, 0.4, 2.0]
    ours_opt = torch.optim.SGD(groups(rates), lr=peak, momentum=0.9)
    torch_opt = torch.optim.SGD(groups(rates), lr=peak, momentum=0.9)
    ours = ScheduleLR(ours_opt, onecycle(peak, 40, pct_start=0.25), unit="step")
    theirs = S.OneCycleLR(torch_opt, max_lr=rates, total_steps=40, pct_start=0.25)
    for _ in range(40):
        got, want = [g["lr"] for g in ours_opt.param_groups], [g["lr"] for g in torch_opt.param_groups]
        assert got == pytest.approx(want, rel=1e-9)
        assert [g["momentum"] for g in ours_opt.param_groups] == pytest.approx(
            [g["momentum"] for g in torch_opt.param_groups]
        )
        ours_opt.step(), torch_opt.step(), ours.step(), theirs.step()


def test_timm_lr_scale_multiplies_a_group():
    p = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    opt = torch.optim.SGD(
        [
            {"params": [p[0]], "lr": 0.05},
            {"params": [p[1]], "lr": 0.5},
            {"params": [p[2]], "lr": 0.1, "lr_scale": 0.25},
        ],
        lr=0.1,
    )
    sched = ScheduleLR(opt, "multistep(0.1, milestones=[2])", unit="step")
    for _ in range(3):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.005, 0.05, 0.0025], rel=1e-12)


def test_no_group_at_the_base_rate_warns_once():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.01)
    with pytest.warns(UserWarning, match="base rate 0.4") as caught:
        sched = ScheduleLR(opt, "onecycle(0.4, total=20)")
        for _ in range(5):
            opt.step()
            sched.step()
    assert len([w for w in caught if "base rate" in str(w.message)]) == 1
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025 * parse_schedule("onecycle(0.4, total=20)")(5))


def test_bad_unit():
    model, _, _ = tiny_problem()
    with pytest.raises(UserError, match="unit"):
        ScheduleLR(torch.optim.SGD(model.parameters(), lr=0.1), "constant(0.1)", unit="batch")


SPECS = [
    "onecycle(0.4, total=80)",
    "warmup(5, cosine(0.1, total=70))",
    "multistep(0.1, [10, 30])",
    "sgdr(0.1, period=7, mult=2, min_lr=0.001)",
    "exponential(0.1, gamma=0.97)",
    "join([linear(0.01, 0.1, total=10), step(0.1, step_size=15)], boundaries=[10])",
]


def _rates(opt, sched, n, model, x, y):
    out = []
    for _ in range(n):
        g = opt.param_groups[0]
        out.append((g["lr"], g["momentum"]))
        train_step(model, opt, x, y)
        sched.step()
    return out


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(SPECS), st.integers(0, 70))
def test_resume_gives_identical_rates(spec, cut):
    n = 80
    model, x, y = tiny_problem()
    base = peak_rate(parse_schedule(spec))  # the optimizer's lr is the spec's, as users set it
    opt = torch.optim.SGD(model.parameters(), lr=base, momentum=0.9)
    sched = ScheduleLR(opt, spec, unit="step")
    straight = _rates(opt, sched, n, model, x, y)

    model, x, y = tiny_problem()
    opt = torch.optim.SGD(model.parameters(), lr=base, momentum=0.9)
    sched = ScheduleLR(opt, spec, unit="step")
    first = _rates(opt, sched, cut, model, x, y)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # plain values only: loads under weights_only

    model2, _, _ = tiny_problem(seed=1)  # a fresh model, optimizer and scheduler, as after a restart
    model2.load_state_dict(saved["model"])
    opt2 = torch.optim.SGD(model2.parameters(), lr=base, momentum=0.9)
    sched2 = ScheduleLR(opt2, spec, unit="step")
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    assert sched2.t == cut and sched2.unit == "step"
    rest = _rates(opt2, sched2, n - cut, model2, x, y)
    assert first + rest == straight


def test_resume_without_optimizer_state_still_sets_rate():
    model, _, _ = tiny_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.4, momentum=0.9)
    sched = ScheduleLR(opt, "onecycle(0.4, total=50)")
    for _ in range(17):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert set(state) >= {"t", "spec"} and state["t"] == 17
    opt2 = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched2 = ScheduleLR(opt2, "constant(0.1)")  # the saved spec (and base rates) win
    sched2.load_state_dict(state)
    s = parse_schedule("onecycle(0.4, total=50)")
    assert opt2.param_groups[0]["lr"] == s(17) and opt2.param_groups[0]["momentum"] == s.momentum(17)
    assert sched2.schedule == s
    with pytest.raises(UserError):
        sched2.load_state_dict({"nothing": 1})


def test_stepping_past_onecycle_total_holds_instead_of_raising():
    model, _, _ = tiny_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.4, momentum=0.9)
    sched = ScheduleLR(opt, "onecycle(0.4, total=10)")
    for _ in range(15):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.4 / 25 / 1e4)


def test_a_warm_up_that_replaces_the_start_keeps_the_specs_base_rate():
    """warmup(..., prefix=False) approaches its peak without reaching it: the base rate is the supremum (the
    left limit at the end of the ramp), so a group at the spec's lr follows the spec exactly and nothing warns."""
    spec = "warmup(5, cosine(0.1, total=100), prefix=False)"
    assert peak_rate(parse_schedule(spec)) == 0.1
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = ScheduleLR(opt, spec, unit="step")
    for t in range(1, 12):
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(float(parse_schedule(spec)(t)), rel=1e-12)


def test_prefix_false_keeps_the_runs_t_and_round_trips():
    shifted = parse_schedule("warmup(5, cosine(0.1, total=100))")
    kept = parse_schedule("warmup(5, cosine(0.1, total=100), prefix=False)")
    cosine = parse_schedule("cosine(0.1, total=100)")
    assert float(kept(40)) == pytest.approx(float(cosine(40)))
    assert float(shifted(40)) == pytest.approx(float(cosine(35)))
    assert parse_schedule(kept.spec) == kept and "prefix=False" in kept.spec and "prefix" not in shifted.spec
    (event,) = kept.events(0, 200)
    assert event.t == 5 and event.lr_before == pytest.approx(0.1) and event.lr_after == pytest.approx(float(cosine(5)))


@pytest.mark.parametrize("total", [184, 378, 1001])
def test_a_onecycle_whose_peak_falls_between_two_steps_keeps_its_max_lr(total):
    """pct_start * total is not an integer here: the peak lies between two steps, and sampling whole steps
    alone would put the base rate a hair below max_lr and warn that no group starts at it."""
    assert peak_rate(onecycle(0.003, total=total)) == pytest.approx(0.003, rel=1e-9)
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ScheduleLR(opt, f"onecycle(0.003, total={total})", unit="step")
