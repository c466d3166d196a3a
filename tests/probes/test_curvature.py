"""Curvature probes: HVP, top eigenvalues, trace, the sharpness hook."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

import lrscope.probes.curvature as C
from lrscope.errors import UserError

CE = nn.CrossEntropyLoss()


def tiny(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))


def data(n=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


def explicit_hessian(model, x, y):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()

    def f(flat):
        params, offset = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            n = math.prod(shape)
            params[name] = flat[offset : offset + n].reshape(shape)
            offset += n
        return CE(functional_call(model.double(), params, (x.double(),)), y)

    h = torch.autograd.functional.hessian(f, flat0)
    model.float()
    return h


class Quadratic(nn.Module):
    """L(w) = 0.5 w^T A w with a known spectrum (the data are ignored)."""

    def __init__(self, eigenvalues, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(
            torch.randn(len(eigenvalues), len(eigenvalues), generator=g, dtype=torch.float64)
        )
        self.register_buffer("a", q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T)
        self.w = nn.Parameter(torch.randn(len(eigenvalues), generator=g, dtype=torch.float64))

    def forward(self, x):
        return 0.5 * self.w @ self.a @ self.w + 0 * x.sum()


def quad_loss(out, _y):
    return out


def test_hvp_matches_double_backward():
    model = tiny()
    x, y = data()
    op = C.HessianOperator(model, CE, (x, y))
    v = torch.randn(op.size, generator=torch.Generator().manual_seed(3))
    params = list(model.parameters())
    g = torch.autograd.grad(CE(model(x), y), params, create_graph=True)
    vs = torch.split(v, [p.numel() for p in params])
    ref = torch.autograd.grad(
        g, params, grad_outputs=[t.reshape(p.shape) for t, p in zip(vs, params, strict=True)]
    )
    torch.testing.assert_close(op.matvec(v), torch.cat([r.reshape(-1) for r in ref]), rtol=1e-4, atol=1e-6)
    assert op.count == 1
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_top_eigenvalues_match_explicit_hessian(method):
    model = tiny()
    x, y = data()
    exact = torch.linalg.eigvalsh(explicit_hessian(model, x, y)).flip(0).numpy()
    k = 2 if method == "lanczos" else 1
    r = C.top_eigenvalues(model, CE, (x, y), k=k, tol=1e-6, method=method, max_iter=200)
    np.testing.assert_allclose(r.values, exact[:k], rtol=1e-3)
    assert r.values == sorted(r.values, reverse=True)
    assert r.hvp_count >= 2 and len(r.vectors) == k
    assert len(r.vectors[0]) == len(list(model.parameters()))


def test_quadratic_known_spectrum_and_vectors():
    eig = [10.0, 9.0, 4.0, 1.0, 0.5, 0.1, -0.2, -1.0]
    model = Quadratic(eig)
    x = torch.zeros(2, 1)
    r = C.top_eigenvalues(model, quad_loss, (x, x), k=3, tol=1e-8, max_iter=20)
    np.testing.assert_allclose(r.values, eig[:3], rtol=1e-6)
    a = model.a
    v = r.vectors[0][0]
    torch.testing.assert_close(a @ v, 10.0 * v, rtol=1e-5, atol=1e-6)
    assert r.hvp_count <= len(eig)  # the Krylov space is exhausted after n products


def test_lanczos_needs_fewer_products_than_power():
    eig = list(np.linspace(1.0, 0.0, 60))
    eig[0], eig[1] = 1.0, 0.95
    model = Quadratic(eig, seed=2)
    x = torch.zeros(2, 1)
    lz = C.top_eigenvalues(model, quad_loss, (x, x), tol=1e-6, max_iter=200)
    pw = C.top_eigenvalues(model, quad_loss, (x, x), tol=1e-6, method="power", max_iter=500)
    assert lz.values[0] == pytest.approx(1.0, rel=1e-4)
    assert lz.hvp_count < pw.hvp_count


def test_trace_matches_exact():
    model = tiny()
    x, y = data()
    exact = float(torch.trace(explicit_hessian(model, x, y)))
    r = C.hutchinson_trace(model, CE, (x, y), tol=1e-4, max_samples=400, min_samples=400, batch=50, seed=0)
    assert r.samples == 400 and r.hvp_count == 400
    assert abs(r.value - exact) < 4 * r.stderr + 1e-6


def test_loader_equals_batch_and_rng_untouched():
    model = tiny()
    x, y = data(60)
    state = torch.get_rng_state()
    a = C.top_eigenvalues(model, CE, (x, y), tol=1e-6, seed=1)
    b = C.top_eigenvalues(
        model, CE, [(x[i : i + 20], y[i : i + 20]) for i in range(0, 60, 20)], tol=1e-6, seed=1
    )
    assert torch.equal(torch.get_rng_state(), state)
    assert b.values[0] == pytest.approx(a.values[0], rel=1e-4)


def test_thresholds():
    t = C.stability_thresholds(0.1, momentum=0.9)
    assert t["eos_2_over_lr"] == pytest.approx(20.0) and t["eos_momentum"] == pytest.approx(38.0)
    n = C.stability_thresholds(0.1, momentum=0.9, nesterov=True)
    assert n["eos_momentum"] == pytest.approx(38.0 / 2.8)


def test_bad_inputs():
    x, y = data()
    with pytest.raises(UserError, match="no parameters"):
        C.top_eigenvalues(nn.ReLU(), CE, (x, y))
    with pytest.raises(UserError, match="does not fit"):
        C.top_eigenvalues(tiny(), CE, (torch.randn(5, 7), y[:5]))
    with pytest.raises(UserError, match="method"):
        C.top_eigenvalues(tiny(), CE, (x, y), method="qr")


class _State:
    def __init__(self, model, x, y):
        from types import SimpleNamespace

        self.model, self.loss_fn, self.lr, self.step, self.epoch = model, CE, 0.1, 4, 1
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        self.bundle = SimpleNamespace(train_x=x, train_y=y, n_train=len(y))
        self.extra = {}


def test_sharpness_hook_adds_keys():
    model = tiny()
    x, y = data()
    hook = C.SharpnessHook(every=2, samples=32)
    state = _State(model, x, y)
    hook.on_start(state)
    before = [p.detach().clone() for p in model.parameters()]
    hook.after_step(state)
    assert state.extra["sharpness"] > 0 and state.extra["eos_2_over_lr"] == pytest.approx(20.0)
    assert state.extra["eos_momentum"] == pytest.approx(38.0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    state.extra.clear()
    state.step = 5
    hook.after_step(state)
    assert state.extra == {}
    record = {}
    C.SharpnessHook(every=1, samples=32, unit="epoch").on_epoch_end(state, record)
    assert "sharpness" in record
