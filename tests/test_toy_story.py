"""The toy's default run tells the story of issue 19: the numbers it computes, its smoothing and its caption."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrscope.jobs.toy import toy_runs
from lrscope.toy import Trajectories, get_surface
from lrscope.toy.story import Story, decay_drop, final_smoothed, first_decay, smooth, story_caption


@pytest.fixture(scope="module")
def default_run():
    """Exactly what `lrscope toy rugged --out toy.gif` computes (no other flag)."""
    return toy_runs("rugged")


def _runs(traj):
    const = {float(row[0]): r for r, row in enumerate(traj.lr_table) if np.all(row == row[0])}
    sched = next(r for r, row in enumerate(traj.lr_table) if not np.all(row == row[0]))
    return const[min(const)], const[max(const)], sched


def test_the_default_is_a_noisy_step_schedule_beside_a_constant_high_and_low_rate(default_run):
    traj = default_run.trajectories
    assert traj.noise > 0
    low, high, sched = _runs(traj)
    rates = traj.lr_table[sched]
    d = first_decay(rates)
    assert d is not None and 0 < d < traj.steps
    # the schedule runs at the high rate until its decay, then at the low rate
    np.testing.assert_array_equal(rates[:d], traj.lr_table[high, 0])
    np.testing.assert_array_equal(rates[d:], traj.lr_table[low, 0])
    assert traj.diverged_at == [None, None, None]


def test_the_scheduled_run_falls_right_after_its_decay(default_run):
    traj = default_run.trajectories
    _, _, sched = _runs(traj)
    drop = decay_drop(traj)
    assert drop.run == sched and drop.span == 20
    assert drop.after <= 0.5 * drop.before


def test_the_schedule_ends_far_below_the_trapped_low_rate_and_the_high_rate_below_it(default_run):
    traj = default_run.trajectories
    low, high, sched = _runs(traj)
    for finals in (traj.losses[:, -1], final_smoothed(traj)):
        assert finals[sched] <= 0.5 * finals[low]
        assert finals[high] < finals[low]


def test_the_scheduled_run_plateaus_at_the_high_rates_floor_before_the_decay(default_run):
    """Before its decay the scheduled run is the high-rate run under other noise: over the 50 steps before the
    decay their mean losses agree within a factor 1.5, and both lie well below the trapped low rate."""
    traj = default_run.trajectories
    low, high, sched = _runs(traj)
    d = decay_drop(traj).step
    window = slice(d - 49, d + 1)
    s, h, lo = (float(np.mean(traj.losses[r, window])) for r in (sched, high, low))
    assert 1 / 1.5 < s / h < 1.5
    assert h < 0.5 * lo


def test_the_caption_says_it_in_one_line(default_run):
    caption = default_run.caption
    assert "\n" not in caption and len(caption) < 200
    assert "crosses the ripples that trap lr 0.04" in caption
    assert "falls right after its decay at step 150" in caption


def test_smoothing_is_a_causal_trailing_mean():
    x = np.array([4.0, 2.0, 6.0, 0.0, 8.0])
    np.testing.assert_allclose(smooth(x, 2), [4.0, 3.0, 4.0, 3.0, 4.0])
    later = x.copy()
    later[3:] = 100.0
    np.testing.assert_array_equal(smooth(later, 3)[:3], smooth(x, 3)[:3])  # nothing from after t leaks into t
    with_nan = np.array([1.0, np.nan, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.isnan(smooth(with_nan, 2)), [False, True, True, False, False])


def _fake(losses: np.ndarray, lr_table: np.ndarray) -> Trajectories:
    runs, n = losses.shape
    return Trajectories(
        get_surface("rugged"), "sgd", [f"r{i}" for i in range(runs)], lr_table, np.zeros((runs, n, 2)), losses,
        [None] * runs,
    )


def test_before_and_after_are_the_steps_the_decay_can_and_cannot_change():
    # a 100-step schedule decaying at step 50: losses[0..50] were made at the high rate, losses[51..] are not
    lr = np.where(np.arange(100) < 50, 0.3, 0.03)
    losses = np.where(np.arange(101) <= 50, 1.0, 0.1)[None, :]
    drop = decay_drop(_fake(losses, lr[None, :]), window=1)
    assert drop.step == 50
    assert drop.before == pytest.approx(1.0) and drop.after == pytest.approx(0.1)


def test_the_caption_says_when_the_story_does_not_happen():
    story = Story(low=0.03, high=0.3, noise=0.1, trap="the ripples")
    table = np.stack([np.full(100, 0.03), np.full(100, 0.3), np.where(np.arange(100) < 50, 0.3, 0.03)])
    losses = np.stack([np.full(101, 0.2), np.full(101, 0.5), np.full(101, 0.4)])
    caption = story_caption(_fake(losses, table), story)
    assert "lr 0.3 does not end below lr 0.03" in caption
    assert "the schedule does not fall after its decay at step 50" in caption
    losses[2, 51:] = 0.28  # 70 % of the plateau: a fall, but not the sharp one the story promises
    caption = story_caption(_fake(losses, table), story)
    assert "falls only to 7" in caption and "of its plateau in the 20 steps after its decay at step 50" in caption


def test_noise_and_steps_flags_change_the_story_and_lrs_replaces_it():
    quiet = toy_runs("rugged", noise=0.0, steps=120)
    assert quiet.trajectories.noise == 0.0 and first_decay(quiet.trajectories.lr_table[-1]) == 60
    assert quiet.story is not None
    own = toy_runs("rugged", lrs="0.1", steps=20)
    assert own.story is None and own.caption == "" and own.trajectories.noise == 0.0
    assert own.trajectories.labels == ["lr 0.1"]
    assert toy_runs("quadratic", steps=10).story is None  # surfaces without a story keep their default rates


def test_cli_default_writes_the_story_gif(cli, tmp_path):
    from PIL import Image

    out = tmp_path / "toy.gif"
    result = cli("toy", "rugged", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "falls right after its decay" in result.stdout
    with Image.open(out) as im:
        assert im.n_frames >= 10
    assert out.stat().st_size < 600_000


def test_cli_json_carries_the_caption_and_smoothed_finals(cli, tmp_path):
    result = cli("toy", "rugged", "--steps", "60", "--frames", "4", "--json", "--out", str(tmp_path / "t.png"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["noise"] == 0.1 and summary["smoothing_window"] == 2
    assert summary["caption"] and len(summary["runs"]) == 3
    assert all(run["final_smoothed_loss"] is not None for run in summary["runs"])
