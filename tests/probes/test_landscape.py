"""Landscape probes: directions, grid evaluation, interpolation, trajectory, bad input."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import lrscope.probes.landscape as L
from lrscope.errors import UserError
from lrscope.probes.directions import random_directions, trajectory_pca
from lrscope.probes.evaluate import evaluate_points
from lrscope.train.config import TrainConfig
from lrscope.train.loop import train


def small_cnn(seed=0, bn=False):
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 4, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(4))
    layers += [nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))


def batch(n=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 4, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


CE = nn.CrossEntropyLoss()


def plain_loss(model, directions, coords, x, y):
    """A model copy moved by hand: the reference for every grid value."""
    theta = [p.detach().clone() for p in model.parameters()]
    moved = copy.deepcopy(model).eval()
    with torch.no_grad():
        for p, t0, *ds in zip(moved.parameters(), theta, *directions, strict=True):
            p.copy_(t0 + sum(c * d for c, d in zip(coords, ds, strict=True)))
        return CE(moved(x), y).item()


# ---------------------------------------------------------------- directions


def test_filter_normalisation_per_filter_and_bias_zeroed():
    model = small_cnn()
    (d,) = random_directions(model, 1, seed=3)
    for (name, p), t in zip(model.named_parameters(), d, strict=True):
        if p.dim() > 1:
            want = p.detach().reshape(p.shape[0], -1).norm(dim=1)
            got = t.reshape(t.shape[0], -1).norm(dim=1)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        else:
            assert torch.count_nonzero(t) == 0, name


def test_include_1d_scales_whole_vector_once():
    model = small_cnn()
    (d,) = random_directions(model, 1, seed=0, include_1d=True)
    for p, t in zip(model.parameters(), d, strict=True):
        if p.dim() == 1:
            assert torch.count_nonzero(t) > 0
            assert float(t.norm()) == pytest.approx(float(p.detach().norm()), rel=1e-5)


@pytest.mark.parametrize("normalization", ["filter", "layer", "none"])
def test_orthogonal_after_normalisation(normalization):
    model = small_cnn()
    d1, d2 = random_directions(model, 2, seed=5, orthogonal=True, normalization=normalization)
    dot = sum(float((a * b).sum()) for a, b in zip(d1, d2, strict=True))
    norm = (sum(float((a * a).sum()) for a in d1) * sum(float((b * b).sum()) for b in d2)) ** 0.5
    assert abs(dot) / norm < 1e-5
    if normalization == "filter":  # still exactly filter-normalised
        for p, t in zip(model.parameters(), d2, strict=True):
            if p.dim() > 1:
                torch.testing.assert_close(
                    t.reshape(t.shape[0], -1).norm(dim=1),
                    p.detach().reshape(p.shape[0], -1).norm(dim=1),
                    rtol=1e-5,
                    atol=1e-6,
                )


def test_seeds_reproducible_and_global_rng_untouched():
    model = small_cnn()
    state = torch.get_rng_state()
    a = random_directions(model, 2, seed=7)
    b = random_directions(model, 2, seed=7)
    c = random_directions(model, 2, seed=8)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(u, v) for u, v in zip(a[0], b[0], strict=True))
    assert not all(torch.equal(u, v) for u, v in zip(a[0], c[0], strict=True))


# ---------------------------------------------------------------- grid values


@pytest.mark.parametrize("make", [small_cnn, mlp])
@pytest.mark.parametrize("mode", ["loop", "threads", "vmap", "auto"])
def test_plane_matches_plain_loop(make, mode):
    model = make().eval()
    x, y = batch()
    r = L.plane(model, CE, (x, y), steps=5, span=0.8, seed=2, mode=mode)
    assert r.loss.shape == (5, 5) and r.acc.shape == (5, 5)
    for i, j in [(0, 0), (1, 3), (4, 2), (2, 2)]:
        ref = plain_loss(model, r.directions, (r.x[j], r.y[i]), x, y)
        assert r.loss[i, j] == pytest.approx(ref, rel=1e-5)
    assert r.loss[2, 2] == pytest.approx(CE(model(x), y).item(), rel=1e-6)  # the centre is theta0


def test_threads_on_a_cpu_match_the_loop_over_a_loader_and_restore_torch_threads():
    """auto takes worker threads for a conv model on a CPU with 2+ threads: same values as the plain loop
    (channels-last copies, batch-norm running statistics in eval mode), every batch, torch's setting kept."""
    model = small_cnn(bn=True)
    x, y = batch(48)
    with torch.no_grad():
        model(x)  # non-trivial running stats
    model.eval()
    before = copy.deepcopy(model.state_dict())
    loader = [(x[:16], y[:16]), (x[16:40], y[16:40]), (x[40:], y[40:])]
    d = random_directions(model, 2, seed=3)
    coords = np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4)), -1).reshape(-1, 2)
    base = [p.detach() for p in model.parameters()]
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        threaded = evaluate_points(model, CE, loader, base, d, coords)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)
    plain = evaluate_points(model, CE, loader, base, d, coords, mode="loop")
    assert threaded.mode == "threads" and threaded.chunk == 2 and plain.mode == "loop" and threaded.batches == 3
    np.testing.assert_allclose(threaded.loss, plain.loss, rtol=1e-5)
    np.testing.assert_allclose(threaded.acc, plain.acc, rtol=0, atol=1e-12)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_threads_mode_in_cache_sized_pieces_equals_the_whole_batch(monkeypatch):
    from lrscope.probes import evaluate as E

    model = small_cnn().eval()
    x, y = batch(40)
    d = random_directions(model, 2, seed=1)
    base = [p.detach() for p in model.parameters()]
    coords = np.array([[0.0, 0.0], [0.5, -0.3], [-1.0, 1.0]])
    whole = evaluate_points(model, CE, (x, y), base, d, coords, mode="threads")
    monkeypatch.setattr(E, "CACHE_BYTES", 1)  # as many pieces as MIN_CHUNK_SAMPLES allows
    monkeypatch.setattr(E, "MIN_CHUNK_SAMPLES", 8)
    evaluator = E.PointEvaluator(model, CE, base, d, coords, mode="threads")
    pieced = evaluator.run((x, y))
    assert len(evaluator._cache_chunks(x, y)) == 5
    np.testing.assert_allclose(pieced.loss, whole.loss, rtol=1e-6)
    np.testing.assert_array_equal(pieced.acc, whole.acc)


