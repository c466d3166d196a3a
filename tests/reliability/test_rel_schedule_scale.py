"""Scale: schedules with very many jumps are evaluated, listed and drawn from arrays, and stay exact.

sgdr(0.1, period=1) restarts at every step, so over 10**6 steps it has 999,999 jumps; step(...) with
step_size=1 likewise.  Their vectorised values and events must equal slow references computed one step at a
time with the math module (the formula of torch's twin), the table and the plot must stay bounded, and an
absurd NQM length is one clean line.  Correctness only: how fast this is goes in the report, not in a test.
"""

from __future__ import annotations

import math
import os
import struct
import subprocess

import faultlib
import numpy as np
import pytest

from lrscope.errors import UserError
from lrscope.schedules import Event, Events, join, multistep, parse_schedule, piecewise, sgdr, step
from lrscope.schedules.table import MAX_JUMP_ROWS, rows
from lrscope.viz.schedule import MAX_BINS, MAX_MARKERS, decimate, plot_schedule, schedule_figure

N = faultlib.trials(1_000_000, 10_000_000)
CMD = faultlib.command_for("test_rel_schedule_scale.py")
SAMPLE = np.unique(np.r_[0, 1, 2, np.random.default_rng(0).integers(0, N, 2000), N - 2, N - 1])


