"""Gradient-noise estimates: unbiased on problems with known G and Sigma, invisible to training, and the
same from the gradients of data-parallel ranks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lrscope.errors import UserError
from lrscope.probes.noise import (
    NoiseEstimate,
    NoiseHook,
    NoiseMeter,
    RankGradientNorms,
    estimate_from_slices,
    noise_from_rank_gradients,
)
from lrscope.train.distributed import DistContext, exit_process


def test_slice_estimator_is_unbiased_for_known_gradient_distribution():
    # per-example gradients g = G + A z: E|G|^2 and tr(Sigma) = tr(A A^T) are known exactly
    gen = torch.Generator().manual_seed(0)
    dim = 6
    G = torch.randn(dim, generator=gen, dtype=torch.float64)
    A = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
    true_trace, true_sq = float((A * A).sum()), float(G @ G)
    for m, b in ((32, 1), (4, 8), (2, 16)):
        traces, sqs = [], []
        for _ in range(3000):
            per_example = G + torch.randn(m * b, dim, generator=gen, dtype=torch.float64) @ A.T
            est = estimate_from_slices(per_example.reshape(m, b, dim).mean(1), b)
            traces.append(est.noise_trace)
            sqs.append(est.grad_sq)
        se_trace = np.std(traces) / math.sqrt(len(traces))
        se_sq = np.std(sqs) / math.sqrt(len(sqs))
        assert abs(np.mean(traces) - true_trace) < 4 * se_trace, (m, b)
        assert abs(np.mean(sqs) - true_sq) < 4 * se_sq, (m, b)


def test_two_slices_equal_mccandlish_two_batch_formula():
    gen = torch.Generator().manual_seed(1)
    per_example = torch.randn(16, 5, generator=gen, dtype=torch.float64)
    b_small, b_big = 8, 16
    g_small = per_example.reshape(2, 8, 5).mean(1)
    g_big = per_example.mean(0)
    small_sq = float((g_small**2).sum(1).mean())
    big_sq = float(g_big @ g_big)
    s_est = (small_sq - big_sq) / (1 / b_small - 1 / b_big)
    g_est = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
    est = estimate_from_slices(g_small, 8)
    assert est.noise_trace == pytest.approx(s_est, rel=1e-12)
    assert est.grad_sq == pytest.approx(g_est, rel=1e-12)


def _linear_problem(n=4000, dim=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen)
    y = x @ torch.randn(dim, 1, generator=gen) + 0.5 * torch.randn(n, 1, generator=gen)
    model = nn.Linear(dim, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, dim, generator=gen))
    # exact per-example gradients of MSELoss on one example: 2 (w.x - y) x
    residual = (x @ model.weight.T - y).detach().double()
    per_example = 2 * residual * x.double()
    G = per_example.mean(0)
    trace = float(((per_example - G) ** 2).sum(1).mean())  # population covariance trace
    return model, x, y, float(G @ G), trace


@pytest.mark.parametrize("groups", [4, "example"])
def test_meter_recovers_population_noise_of_linear_regression(groups):
    model, x, y, true_sq, true_trace = _linear_problem()
    meter = NoiseMeter(groups=groups)
    gen = torch.Generator().manual_seed(2)
    traces, sqs = [], []
    for _ in range(300):
        idx = torch.randint(0, len(y), (32,), generator=gen)  # with replacement: exactly i.i.d. examples
        est = meter.measure(model, nn.MSELoss(), x[idx], y[idx])
        traces.append(est.noise_trace)
        sqs.append(est.grad_sq)
    assert np.mean(traces) == pytest.approx(
        true_trace, rel=4 * np.std(traces) / math.sqrt(300) / true_trace + 0.01
    )
    assert np.mean(sqs) == pytest.approx(true_sq, abs=4 * np.std(sqs) / math.sqrt(300) + 0.01 * true_sq)
    # the smoothed ratio is the ratio of the smoothed parts
    assert meter.b_simple == pytest.approx(meter.noise_trace / meter.grad_sq)


def test_per_example_and_group_estimates_agree_on_a_network():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2000, 8, generator=gen)
    y = torch.randint(0, 3, (2000,), generator=gen)
    by = {}
    for groups in (4, "example"):
        meter = NoiseMeter(groups=groups)
        g2 = torch.Generator().manual_seed(4)
        values = []
        for _ in range(150):
            idx = torch.randint(0, 2000, (32,), generator=g2)
            values.append(meter.measure(model, nn.CrossEntropyLoss(), x[idx], y[idx]).noise_trace)
        by[groups] = (np.mean(values), np.std(values) / math.sqrt(len(values)))
    (a, sa), (b, sb) = by[4], by["example"]
    assert abs(a - b) < 4 * math.hypot(sa, sb)


def test_from_per_example_matches_slices():
    grads = torch.randn(10, 7, generator=torch.Generator().manual_seed(5))
    meter = NoiseMeter()
    est = meter.from_per_example([grads[:, :3], grads[:, 3:]])
    assert est.noise_trace == pytest.approx(estimate_from_slices(grads, 1).noise_trace)
    assert est.batch_size == 10 and est.groups == 10


def test_measure_leaves_model_grads_buffers_and_rng_alone():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(4 * 6 * 6, 3),
    )
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    nn.CrossEntropyLoss()(model(x), y).backward()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    est = NoiseMeter(groups=4).measure(model, nn.CrossEntropyLoss(), x, y)
    assert est.noise_trace > 0 and est.batch_size == 16
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters(), strict=True))
    assert torch.equal(rng, torch.get_rng_state())
    with pytest.raises(UserError, match="batch norm"):
        NoiseMeter(groups="example").measure(model, nn.CrossEntropyLoss(), x, y)


def test_bad_arguments():
    with pytest.raises(UserError):
        NoiseMeter(groups=1)
    with pytest.raises(UserError):
        NoiseHook(every=0)
    with pytest.raises(UserError, match="reduction"):
        NoiseMeter().measure(
            nn.Linear(2, 1), nn.MSELoss(reduction="sum"), torch.randn(4, 2), torch.randn(4, 1)
        )
    assert NoiseEstimate(-1.0, 2.0, 8, 2).to_record()["b_simple"] is None


def _train(tmp_path, name, noise_every):
    from lrscope.logs.rundir import read_metrics
    from lrscope.probes.hooks import hooks_for
    from lrscope.train.config import TrainConfig
    from lrscope.train.loop import train

    config = TrainConfig(
        data="synthetic:n=300,dim=8,classes=3",
        model="mlp",
        epochs=2,
        batch_size=16,
        schedule="multistep(0.1, milestones=[1])",
        noise_every=noise_every,
        seed=1,
        threads=1,
    )
    run = train(config, tmp_path / name, hooks=hooks_for(config))
    return read_metrics(run, "step"), read_metrics(run, "epoch")


def test_hook_does_not_change_the_trajectory(tmp_path):
    steps_off, epochs_off = _train(tmp_path, "off", 0)
    steps_on, epochs_on = _train(tmp_path, "on", 3)
    assert [r["loss"] for r in steps_off] == [r["loss"] for r in steps_on]
    assert [r["val_loss"] for r in epochs_off] == [r["val_loss"] for r in epochs_on]
    measured = [r for r in steps_on if "noise_trace" in r]
    assert [r["step"] for r in measured] == [s for s in range(3, len(steps_on) + 1, 3)]
    assert all(r["noise_batch"] == 16 and r["noise_trace"] > 0 for r in measured)
    assert all(
        "noise_trace" in r and r["noise_n"] >= 1 and r["noise_trace_q25"] <= r["noise_trace_q75"]
        for r in epochs_on
    )
    assert not any("noise_trace" in r for r in steps_off)


def test_hook_measures_on_the_batch_the_next_step_takes(tmp_path):
    """Not the batch just stepped on (its loss was just lowered: tr(Sigma) would read low), but the next one,
    augmentation included, across the epoch boundary too."""
    from lrscope.train.config import TrainConfig
    from lrscope.train.loop import train

    seen, measured = [], []

    class Batches:
        def after_step(self, state):
            seen.append(state.batch[0].clone())

    hook = NoiseHook(every=5)
    measure = hook.meter.measure

    def spy(model, loss_fn, x, y):
        measured.append((len(seen), x.clone()))
        return measure(model, loss_fn, x, y)

    hook.meter.measure = spy
    config = TrainConfig(
        data="synthetic:n=200,dim=8,classes=3", model="mlp", epochs=2, batch_size=16, augment=True,
        schedule="constant(0.1)", seed=3, threads=1,
    )
    train(config, tmp_path / "r", hooks=[Batches(), hook])
    assert len(measured) == len(seen) // 5
    for step, x in measured:  # `step` steps done; the next one is seen[step]
        if step < len(seen):
            assert torch.equal(x, seen[step])
    per_epoch = len(seen) // config.epochs
    assert any(step == per_epoch for step, _ in measured)  # one measurement crossed the epoch boundary


# ---------------------------------------------------------------- the noise estimate from rank gradients


@given(world=st.integers(2, 5), b=st.integers(1, 9), seed=st.integers(0, 1000))
@settings(max_examples=25, deadline=None)
def test_rank_gradient_estimate_is_the_slice_estimate(world, b, seed):
    grads = torch.randn(world, 7, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    mean = grads.mean(0)
    got = noise_from_rank_gradients(float((grads**2).sum()), float(mean @ mean), b, world)
    want = estimate_from_slices(grads, b)
    assert got.batch_size == want.batch_size == world * b and got.groups == world
    assert got.noise_trace == pytest.approx(want.noise_trace, rel=1e-9, abs=1e-12)
    assert got.grad_sq == pytest.approx(want.grad_sq, rel=1e-9, abs=1e-12)


def _noise_worker(rank: int, world: int, rendezvous: str, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
        net = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=1e-5)  # several buckets
        norms = RankGradientNorms.attach(net)
        x = torch.randn(8, 5, generator=torch.Generator().manual_seed(10 + rank))
        y = torch.randint(0, 3, (8,), generator=torch.Generator().manual_seed(20 + rank))
        nn.CrossEntropyLoss()(net(x), y).backward()
        ctx = DistContext(rank=rank, world_size=world)
        estimate = norms.estimate(model, 8, ctx)
        own = torch.autograd.grad(nn.CrossEntropyLoss()(model(x), y), list(model.parameters()))
        flat = torch.cat([g.reshape(-1) for g in own]).double()
        every = [torch.zeros_like(flat) for _ in range(world)]
        torch.distributed.all_gather(every, flat)
        want = estimate_from_slices(torch.stack(every), 8)
        if rank == 0:
            Path(out).write_text(json.dumps([estimate.noise_trace, want.noise_trace, estimate.grad_sq,
                                             want.grad_sq]))
    finally:
        torch.distributed.destroy_process_group()
    exit_process(0)  # a normal exit can abort in torch's gloo workers (see exit_process)


def test_ddp_comm_hook_measures_the_rank_gradients(tmp_path):
    out = tmp_path / "noise.json"
    torch.multiprocessing.spawn(_noise_worker, args=(2, str(tmp_path / "rendezvous"), str(out)), nprocs=2,
                                join=True)
    trace, want_trace, grad_sq, want_grad_sq = json.loads(out.read_text())
    assert trace == pytest.approx(want_trace, rel=1e-4) and trace > 0
    assert grad_sq == pytest.approx(want_grad_sq, rel=1e-4, abs=1e-6)
