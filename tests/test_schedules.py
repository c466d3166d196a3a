"""Schedules against their torch twins (relative error <= 1e-12); spec language, JSON, events."""

from __future__ import annotations

import bisect
import json
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lrscope.errors import UserError
from lrscope.schedules import (
    SCHEDULES,
    Event,
    Schedule,
    constant,
    cosine,
    exponential,
    format_spec,
    join,
    linear,
    multistep,
    onecycle,
    parse_schedule,
    piecewise,
    poly,
    schedule_from_json,
    sgdr,
    step,
    triangular,
    warmup,
)

torch = pytest.importorskip("torch")
S = torch.optim.lr_scheduler

TOL = 1e-12
# LRSCOPE_TWIN_EXAMPLES=500 for a long hunt; 25 keeps the suite quick
TWIN = settings(
    max_examples=int(os.environ.get("LRSCOPE_TWIN_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def torch_rates(base: float, make, n: int) -> np.ndarray:
    """The rate torch uses at t = 0 .. n-1: read group lr, optimizer.step(), scheduler.step()."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's nested constructors warn about their own set-up
        sched = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def assert_twin(schedule: Schedule, base: float, make, n: int) -> None:
    ref = torch_rates(base, make, n)
    got = schedule(np.arange(n))
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
    worst = int(np.argmax(rel))
    assert rel[worst] <= TOL, f"{schedule.spec}: t={worst} ours {got[worst]!r} torch {ref[worst]!r}"
    # one scalar evaluation agrees with the vectorised one
    assert schedule(worst) == got[worst]


lrs = st.floats(1e-5, 2.0)
gammas = st.floats(0.01, 0.99)


# ---------------------------------------------------------------------------------------- torch twins


@TWIN
@given(lrs, st.integers(1, 40), gammas, st.integers(1, 300))
def test_step_vs_steplr(lr, step_size, gamma, n):
    assert_twin(step(lr, step_size, gamma), lr, lambda o: S.StepLR(o, step_size, gamma), n)


@TWIN
@given(lrs, st.lists(st.integers(0, 150), max_size=6).map(sorted), gammas)
def test_multistep_vs_multisteplr(lr, milestones, gamma):
    assert_twin(multistep(lr, milestones, gamma), lr, lambda o: S.MultiStepLR(o, milestones, gamma), 200)


@TWIN
@given(lrs, st.floats(0.5, 1.02), st.integers(1, 1500))
def test_exponential_vs_exponentiallr(lr, gamma, n):
    assert_twin(exponential(lr, gamma), lr, lambda o: S.ExponentialLR(o, gamma), n)


@TWIN
@given(lrs, st.one_of(st.just(0.0), st.floats(1e-8, 1.0)), st.integers(1, 300), st.booleans())
def test_linear_vs_linearlr(lr, ratio, total, rising):
    if rising:  # LinearLR cannot rise above its base: the twin runs on base lr `end`
        assume(ratio > 0)
        schedule, make = linear(lr * ratio, lr, total), (lambda o: S.LinearLR(o, ratio, 1.0, total))
        assume(schedule.start / schedule.end == ratio)
    else:
        schedule, make = linear(lr, lr * ratio, total), (lambda o: S.LinearLR(o, 1.0, ratio, total))
        assume(schedule.end / schedule.start == ratio)
    assert_twin(schedule, lr, make, total + 10)


@TWIN
@given(lrs, st.integers(1, 400), st.floats(0.1, 5.0))
def test_poly_vs_polynomiallr(lr, total, power):
    assert_twin(poly(lr, total, power), lr, lambda o: S.PolynomialLR(o, total, power), total + 10)


@TWIN
@given(lrs, st.integers(1, 300), st.one_of(st.just(0.0), st.floats(1e-4, 0.9)), st.sampled_from([1.0, 3.2]))
def test_cosine_vs_cosineannealinglr(lr, total, min_frac, horizon):
    # horizon 3.2: past total torch's recursion climbs back up; we replay it there
    low = lr * min_frac
    n = int(horizon * total) + 2
    assert_twin(cosine(lr, total, low), lr, lambda o: S.CosineAnnealingLR(o, total, low), n)


@TWIN
@given(lrs, st.integers(1, 40), st.integers(1, 3), st.one_of(st.just(0.0), st.floats(1e-4, 0.9)))
def test_sgdr_vs_warmrestarts(lr, period, mult, min_frac):
    low = lr * min_frac
    assert_twin(
        sgdr(lr, period, mult, low), lr, lambda o: S.CosineAnnealingWarmRestarts(o, period, mult, low), 400
    )


@TWIN
@given(
    lrs,
    st.floats(1e-3, 0.9),
    st.integers(1, 60),
    st.sampled_from(["triangular", "triangular2", "exp_range"]),
    st.floats(0.95, 1.0),
)
def test_triangular_vs_cycliclr(max_lr, base_frac, step_size, mode, gamma):
    base = max_lr * base_frac
    assert_twin(
        triangular(base, max_lr, step_size, mode, gamma),
        base,
        lambda o: S.CyclicLR(o, base, max_lr, step_size, mode=mode, gamma=gamma, cycle_momentum=False),
        6 * step_size + 3,
    )


@st.composite
def onecycle_configs(draw):
    total = draw(st.integers(4, 1200))
    three = draw(st.booleans())
    pct = draw(st.floats(0.05, 0.45 if three else 0.95))
    config = dict(
        max_lr=draw(lrs),
        total=total,
        pct_start=pct,
        div_factor=draw(st.floats(1.5, 100.0)),
        final_div_factor=draw(st.floats(1.0, 1e5)),
        anneal=draw(st.sampled_from(["cos", "linear"])),
        three_phase=three,
    )
    try:
        onecycle(**config)
    except UserError:
        assume(False)
    return config


def _onecycle_twin(c):
    return lambda o: S.OneCycleLR(
        o,
        c["max_lr"],
        total_steps=c["total"],
        pct_start=c["pct_start"],
        div_factor=c["div_factor"],
        final_div_factor=c["final_div_factor"],
        anneal_strategy=c["anneal"],
        three_phase=c["three_phase"],
    )


@TWIN
@given(onecycle_configs())
def test_onecycle_vs_onecyclelr(c):
    assert_twin(onecycle(**c), c["max_lr"], _onecycle_twin(c), c["total"])


@TWIN
@given(onecycle_configs())
def test_onecycle_momentum_vs_onecyclelr(c):
    s = onecycle(**c)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = _onecycle_twin(c)(opt)
    ref = []
    for _ in range(c["total"]):
        ref.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    got = s.momentum(np.arange(c["total"]))
    np.testing.assert_allclose(got, ref, rtol=TOL, atol=0)


def test_onecycle_holds_final_value_past_total():
    s = onecycle(0.4, 100)
    assert s(99) == pytest.approx(0.4 / 25 / 1e4, rel=1e-12)
    assert s(np.array([100, 150, 1e6])).tolist() == [s(99)] * 3
    assert s.momentum(500) == s.momentum(99) == pytest.approx(0.95)


def test_constant_and_piecewise_vs_lambdalr():
    assert_twin(constant(0.05), 0.05, lambda o: S.LambdaLR(o, lambda t: 1.0), 20)
    values, bounds = [0.1, 0.02, 0.3, 0.001], [5, 9, 17]
    assert_twin(
        piecewise(values, bounds),
        1.0,
        lambda o: S.LambdaLR(o, lambda t: values[bisect.bisect_right(bounds, t)]),
        30,
    )


_INNER = {
    "step": (lambda lr: step(lr, 7, 0.5), lambda o: S.StepLR(o, 7, 0.5)),
    "cosine": (lambda lr: cosine(lr, 40), lambda o: S.CosineAnnealingLR(o, 40, 0.0)),
    "exponential": (lambda lr: exponential(lr, 0.93), lambda o: S.ExponentialLR(o, 0.93)),
    "multistep": (lambda lr: multistep(lr, [10, 25], 0.2), lambda o: S.MultiStepLR(o, [10, 25], 0.2)),
}


@TWIN
@given(lrs, st.integers(1, 20), st.floats(0.01, 1.0), st.sampled_from(["step", "exponential", "multistep"]))
def test_warmup_vs_sequential_linearlr(lr, steps, start_factor, inner):
    ours, theirs = _INNER[inner]
    assert_twin(
        warmup(steps, ours(lr), start_factor),
        lr,
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor, 1.0, steps), theirs(o)], [steps]),
        steps + 60,
    )


def test_warmup_from_zero():
    s = warmup(4, cosine(0.2, 10))
    assert s(np.arange(6)).tolist() == pytest.approx(
        [0.0, 0.05, 0.1, 0.15, 0.2, cosine(0.2, 10)(1)], rel=1e-15
    )


@TWIN
@given(
    lrs,
    st.lists(st.sampled_from(["step", "exponential", "multistep"]), min_size=1, max_size=3),
    st.lists(st.integers(1, 30), min_size=2, max_size=2),
)
def test_join_vs_sequentiallr(lr, names, gaps):
    bounds = list(np.cumsum(gaps[: len(names) - 1]).tolist())
    ours = join([_INNER[n][0](lr) for n in names], bounds)
    assert_twin(ours, lr, lambda o: S.SequentialLR(o, [_INNER[n][1](o) for n in names], bounds), 90)


def test_join_with_cosine_vs_sequentiallr():
    lr = 0.1
    ours = join([step(lr, 5, 0.5), cosine(lr, 30, 0.001)], [12])
    assert_twin(
        ours,
        lr,
        lambda o: S.SequentialLR(o, [S.StepLR(o, 5, 0.5), S.CosineAnnealingLR(o, 30, 0.001)], [12]),
        40,
    )


def test_long_exponential_and_large_t_closed_form():
    s = exponential(0.1, 0.9999)
    assert_twin(s, 0.1, lambda o: S.ExponentialLR(o, 0.9999), 20000)
    big = 3e6  # beyond the replayed table: closed form
    assert s(big) == pytest.approx(0.1 * 0.9999**big, rel=1e-9)


# ---------------------------------------------------------------------------------------- evaluation


def test_scalar_and_array_evaluation():
    s = cosine(0.1, 100)
    assert isinstance(s(3), float)
    assert isinstance(s(np.float64(3.0)), float)
    grid = s(np.arange(12).reshape(3, 4))
    assert grid.shape == (3, 4) and grid[0, 3] == s(3)
    assert s([0, 50, 100]).tolist() == pytest.approx([0.1, 0.05, 0.0], abs=1e-15)
    assert s(np.array([], dtype=float)).shape == (0,)
    assert 0.05 < s(49.5) < s(49)  # fractional t (e.g. fractional epochs) uses the formula
    assert s.momentum(3) is None


@pytest.mark.parametrize("bad", [-1, [0, -2], math.nan, math.inf])
def test_bad_t(bad):
    with pytest.raises(UserError):
        step(0.1, 3)(bad)


# ---------------------------------------------------------------------------------------- events


def test_events_step_and_multistep():
    assert step(0.1, 10, 0.5).events(0, 35) == [
        Event(10.0, 0.1, 0.05),
        Event(20.0, 0.05, 0.025),
        Event(30.0, 0.025, 0.0125),
    ]
    assert step(0.1, 10, 0.5).events(15, 30) == [Event(20.0, 0.05, 0.025)]  # [t0, t1)
    s = multistep(0.1, [30, 45], 0.1)
    ev = s.events(0, 100)
    assert [e.t for e in ev] == [30.0, 45.0]
    assert ev[0].lr_before == 0.1 and ev[0].lr_after == s(30) and ev[1].lr_before == s(44)
    assert ev[0].factor == pytest.approx(0.1)
    (twice,) = multistep(0.1, [5, 5], 0.1).events(0, 10)  # a repeated milestone decays by gamma**2 at once
    assert twice.t == 5.0 and twice.lr_before == 0.1 and twice.lr_after == pytest.approx(0.001, rel=1e-15)


def test_events_piecewise_skips_non_changes():
    s = piecewise([0.1, 0.1, 0.01, 0.05], [10, 20, 30])
    assert s.events(0, 100) == [Event(20.0, 0.1, 0.01), Event(30.0, 0.01, 0.05)]
    assert s.left_limit(20) == 0.1 and s.left_limit(25) == 0.01


def test_events_sgdr_and_continuous():
    s = sgdr(0.1, 10, 2, 0.001)
    assert s.events(0, 80) == [Event(10.0, 0.001, 0.1), Event(30.0, 0.001, 0.1), Event(70.0, 0.001, 0.1)]
    for smooth in (
        cosine(0.1, 50),
        onecycle(0.4, 100),
        linear(0.1, 0.0, 10),
        exponential(0.1, 0.9),
        triangular(0.01, 0.1, 5),
        poly(0.1, 20),
    ):
        assert smooth.events(0, 1000) == []


def test_events_join_and_warmup():
    s = join([constant(0.1), step(0.05, 10, 0.1), cosine(0.2, 20)], [5, 30])
    ev = s.events(0, 60)
    assert ev == [
        Event(5.0, 0.1, 0.05),
        Event(15.0, 0.05, s(15)),
        Event(25.0, s(24), s(25)),
        Event(30.0, s.schedules[1].left_limit(25), 0.2),
    ]
    assert s.events(6, 26) == ev[1:3]
    # a boundary where the rate carries on is not an event
    assert join([constant(0.1), cosine(0.1, 10)], [5]).events(0, 20) == []
    # a cosine that ends at min_lr and restarts: the left limit is min_lr, not the rate one step before
    assert join([cosine(0.1, 10, 0.01), constant(0.1)], [10]).events(0, 20) == [Event(10.0, 0.01, 0.1)]
    w = warmup(5, multistep(0.1, [10, 20], 0.1))
    assert [e.t for e in w.events(0, 100)] == [15.0, 25.0]
    assert w.events(0, 15) == []


# ---------------------------------------------------------------------------------------- spec language


def test_issue_spec_forms_parse():
    forms = [
        "constant(0.1)",
        "step(0.1, step_size=30)",
        "step(0.1, 30, gamma=0.5)",
        "multistep(0.1, milestones=[30, 60], gamma=0.1)",
        "piecewise([0.1, 0.01, 0.001], [30, 60])",
        "exponential(0.1, gamma=0.95)",
        "linear(0.1, 0.001, total=20)",
        "poly(0.1, total=40, power=2.0)",
        "cosine(0.1, total=50, min_lr=0.001)",
        "sgdr(0.1, period=10, mult=2, min_lr=0.0)",
        "triangular(0.001, 0.1, step_size=10, mode='exp_range', gamma=0.99)",
        "onecycle(0.4, total=1000, pct_start=0.25, div_factor=10.0, final_div_factor=1e3, anneal='linear', "
        "three_phase=True)",
        "warmup(5, cosine(0.1, total=95), start_factor=0.1)",
        "join([constant(0.1), step(0.1, 10)], boundaries=[5])",
    ]
    for text in forms:
        s = parse_schedule(text)
        assert parse_schedule(s.spec) == s
    assert parse_schedule("  0.25 ") == constant(0.25)
    assert parse_schedule("step(lr=0.1, step_size=7.0)") == step(0.1, 7) == parse_schedule("step(0.1, 7)")
    assert parse_schedule("constant(1)") == constant(1.0)
    assert parse_schedule("onecycle(0.4, total=1000)").spec == "onecycle(0.4, total=1000)"
    assert format_spec(linear(0.1, 0.001, 20)) == "linear(0.1, 0.001, total=20)"
    assert format_spec(warmup(5, cosine(0.1, 95))) == "warmup(5, cosine(0.1, total=95))"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cosin(0.1, total=10)", "did you mean cosine"),
        ("foo(1)", "valid schedules: constant, step, multistep"),
        ("step(0.1, step_sz=3)", "parameters: step(lr, step_size, gamma=0.1)"),
        ("step(0.1)", "missing step_size"),
        ("step(0.1, 3, gamma=0.5, gamma=0.2)", "twice"),
        ("step(0.1, 3, step_size=4)", "twice"),
        ("step(0.1, 3, 0.1, 7)", "at most 3"),
        ("step(0.1, 2.5)", "step_size must be an integer"),
        ("step(-0.1, 2)", "lr must be"),
        ("step('a', 2)", "lr must be a number"),
        ("cosine(0.1, total=10", "cannot parse"),
        ("__import__('os').system('true')", "expected a schedule name"),
        ("cosine(0.1, total=10 + 5)", "only numbers"),
        ("triangular(0.1, 1, 5, mode=triangular2)", "strings need quotes"),
        ("triangular(0.1, 1, 5, mode='sine')", "mode must be one of"),
        ("multistep(0.1, [30, 10])", "sorted"),
        ("piecewise([0.1, 0.01], [5, 10])", "one more value than boundaries"),
        ("join([constant(0.1), constant(0.01)], [])", "one boundary fewer"),
        ("join([constant(0.1), 'x'], [3])", "list of schedules"),
        ("warmup(5, 'cosine')", "must be a schedule"),
        ("onecycle(0.1, total=3)", "every phase needs at least one step"),
        ("onecycle(0.1, total=100, three_phase=1)", "True or False"),
        ("exponential(0.1, gamma=0)", "gamma must be"),
        ("cosine(0.1, total=1e400)", "integer"),
        ("", "empty"),
        ("[1, 2]", "not a schedule call"),
        ("step(*[0.1, 2])", "not allowed"),
    ],
)
def test_bad_specs(text, expected):
    with pytest.raises(UserError) as info:
        parse_schedule(text)
    message = str(info.value)
    assert expected in message, message
    assert "\n" not in message


@st.composite
def schedules(draw, depth=2):
    pos = st.floats(1e-6, 10.0)
    frac = st.floats(0.0, 1.0)
    small = st.integers(1, 1000)
    kinds = [
        "constant",
        "step",
        "multistep",
        "piecewise",
        "exponential",
        "linear",
        "poly",
        "cosine",
        "wsd",
        "sgdr",
        "triangular",
        "onecycle",
    ] + (["warmup", "join"] if depth > 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "constant":
        return constant(draw(pos))
    if kind == "step":
        return step(draw(pos), draw(small), draw(frac))
    if kind == "multistep":
        return multistep(draw(pos), sorted(draw(st.lists(st.integers(0, 500), max_size=4))), draw(frac))
    if kind == "piecewise":
        bounds = sorted(set(draw(st.lists(st.integers(1, 500), max_size=4))))
        return piecewise([draw(pos) for _ in range(len(bounds) + 1)], bounds)
    if kind == "exponential":
        return exponential(draw(pos), draw(st.floats(0.5, 1.0)))
    if kind == "linear":
        return linear(draw(pos), draw(pos), draw(small))
    if kind == "poly":
        return poly(draw(pos), draw(small), draw(st.floats(0.1, 4.0)))
    if kind == "cosine":
        return cosine(draw(pos), draw(small), draw(st.sampled_from([0.0, 1e-5, 0.001])))
    if kind == "sgdr":
        return sgdr(draw(pos), draw(small), draw(st.integers(1, 3)), draw(st.sampled_from([0.0, 1e-4])))
    if kind == "triangular":
        return triangular(
            draw(pos),
            draw(pos),
            draw(small),
            draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
            draw(st.floats(0.9, 1.0)),
        )
    if kind == "onecycle":
        try:
            return onecycle(
                draw(pos),
                draw(st.integers(10, 5000)),
                draw(st.floats(0.05, 0.45)),
                draw(st.floats(1.0, 100.0)),
                draw(st.floats(1.0, 1e5)),
                draw(st.sampled_from(["cos", "linear"])),
                draw(st.booleans()),
                draw(st.sampled_from([0.85, 0.8])),
                draw(st.sampled_from([0.95, 0.99])),
            )
        except UserError:
            assume(False)
    if kind == "warmup":
        return warmup(draw(small), draw(schedules(depth=depth - 1)), draw(st.sampled_from([0.0, 0.1, 1e-3])))
    parts = draw(st.lists(schedules(depth=depth - 1), min_size=1, max_size=3))
    bounds = sorted(draw(st.sets(st.integers(1, 1000), min_size=len(parts) - 1, max_size=len(parts) - 1)))
    return join(parts, bounds)


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_spec_and_json_round_trip(s):
    assert parse_schedule(s.spec) == s
    assert parse_schedule(s.spec).spec == s.spec
    doc = json.loads(json.dumps(s.to_json()))
    assert doc["schema"] == "lrscope.schedule/1"
    back = schedule_from_json(doc)
    assert back == s and hash(back) == hash(s)
    assert schedule_from_json(json.dumps(doc)) == s
    t = np.array([0.0, 1.0, 7.0, 99.0, 1234.0])
    assert np.array_equal(back(t), s(t))


def test_from_json_rejects_garbage():
    for doc in (
        {"type": "nope", "params": {}},
        {"spec": "x"},
        {"type": "step", "params": {"lr": 0.1, "size": 1}},
    ):
        with pytest.raises(UserError):
            schedule_from_json(doc)


def test_registry_and_docstrings():
    assert list(SCHEDULES) == [
        "constant",
        "step",
        "multistep",
        "piecewise",
        "exponential",
        "linear",
        "poly",
        "cosine",
        "wsd",
        "sgdr",
        "triangular",
        "onecycle",
        "warmup",
        "join",
    ]
    for cls in SCHEDULES.values():
        assert cls.__doc__ and f"{cls.name}(" in cls.__doc__


def test_schedules_are_immutable():
    s = step(0.1, 3)
    with pytest.raises(AttributeError):
        s.lr = 0.2  # type: ignore[misc]