def run_cli(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LRSCOPE_DEBUG"}
    return subprocess.run([str(faultlib.LRSCOPE), *map(os.fsdecode, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def assert_clean_refusal(result: subprocess.CompletedProcess, expect: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-800:])
    assert faultlib.one_line_error(result.stderr), result.stderr[-1500:]
    assert expect in result.stderr, result.stderr


def _sgdr_reference(lr: float, period: int, min_lr: float, t: int) -> float:
    """CosineAnnealingWarmRestarts' closed form for mult=1, one t at a time."""
    t_cur = t % period
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t_cur / period)) / 2


def _step_reference(lr: float, step_size: int, gamma: float, t: int) -> float:
    """StepLR's chained product, one multiplication per decay."""
    for _ in range(t // step_size):
        lr *= gamma
    return lr


@pytest.mark.parametrize("period, min_lr", [(1, 0.0), (7, 0.001)])
def test_sgdr_with_a_million_restarts_equals_the_slow_reference(period, min_lr):
    with faultlib.trial(f"Scale: sgdr(0.1, period=p) over {N:,} steps equals its slow reference", CMD):
        s = sgdr(0.1, period=period, min_lr=min_lr)
        values = s(np.arange(N, dtype=np.float64))
        want = [_sgdr_reference(0.1, period, min_lr, t) for t in SAMPLE.tolist()]
        np.testing.assert_allclose(values[SAMPLE], want, rtol=1e-12, atol=0)
        events = s.events(0, N)
        restarts = np.arange(period, N, period, dtype=np.float64)
        assert len(events) == restarts.size
        np.testing.assert_array_equal(events.t, restarts)
        np.testing.assert_array_equal(events.lr_before, np.full(restarts.size, min_lr))
        np.testing.assert_array_equal(events.lr_after, values[restarts.astype(np.int64)])
        # the Event values themselves, at a sample of jumps, as the old one-at-a-time code made them
        for i in np.r_[0, 1, np.random.default_rng(1).integers(0, restarts.size, 200), restarts.size - 1]:
            t = float(restarts[i])
            assert events[int(i)] == Event(t, float(min_lr), float(s(t)))
        assert events[-1].t == restarts[-1] and list(events[:3]) == [events[0], events[1], events[2]]


def test_step_every_step_equals_the_slow_reference():
    with faultlib.trial("Scale: step(step_size=1) over every step equals its chained product", CMD):
        n = min(N, 200_000)  # the reference multiplies t times for step t
        s = step(0.1, step_size=1, gamma=0.99999)
        t = np.unique(np.r_[0, 1, np.random.default_rng(2).integers(0, n, 300), n - 1])
        np.testing.assert_allclose(s(t.astype(np.float64)), [_step_reference(0.1, 1, 0.99999, k) for k in t],
                                   rtol=1e-12, atol=0)
        values = s(np.arange(N, dtype=np.float64))
        events = s.events(0, N)
        assert len(events) == N - 1
        np.testing.assert_array_equal(events.t, np.arange(1, N, dtype=np.float64))
        np.testing.assert_array_equal(events.lr_after, values[1:])
        # a piecewise-constant rate's left limit at an integral jump is the rate one step before
        np.testing.assert_array_equal(events.lr_before, values[:-1])


def test_piecewise_join_and_multistep_with_many_boundaries():
    n = 100_000
    bounds = list(range(1, n))
    values = (0.1 * 0.99999 ** np.arange(n)).tolist()
    for s in (piecewise(values, bounds), multistep(0.1, bounds, 0.99999),
              join([step(0.1, 1, 0.9999), sgdr(0.05, period=3)], [n // 2])):
        lr = s(np.arange(n, dtype=np.float64))
        events = s.events(0, n)
        changed = np.flatnonzero(lr[1:] != lr[:-1]) + 1
        if s.name != "join":  # piecewise constant: the jumps are the changes, from the rate just before
            np.testing.assert_array_equal(events.t, changed.astype(np.float64))
            np.testing.assert_array_equal(events.lr_before, lr[changed - 1])
        np.testing.assert_array_equal(events.lr_after, lr[events.t.astype(np.int64)])
        for e in list(events[:50]) + list(events[-50:]):  # the old per-jump definition, at both ends
            assert e.lr_after == s(e.t) and e.lr_before == s.left_limit(e.t) and e.lr_before != e.lr_after
    assert piecewise(values, bounds).events(10.5, 20) == [
        Event(float(b), values[b - 1], values[b]) for b in range(11, 20)
    ]


def test_events_view_behaves_as_the_list_it_replaces():
    s = step(0.1, 10, 0.5)
    events = s.events(0, 35)
    listed = [Event(10.0, 0.1, 0.05), Event(20.0, 0.05, 0.025), Event(30.0, 0.025, 0.0125)]
    assert isinstance(events, Events) and events == listed and listed == events and len(events) == 3
    assert events[1] == listed[1] and events[-1] == listed[-1] and events[1:] == listed[1:]
    assert list(events) == listed and bool(events) and not s.events(0, 5) and s.events(0, 5) == []
    with pytest.raises(IndexError):
        events[3]
    with pytest.raises(AttributeError):
        events.t = np.zeros(3)
    with pytest.raises(ValueError):
        events.t[0] = 1.0
    assert "Event(t=10.0" in repr(events)
    many = sgdr(0.1, period=1).events(0, 1000)
    assert "999 jumps" in repr(many)
    with pytest.raises(UserError, match="more than"):
        sgdr(0.1, period=1).events(0, 10**12)  # counted before anything is made
    with pytest.raises(UserError, match="finite"):
        step(0.1, 1).events(0, math.inf)


def test_table_of_a_million_jumps_stays_a_table():
    s = sgdr(0.1, period=1)
    table = rows(s, N)
    assert len(table) <= 10 + 2 * MAX_JUMP_ROWS
    jumps = [row for row in table if row["event"]]
    assert jumps and all(row["event"] == "0 -> 0.1" for row in jumps)
    assert table[0]["t"] == 0 and table[-1]["t"] == N - 1


def test_decimation_keeps_every_extreme():
    rng = np.random.default_rng(3)
    values = rng.standard_normal(N)
    values[[5, N // 2, N - 1]] = [50.0, -50.0, 40.0]  # one-step spikes
    keep = decimate(values)
    assert keep.size <= 4 * MAX_BINS and keep[0] == 0 and keep[-1] == N - 1
    assert np.all(np.diff(keep) > 0)
    assert {5, N // 2, N - 1} <= set(keep.tolist())
    width = -(-N // MAX_BINS)
    for b in rng.integers(0, N // width, 20):  # each bin's min and max are drawn
        chunk = values[b * width : (b + 1) * width]
        drawn = values[keep[(keep >= b * width) & (keep < (b + 1) * width)]]
        assert drawn.min() == chunk.min() and drawn.max() == chunk.max()
    assert decimate(np.arange(10.0)).tolist() == list(range(10))


def test_plot_of_a_million_jumps_writes_a_png(tmp_path):
    with faultlib.trial(f"Scale: the plot of sgdr(0.1, period=1) over {N:,} steps is a PNG", CMD):
        out = plot_schedule(sgdr(0.1, period=1), N, tmp_path / "sgdr.png")
        data = out.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert width > 400 and height > 200
    fig = schedule_figure(sgdr(0.1, period=1), N)
    ax = fig.axes[0]
    assert len(ax.lines[0].get_xdata()) <= 4 * MAX_BINS
    assert sum(len(c.get_segments()) for c in ax.collections) <= MAX_MARKERS
    notes = " ".join(text.get_text() for text in fig.texts)
    assert f"{MAX_MARKERS} of {N - 1:,} jumps marked" in notes and "lowest and highest" in notes


def test_cli_counts_a_million_jumps(tmp_path):
    result = run_cli("schedule", "sgdr(0.1, period=1)", "--steps", str(N), "--plot", tmp_path / "s.png",
                     timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"{N} steps, lr from 0.1 to 0.1, {N - 1} jump(s)" in result.stdout
    assert len(result.stdout.splitlines()) <= 10 + 2 * MAX_JUMP_ROWS + 3
    assert (tmp_path / "s.png").stat().st_size > 0


@pytest.mark.parametrize("steps", ["1000000000000", str(10**6 + 1), "1", "-5"])
def test_nqm_refuses_absurd_steps_in_one_line(tmp_path, steps):
    result = run_cli("nqm", "--out", tmp_path / "n.png", "--steps", steps, timeout=120)
    assert_clean_refusal(result, expect="--steps must be an integer from 2 to 1000000")
    assert not (tmp_path / "n.png").exists()


def test_nqm_with_a_bad_spec_refuses_before_any_work(tmp_path):
    result = run_cli("nqm", "--out", tmp_path / "n.png", "--schedule", "constant(0.1)", "--schedule", "cosine(",
                     "--steps", "100", timeout=120)
    assert_clean_refusal(result, expect="schedule spec")


def test_spec_of_a_long_schedule_round_trips():
    s = parse_schedule("sgdr(0.1, period=1)")
    assert parse_schedule(s.spec) == s and len(s.events(0, 10)) == 9
