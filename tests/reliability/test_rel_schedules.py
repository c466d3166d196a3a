"""Schedules and the torch adapter: saving state at any step and resuming gives the rates of an uninterrupted run.

For every schedule of ``lrscope.schedules.SCHEDULES`` (hypothesis draws its parameters): a ``ScheduleLR`` on an
SGD optimizer runs N steps; at a random step k its ``state_dict()`` and the optimizer's go through
``torch.save``/``torch.load(weights_only=True)`` into a *fresh* optimizer and scheduler, which run on to N.  The
rates (and 1cycle's momentum) after k are bitwise those of the uninterrupted run and of the pure ``s(t)``; and the
spec text, which is all a run directory stores, parses back to the same rates.
"""

from __future__ import annotations

import io

import faultlib
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lrscope.errors import UserError
from lrscope.schedules import SCHEDULES, parse_schedule

torch = pytest.importorskip("torch")
from lrscope.schedules.torch import ScheduleLR, peak_rate  # noqa: E402 - after the torch check

CMD = faultlib.command_for("test_rel_schedules.py")
RATE = st.floats(1e-5, 5.0, allow_nan=False).map(lambda v: float(f"{v:.6g}"))
FRACTION = st.floats(0.01, 0.99).map(lambda v: float(f"{v:.4g}"))
SMALL = st.integers(1, 40)


def _sorted_ints(lo, hi, max_size=4, unique=False):
    return st.lists(st.integers(lo, hi), min_size=1, max_size=max_size, unique=unique).map(sorted)


LEAVES = {
    "constant": st.builds(lambda a: f"constant({a!r})", RATE),
    "step": st.builds(lambda a, k, g: f"step({a!r}, step_size={k}, gamma={g!r})", RATE, SMALL, FRACTION),
    "multistep": st.builds(
        lambda a, m, g: f"multistep({a!r}, milestones={m}, gamma={g!r})", RATE, _sorted_ints(0, 80), FRACTION
    ),
    "piecewise": _sorted_ints(1, 80, unique=True).flatmap(
        lambda b: st.lists(RATE, min_size=len(b) + 1, max_size=len(b) + 1).map(lambda v: f"piecewise({v}, {b})")
    ),
    "exponential": st.builds(lambda a, g: f"exponential({a!r}, gamma={g!r})", RATE, FRACTION),
    "linear": st.builds(lambda a, b, n: f"linear({a!r}, {b!r}, total={n})", RATE, RATE, SMALL),
    "poly": st.builds(
        lambda a, n, p: f"poly({a!r}, total={n}, power={p!r})", RATE, SMALL, st.sampled_from([0.5, 1.0, 2.0, 3.0])
    ),
    "cosine": st.builds(lambda a, n, f: f"cosine({a!r}, total={n}, min_lr={a * f!r})", RATE, SMALL, FRACTION),
    "wsd": st.builds(
        lambda a, n, d, kind, w, f: f"wsd({a!r}, total={n + 10}, decay_frac={d!r}, decay={kind!r}, warmup={w}, "
        f"min_lr={a * f!r})",
        RATE,
        SMALL,
        st.sampled_from([0.1, 0.2, 0.5, 1.0]),
        st.sampled_from(["linear", "cosine", "1-sqrt"]),
        st.integers(0, 5),
        FRACTION,
    ),
    "sgdr": st.builds(
        lambda a, n, m, f: f"sgdr({a!r}, period={n}, mult={m}, min_lr={a * f!r})",
        RATE,
        SMALL,
        st.integers(1, 3),
        FRACTION,
    ),
    "triangular": st.builds(
        lambda a, f, k, mode, g: f"triangular({a * f!r}, {a!r}, step_size={k}, mode={mode!r}, gamma={g!r})",
        RATE,
        FRACTION,
        SMALL,
        st.sampled_from(["triangular", "triangular2", "exp_range"]),
        st.floats(0.9, 1.0).map(lambda v: float(f"{v:.4g}")),
    ),
    "onecycle": st.builds(
        lambda a, n, p, anneal, three: (
            f"onecycle({a!r}, total={n}, pct_start={p!r}, anneal={anneal!r}, three_phase={three})"
        ),
        RATE,
        st.integers(10, 200),
        st.floats(0.1, 0.45).map(lambda v: float(f"{v:.3g}")),
        st.sampled_from(["cos", "linear"]),
        st.booleans(),
    ),
}
LEAF = st.one_of(*LEAVES.values())
COMBINED = {
    "warmup": st.builds(
        lambda k, inner, f, p: f"warmup({k}, {inner}, start_factor={f!r}, prefix={p})",
        SMALL,
        LEAF,
        st.sampled_from([0.0, 0.1, 0.5]),
        st.booleans(),
    ),
    "join": st.builds(lambda a, b, k: f"join([{a}, {b}], [{k}])", LEAF, LEAF, SMALL),
}
ANY = st.one_of(LEAF, *COMBINED.values())


def test_every_schedule_is_fuzzed():
    """A schedule added later must get a strategy here too."""
    assert set(SCHEDULES) == set(LEAVES) | set(COMBINED)


def _run(spec: str, steps: int, *, resume_at: int | None = None) -> tuple[list[float], list[float | None]]:
    """Rates (and momenta) in effect for optimizer steps 0..steps-1, optionally saving/loading at resume_at."""
    param = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([param], lr=peak_rate(parse_schedule(spec)), momentum=0.9)  # as users set it
    scheduler = ScheduleLR(optimizer, spec, unit="step")
    lrs, moms = [], []
    for t in range(steps):
        if t == resume_at:
            blob = io.BytesIO()
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, blob)
            blob.seek(0)
            state = torch.load(blob, weights_only=True)
            param = torch.nn.Parameter(torch.zeros(3))
            optimizer = torch.optim.SGD([param], lr=7.0, momentum=0.5)  # deliberately different
            optimizer.load_state_dict(state["optimizer"])
            scheduler = ScheduleLR(optimizer, "constant(7.0)", unit="step")  # overwritten by the state
            scheduler.load_state_dict(state["scheduler"])
        group = optimizer.param_groups[0]
        lrs.append(float(group["lr"]))
        moms.append(float(group["momentum"]))
        param.grad = torch.ones(3)
        optimizer.step()
        scheduler.step()
    return lrs, moms


@settings(
    max_examples=faultlib.trials(60, 600),
    deadline=None,
    derandomize=not faultlib.FULL,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(spec=ANY, steps=st.integers(2, 150), data=st.data())
def test_resume_at_any_step_gives_the_same_rates(spec, steps, data):
    try:
        schedule = parse_schedule(spec)
    except UserError:
        assume(False)
    k = data.draw(st.integers(0, steps - 1), label="resume_at")
    with faultlib.trial(
        "Schedules: ScheduleLR state saved at a random step, resumed (every schedule)", CMD + " -k resume_at_any"
    ):
        straight, straight_m = _run(spec, steps)
        resumed, resumed_m = _run(spec, steps, resume_at=k)
        assert resumed == straight, f"{spec}: rates differ after resuming at step {k}"
        if schedule.has_momentum:
            assert resumed_m == straight_m, f"{spec}: momentum differs after resuming at step {k}"
        pure = np.asarray(schedule(np.arange(steps)), dtype=np.float64)
        assert np.array_equal(np.asarray(straight), pure), f"{spec}: ScheduleLR differs from s(t)"
        again = parse_schedule(schedule.spec)
        assert np.array_equal(np.asarray(again(np.arange(steps)), dtype=np.float64), pure), schedule.spec