def test_threads_mode_refuses_what_it_cannot_do():
    model = small_cnn(bn=True).eval()
    with pytest.raises(UserError, match="mode='threads' runs on a CPU"):
        L.plane(model, CE, batch(), steps=3, seed=0, bn="recompute", mode="threads")


def test_rectangular_indexing_is_y_then_x():
    model = mlp().eval()
    x, y = batch()
    d = random_directions(model, 2, seed=0)
    xs, ys = np.array([-1.0, 0.0, 0.5]), np.array([0.25, 1.0])
    coords = np.stack(np.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
    ev = evaluate_points(model, CE, (x, y), [p.detach() for p in model.parameters()], d, coords)
    grid = ev.loss.reshape(2, 3)
    assert grid[1, 0] == pytest.approx(plain_loss(model, d, (xs[0], ys[1]), x, y), rel=1e-5)


def test_model_untouched_state_and_modes():
    model = small_cnn(bn=True)
    model.train()
    model[1].eval()  # a mixed mode the probe must restore exactly
    x, y = batch()
    with torch.no_grad():
        model(x)  # non-trivial running stats
    before = copy.deepcopy(model.state_dict())
    modes = [m.training for m in model.modules()]
    L.plane(model, CE, (x, y), steps=3, seed=0)
    L.plane(model, CE, (x, y), steps=3, seed=0, bn="recompute")
    L.line(model, CE, (x, y), steps=3)
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_bn_eval_uses_running_stats_and_recompute_uses_data():
    model = small_cnn(bn=True)
    x, y = batch(64)
    model.eval()
    r_eval = L.line(model, CE, (x, y), steps=3, span=0.5, seed=1)
    assert r_eval.loss[1] == pytest.approx(CE(model(x), y).item(), rel=1e-6)
    r_re = L.line(model, CE, (x, y), steps=3, span=0.5, seed=1, bn="recompute")
    # at theta0 with statistics recomputed from this batch: same as a copy whose BN saw exactly this batch
    ref = copy.deepcopy(model)
    bn = ref[1]
    bn.reset_running_stats()
    bn.momentum = None
    bn.train()
    with torch.no_grad():
        ref(x)
    ref.eval()
    assert r_re.loss[1] == pytest.approx(CE(ref(x), y).item(), rel=1e-5)
    assert r_re.loss[1] != pytest.approx(r_eval.loss[1], rel=1e-4)


def test_loader_equals_single_batch():
    model = mlp().eval()
    x, y = batch(48)
    loader = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]
    a = L.plane(model, CE, (x, y), steps=3, seed=4)
    b = L.plane(model, CE, loader, steps=3, seed=4)
    c = L.plane(model, CE, iter(loader), steps=3, seed=4)  # a one-shot iterator is read once
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-5)
    np.testing.assert_allclose(c.loss, a.loss, rtol=1e-5)
    np.testing.assert_allclose(b.acc, a.acc)
    assert b.provenance["data"]["batches"] == 3 and b.provenance["data"]["samples"] == 48


