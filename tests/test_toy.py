"""Toy surfaces, the vectorised optimizers and the toy animation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import UserError
from lrscope.toy import SURFACES, get_surface, noise_floor, optimize, run_rates
from lrscope.toy.optimizers import schedule_rates


@pytest.mark.parametrize("name", list(SURFACES))
@settings(max_examples=25, deadline=None)
@given(u=st.floats(0.05, 0.95), v=st.floats(0.05, 0.95))
def test_gradient_matches_finite_differences(name, u, v):
    s = get_surface(name)
    xmin, xmax, ymin, ymax = s.window
    x, y = xmin + u * (xmax - xmin), ymin + v * (ymax - ymin)
    h = 1e-6
    fd_x = (s(x + h, y) - s(x - h, y)) / (2 * h)
    fd_y = (s(x, y + h) - s(x, y - h)) / (2 * h)
    gx, gy = s.grad(x, y)
    scale = 1.0 + abs(fd_x) + abs(fd_y)
    assert abs(gx - fd_x) / scale < 1e-5
    assert abs(gy - fd_y) / scale < 1e-5


@pytest.mark.parametrize("name", list(SURFACES))
def test_minimum_is_stationary_and_lowest_on_grid(name):
    s = get_surface(name)
    gx, gy = s.grad(*s.minimum)
    assert abs(gx) < 1e-9 and abs(gy) < 1e-9
    assert s(*s.minimum) == pytest.approx(s.min_value, abs=1e-12)
    _, _, Z = s.grid(101)
    assert Z.min() >= s.min_value - 1e-9


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "beale"])
def test_h_max_is_the_top_hessian_eigenvalue_at_the_minimum(name):
    s = get_surface(name)
    x, y = s.minimum
    h = 1e-5
    hxx = (s.grad(x + h, y)[0] - s.grad(x - h, y)[0]) / (2 * h)
    hxy = (s.grad(x, y + h)[0] - s.grad(x, y - h)[0]) / (2 * h)
    hyy = (s.grad(x, y + h)[1] - s.grad(x, y - h)[1]) / (2 * h)
    top = np.linalg.eigvalsh(np.array([[hxx, hxy], [hxy, hyy]]))[-1]
    assert top == pytest.approx(s.h_max, rel=1e-3)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_optimizers_converge_on_the_quadratic_at_a_small_rate(optimizer):
    s = get_surface("quadratic")
    lr = {"sgd": 0.03, "momentum": 0.005, "adam": 0.05}[optimizer]
    traj = run_rates(s, [lr], steps=1500, optimizer=optimizer)
    assert traj.diverged_at == [None]
    assert traj.losses[0, -1] < 1e-4 * traj.losses[0, 0]


def test_sgd_diverges_above_two_over_h_max():
    s = get_surface("quadratic")
    limit = 2.0 / s.h_max
    traj = run_rates(s, [0.95 * limit, 1.05 * limit], steps=2000)
    assert traj.diverged_at[0] is None
    assert traj.diverged_at[1] is not None
    assert np.isnan(traj.losses[1, -1])


def test_heavy_ball_limit_is_two_plus_two_beta_over_h():
    # heavy ball with momentum β is stable for lr < (2 + 2β)/h_max (Cohen et al. 2021, appendix)
    s = get_surface("quadratic")
    limit = (2 + 2 * 0.9) / s.h_max
    traj = run_rates(s, [0.95 * limit, 1.05 * limit], steps=3000, optimizer="momentum")
    assert traj.diverged_at[0] is None and traj.diverged_at[1] is not None


def test_noise_is_seeded_and_independent_per_run():
    s = get_surface("quadratic")
    a = run_rates(s, [0.01, 0.01], steps=50, noise=1.0, seed=3)
    b = run_rates(s, [0.01, 0.01], steps=50, noise=1.0, seed=3)
    c = run_rates(s, [0.01, 0.01], steps=50, noise=1.0, seed=4)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points[0], a.points[1])
    assert not np.array_equal(a.points, c.points)


def test_schedule_staircase_settles_at_each_noise_floor():
    """Piecewise-constant rates on a noisy quadratic: the loss after each decay settles at the analytic floor
    Σ η S² / (2 (2 - η h_i)) of the new rate (Zhang et al. 2019), each floor lower than the last."""
    s = get_surface("quadratic")
    rates, bounds, noise, replicas = [0.06, 0.006, 0.0006], [300, 1500], 1.0, 400

    def schedule(t):
        return np.select([t < bounds[0], t < bounds[1]], rates[:2], rates[2])

    steps = 4000
    row = schedule_rates(schedule, steps)
    traj = optimize(s, np.tile(row, (replicas, 1)), noise=noise, seed=1)
    mean_loss = traj.losses.mean(axis=0)
    ends = [bounds[0], bounds[1], steps]
    settled = [mean_loss[e - 100 : e].mean() for e in ends]
    floors = [noise_floor(r, [1.0, 25.0], noise) for r in rates]
    assert settled[0] > settled[1] > settled[2]
    # the first two stages are long enough to reach their floors; the last is still settling from above
    for got, want in zip(settled[:2], floors[:2], strict=False):
        assert got == pytest.approx(want, rel=0.2)
    assert settled[2] < 0.5 * settled[1]


def test_schedule_spec_text_is_parsed():
    rates = schedule_rates("piecewise([0.1, 0.01], [5])", 10)
    np.testing.assert_allclose(rates, [0.1] * 5 + [0.01] * 5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lrs=[-0.1]), "positive"),
        (dict(lrs=[0.1], optimizer="lbfgs"), "unknown optimizer"),
        (dict(lrs=[0.1], noise=-1.0), "noise"),
        (dict(lrs=[]), "at least one"),
    ],
)
def test_bad_optimizer_inputs(kwargs, message):
    with pytest.raises(UserError, match=message):
        run_rates(get_surface("quadratic"), steps=10, **kwargs)


def test_unknown_surface_lists_names():
    with pytest.raises(UserError, match="quadratic, rosenbrock, beale, rugged"):
        get_surface("himmelblau")


def test_gif_has_many_frames(tmp_path):
    from PIL import Image

    from lrscope.jobs.toy import make_toy

    out = tmp_path / "anim.gif"
    summary = make_toy("rosenbrock", out, lrs="0.0005,0.002", steps=300, frames=20)
    with Image.open(out) as im:
        assert im.n_frames >= 10
        first = np.asarray(im.convert("RGB"))
        im.seek(im.n_frames - 1)
        last = np.asarray(im.convert("RGB"))
    assert not np.array_equal(first, last)  # the paths moved
    assert [r["label"] for r in summary["runs"]] == ["lr 0.0005", "lr 0.002"]


def test_png_with_schedule_and_3d(tmp_path):
    from PIL import Image

    from lrscope.jobs.toy import make_toy

    out = tmp_path / "final.png"
    make_toy(
        "quadratic", out, lrs=[0.01], schedule=lambda t: np.where(t < 20, 0.05, 0.005), steps=40, three_d=True
    )
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 800


def test_mp4_goes_through_ffmpeg(tmp_path, monkeypatch):
    """With a stand-in ffmpeg that copies its stdin to the output, the bytes are exactly the raw frames."""
    from lrscope.viz import toy as viz

    fake = tmp_path / "ffmpeg"
    fake.write_text('#!/bin/sh\nfor last; do :; done\ncat > "$last"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(viz, "ffmpeg_path", lambda: str(fake))
    frames = [np.full((4, 6, 3), i, dtype=np.uint8) for i in range(3)]
    out = viz.write_mp4(frames, tmp_path / "a.mp4", fps=2)
    assert out.stat().st_size == 4 * 6 * 3 * (3 + 2)  # three frames, then the last held for fps frames


def test_mp4_without_ffmpeg_suggests_gif(monkeypatch):
    from lrscope.viz import toy as viz

    monkeypatch.setattr(viz, "ffmpeg_path", lambda: None)
    with pytest.raises(UserError, match="mp4 needs ffmpeg.*use .gif"):
        viz.output_format("x.mp4")


@pytest.mark.parametrize(
    "args, message",
    [
        (["toy", "himmelblau", "--out", "{d}/a.gif"], "unknown surface"),
        (["toy", "rosenbrock", "--lrs", "0.1,abc", "--out", "{d}/a.gif"], "--lrs expects numbers"),
        (["toy", "rosenbrock", "--out", "{d}/a.txt"], "give a file ending in .gif, .mp4, .png"),
        (["toy", "rosenbrock", "--frames", "1", "--out", "{d}/a.gif"], "--frames"),
        (["toy", "rosenbrock", "--out", "{d}/missing/a.gif"], "does not exist"),
    ],
)
def test_cli_bad_input_exits_2(cli, tmp_path, args, message):
    result = cli(*[a.format(d=tmp_path) for a in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_writes_gif(cli, tmp_path):
    result = cli(
        "toy",
        "quadratic",
        "--lrs",
        "0.01,0.09",
        "--steps",
        "60",
        "--frames",
        "12",
        "--out",
        str(tmp_path / "q.gif"),
    )
    assert result.returncode == 0, result.stderr
    assert "diverged at step" in result.stdout
    assert (tmp_path / "q.gif").stat().st_size > 10_000
