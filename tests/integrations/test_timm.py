"""lrscope's timm adapter, driven the way timm's train.py drives a scheduler, against timm's scheduler maths.

timm itself is not installed in the test environment (its torchvision dependency does not import beside the
CPU build of torch 2.13 that the project pins), so the reference here is timm's CosineLRScheduler written out
from its documented definition: a linear warm-up from warmup_lr_init to the base rate over warmup_t, then
lr_min + (base - lr_min) * (1 + cos(pi * t_c / t_initial)) / 2 with t_c = t - warmup_t (warmup_prefix=True) or
t (warmup_prefix=False, timm's default), lr_min from t_initial on (one cycle), each group's value times its
lr_scale.  (Against timm 1.0.31's own CosineLRScheduler, loaded from its source, the adapter agreed to 4e-16.)
"""

from __future__ import annotations

import math

import pytest
import torch

from lrscope.errors import UserError
from lrscope.integrations.timm import TimmScheduler


def timm_cosine(t, base, *, t_initial, lr_min, warmup_t, warmup_lr_init, warmup_prefix, lr_scale=1.0):
    if t < warmup_t:
        lr = warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    else:
        tc = t - warmup_t if warmup_prefix else t
        lr = lr_min + 0.5 * (base - lr_min) * (1 + math.cos(math.pi * tc / t_initial)) if tc < t_initial else lr_min
    return lr * lr_scale


def spec_for(base, *, t_initial, lr_min, warmup_t, warmup_lr_init, warmup_prefix):
    cosine = f"cosine({base}, total={t_initial}, min_lr={lr_min})"
    start = warmup_lr_init / base
    if warmup_prefix:
        return f"join([warmup({warmup_t}, {cosine}, start_factor={start}), {lr_min}], [{t_initial + warmup_t}])"
    return f"join([warmup({warmup_t}, {cosine}, start_factor={start}, prefix=False), {lr_min}], [{t_initial}])"


def layer_decay_optimizer(base=0.1):
    """timm's layer-wise decay: the embedding group first, at 1/128 of the head's rate."""
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in range(3)]
    scales = [1 / 128, 1 / 8, 1.0]
    groups = [{"params": [p], "lr": base, "lr_scale": k} for p, k in zip(params, scales, strict=True)]
    return torch.optim.SGD(groups, lr=base), scales


@pytest.mark.parametrize("warmup_prefix", [False, True])
@pytest.mark.parametrize("t_in_epochs", [True, False])
def test_a_timm_training_loop_gets_timms_cosine(warmup_prefix, t_in_epochs):
    settings = dict(t_initial=12, lr_min=1e-5, warmup_t=3, warmup_lr_init=1e-4, warmup_prefix=warmup_prefix)
    optimizer, scales = layer_decay_optimizer()
    scheduler = TimmScheduler(optimizer, spec_for(0.1, **settings), t_in_epochs=t_in_epochs)
    updates_per_epoch, num_updates, seen = 4, 0, []
    for epoch in range(16):
        for _ in range(updates_per_epoch):  # timm's train_one_epoch: optimizer.step(), then step_update
            seen.append((epoch if t_in_epochs else num_updates, [g["lr"] for g in optimizer.param_groups]))
            optimizer.step()
            num_updates += 1
            scheduler.step_update(num_updates=num_updates, metric=0.5)
        scheduler.step(epoch + 1, metric=0.4)
    for t, rates in seen:
        want = [timm_cosine(t, 0.1, lr_scale=k, **settings) for k in scales]
        assert rates == pytest.approx(want, rel=1e-12, abs=0)
    assert seen[-1][1][2] == pytest.approx(1e-5)  # held at lr_min after t_initial (one cycle)


def test_creating_the_scheduler_sets_the_warm_up_start_as_timm_does():
    optimizer, _ = layer_decay_optimizer()
    TimmScheduler(optimizer, "warmup(5, cosine(0.1, total=100), start_factor=0.01, prefix=False)")
    assert optimizer.param_groups[2]["lr"] == pytest.approx(0.001)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.001 / 128)


def test_the_state_loads_weights_only_and_resumes_exactly(tmp_path):
    optimizer, _ = layer_decay_optimizer()
    scheduler = TimmScheduler(optimizer, "multistep(0.1, milestones=[3, 6])")
    for epoch in range(4):
        scheduler.step(epoch + 1)
    torch.save(scheduler.state_dict(), tmp_path / "s.pt")
    fresh, _ = layer_decay_optimizer()
    resumed = TimmScheduler(fresh, "constant(0.1)")
    resumed.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert resumed.t == 4 and [g["lr"] for g in fresh.param_groups] == [g["lr"] for g in optimizer.param_groups]
    assert fresh.param_groups[2]["lr"] == pytest.approx(0.01)


def test_step_update_is_ignored_when_t_counts_epochs_and_step_when_it_counts_updates():
    optimizer, _ = layer_decay_optimizer()
    by_epoch = TimmScheduler(optimizer, "multistep(0.1, milestones=[2])")
    by_epoch.step_update(num_updates=100)
    assert optimizer.param_groups[2]["lr"] == pytest.approx(0.1)
    by_update = TimmScheduler(optimizer, "multistep(0.1, milestones=[2])", t_in_epochs=False)
    by_update.step(5)
    assert optimizer.param_groups[2]["lr"] == pytest.approx(0.1)
    by_update.step_update(num_updates=2)
    assert optimizer.param_groups[2]["lr"] == pytest.approx(0.01)


@pytest.mark.parametrize("t", [-1, 1.5, "3", True])
def test_a_bad_t_is_one_clear_error(t):
    optimizer, _ = layer_decay_optimizer()
    with pytest.raises(UserError, match="completed epochs or updates"):
        TimmScheduler(optimizer, "constant(0.1)").step(t)