def test_interpolation_endpoints_are_the_two_models():
    a, b = small_cnn(0, bn=True), small_cnn(1, bn=True)
    x, y = batch()
    for m in (a, b):
        with torch.no_grad():
            m.train()(x)
        m.eval()
    r = L.interpolate(a, b, CE, (x, y), steps=5)
    assert r.loss[0] == pytest.approx(CE(a(x), y).item(), rel=1e-5)
    assert r.loss[-1] == pytest.approx(CE(b(x), y).item(), rel=1e-5)
    assert r.x[0] == 0 and r.x[-1] == 1


def test_save_writes_npz_and_json(tmp_path):
    model = mlp()
    x, y = batch()
    r = L.plane(model, CE, (x, y), steps=3, seed=0)
    npz, js = r.save(tmp_path / "plane")
    doc = json.loads(js.read_text())
    assert doc["schema"] == "lrscope.landscape/1" and doc["provenance"]["seed"] == 0
    assert doc["provenance"]["model_fingerprint"] == L.fingerprint(model)
    assert doc["provenance"]["data"]["samples"] == 32
    arrays = np.load(npz)
    np.testing.assert_allclose(arrays["loss"], r.loss)
    assert arrays["direction1"].size == sum(p.numel() for p in model.parameters())


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=3, max_size=3), st.floats(-2, 2))
def test_pca_projection_recovers_plane_points(a, b):
    g = torch.Generator().manual_seed(0)
    final = [torch.randn(5, 3, generator=g), torch.randn(4, generator=g)]
    u = torch.randn(19, generator=g, dtype=torch.float64)
    v = torch.randn(19, generator=g, dtype=torch.float64)
    flat0 = torch.cat([t.reshape(-1) for t in final]).double()
    pts = []
    for s, t in zip([*a, 0.0], [b, -b, 2 * b + 1, 0.0], strict=True):
        f = flat0 + s * u + t * v
        pts.append([f[:15].reshape(5, 3).float(), f[15:].float()])
    try:
        pca = trajectory_pca(pts, final)
    except UserError:
        return  # collinear draws
    assert np.all(pca.residual < 1e-4 * (1 + np.abs(pca.coords).max()))
    np.testing.assert_allclose(pca.coords[-1], 0, atol=1e-5)


# ---------------------------------------------------------------- bad input


def test_bad_inputs():
    model = mlp()
    x, y = batch()
    with pytest.raises(UserError, match="no parameters"):
        L.plane(nn.ReLU(), CE, (x, y))
    with pytest.raises(UserError, match="steps"):
        L.plane(model, CE, (x, y), steps=1)
    with pytest.raises(UserError, match="span"):
        L.plane(model, CE, (x, y), span=0)
    with pytest.raises(UserError, match="does not fit"):
        L.plane(model, CE, (torch.randn(8, 3, 5, 5), y[:8]), steps=2)
    with pytest.raises(UserError, match="different architectures"):
        L.interpolate(mlp(), small_cnn(), CE, (x, y))
    with pytest.raises(UserError, match="pair"):
        L.plane(model, CE, x, steps=2)


# ---------------------------------------------------------------- a run of the reference runner


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig(
        data="synthetic:n=400,dim=16,classes=4",
        model="mlp",
        schedule="multistep(0.2, milestones=[2, 4])",
        epochs=5,
        batch_size=64,
        seed=0,
    )
    return train(config, out)


def test_trajectory_on_tiny_run(tiny_run, tmp_path):
    r = L.trajectory(tiny_run, steps=5, samples=128)
    assert r.loss.shape == (5, 5)
    path = r.path
    assert list(path["epochs"]) == list(range(6))
    assert path["coords"].shape == (6, 2)
    np.testing.assert_allclose(path["coords"][-1], 0, atol=1e-5)
    assert path["stage"][0] == 0 and path["stage"][-1] == 2  # 0.2 -> 0.02 -> 0.002
    assert r.x.min() <= path["coords"][:, 0].min() and r.x.max() >= path["coords"][:, 0].max()


def test_cli_landscape_trajectory(tiny_run, tmp_path, cli):
    out = tmp_path / "traj.png"
    result = cli(
        "landscape", tiny_run, "--kind", "trajectory", "--steps", "4", "--samples", "64", "--out", out
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1000
    assert (tiny_run / "probes" / "landscape-trajectory.json").exists()
    bad = cli("landscape", tiny_run, "--kind", "plane", "--steps", "1", "--out", tmp_path / "x.png")
    assert bad.returncode == 2 and "steps" in bad.stderr and "Traceback" not in bad.stderr
