"""The LR range test and the state snapshot: exact restore come what may, sane suggestions, clear errors."""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lrscope.errors import UserError
from lrscope.probes.finder import FinderResult, find_lr, sweep_lrs
from lrscope.probes.state import preserved, snapshot


def make_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, 3, generator=g)
    y = (x @ w + 0.5 * torch.randn(n, 3, generator=g)).argmax(1)
    return x, y


def make_model(seed=1, dropout=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def make_loader(seed=0, batch_size=32, n=256):
    x, y = make_data(n)
    ds = torch.utils.data.TensorDataset(x, y)
    return torch.utils.data.DataLoader(
        ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def warm(model, optimizer, steps=2):
    """A couple of real steps so the optimizer has state and the params have .grad."""
    x, y = make_data(64, seed=5)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def frozen(model, optimizer):
    """What must come back: params and buffers, grads, train flags, the optimizer's state_dict text."""
    tensors = {k: v.detach().clone() for k, v in model.state_dict().items()}
    grads = {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}
    flags = [m.training for m in model.modules()]
    return tensors, grads, flags, str(optimizer.state_dict())


def assert_same(model, optimizer, before):
    tensors, grads, flags, opt_text = before
    now = model.state_dict()
    assert list(now) == list(tensors)
    for k, v in tensors.items():
        assert torch.equal(now[k], v), k
        assert now[k].dtype == v.dtype
    for n, p in model.named_parameters():
        if grads[n] is None:
            assert p.grad is None, n
        else:
            assert p.grad is not None and torch.equal(p.grad, grads[n]), n
    assert [m.training for m in model.modules()] == flags
    assert str(optimizer.state_dict()) == opt_text


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.01),
}


@pytest.mark.parametrize("repeats", [1, 3])
@pytest.mark.parametrize("opt_name", ["sgd", "adamw"])
@pytest.mark.parametrize("warmed", [False, True])
def test_restored_bitwise_after_a_normal_sweep(repeats, opt_name, warmed):
    model = make_model()
    optimizer = OPTIMIZERS[opt_name](model.parameters())
    if warmed:
        warm(model, optimizer)
    model.eval()  # a flag that must survive (the sweep trains in train mode)
    before = frozen(model, optimizer)
    result = find_lr(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        make_loader(),
        start_lr=1e-5,
        end_lr=10,
        num_iter=20,
        repeats=repeats,
        seed=0,
    )
    assert result.repeats == repeats
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) >= 10
    assert_same(model, optimizer, before)
    if not warmed:
        assert optimizer.state_dict()["state"] == {}


def test_restored_after_divergence():
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = frozen(model, optimizer)

    def exploding(out, y):  # a loss that grows without bound once the lr is large
        return nn.functional.cross_entropy(out, y) * (1 + out.abs().mean() ** 3)

    result = find_lr(model, optimizer, exploding, make_loader(), start_lr=1e-4, end_lr=1e4, num_iter=60, diverge=2.0)
    assert result.sweeps[0].stopped == "diverged"
    assert len(result.lrs) < 60
    assert any("diverged" in n for n in result.notes)
    assert_same(model, optimizer, before)


def test_restored_after_an_exception_in_the_loss():
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    warm(model, optimizer)
    before = frozen(model, optimizer)
    calls = {"n": 0}

    def flaky(out, y):
        calls["n"] += 1
        if calls["n"] == 7:
            raise RuntimeError("boom")
        return nn.functional.cross_entropy(out, y)

    with pytest.raises(RuntimeError, match="boom"):
        find_lr(model, optimizer, flaky, make_loader(), num_iter=20)
    assert_same(model, optimizer, before)


@settings(max_examples=5, deadline=None)
@given(stop_at=st.integers(1, 45), repeats=st.sampled_from([1, 3]))
def test_restored_after_keyboard_interrupt_at_any_iteration(stop_at, repeats):
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    warm(model, optimizer)
    before = frozen(model, optimizer)
    rng_before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone())
    calls = {"n": 0}

    def interrupted(out, y):
        calls["n"] += 1
        if calls["n"] == stop_at:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(out, y)

    try:
        find_lr(model, optimizer, interrupted, make_loader(), num_iter=15, repeats=repeats, seed=3)
    except KeyboardInterrupt:
        assert calls["n"] == stop_at
    else:  # the sweep ended (finished or diverged) before the interrupt was due: still restored
        assert calls["n"] < stop_at
    assert_same(model, optimizer, before)
    assert random.getstate() == rng_before[0]
    assert np.array_equal(np.random.get_state()[1], rng_before[1])
    assert torch.equal(torch.get_rng_state(), rng_before[2])


def test_rng_states_restored_even_with_dropout_and_a_seed():
    model = make_model(dropout=0.3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    expect = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    find_lr(model, optimizer, nn.CrossEntropyLoss(), make_loader(), num_iter=12, seed=5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expect


def test_same_seed_gives_the_same_curve_and_the_loader_generator_is_restored():
    model = make_model(dropout=0.2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = make_loader()
    a = find_lr(model, optimizer, nn.CrossEntropyLoss(), loader, num_iter=15, seed=4)
    b = find_lr(model, optimizer, nn.CrossEntropyLoss(), loader, num_iter=15, seed=4)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.suggestion == b.suggestion


def test_no_files_are_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tmp_before = set(os.listdir(tempfile.gettempdir()))
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    find_lr(model, optimizer, nn.CrossEntropyLoss(), make_loader(), num_iter=12, repeats=2)
    assert list(tmp_path.iterdir()) == []
    created = set(os.listdir(tempfile.gettempdir())) - tmp_before
    assert not {c for c in created if "lr" in c.lower() or c.endswith((".pt", ".pth", ".ckpt"))}


def test_two_finders_in_parallel_threads_do_not_collide():
    results, errors = {}, []
    pairs = {}
    for k in range(2):
        model = make_model(seed=k)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        warm(model, optimizer)
        pairs[k] = (model, optimizer, frozen(model, optimizer))

    def work(k):
        try:
            model, optimizer, _ = pairs[k]
            results[k] = find_lr(model, optimizer, nn.CrossEntropyLoss(), make_loader(seed=k), num_iter=15)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k, (model, optimizer, before) in pairs.items():
        assert_same(model, optimizer, before)
        assert np.isfinite(results[k].suggestion)


class DictModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 3)

    def forward(self, features, scale):
        return self.a(features) * scale


def test_dict_batches_default_keys_and_batch_fn():
    x, y = make_data(96)
    dict_batches = [{"x": x[i : i + 32], "label": y[i : i + 32]} for i in range(0, 96, 32)]
    model = nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = find_lr(model, opt, nn.CrossEntropyLoss(), dict_batches, num_iter=12)
    assert len(result.losses) >= 10

    odd = [{"feat": x[i : i + 32], "cls": y[i : i + 32]} for i in range(0, 96, 32)]
    with pytest.raises(UserError, match="batch_fn"):
        find_lr(model, opt, nn.CrossEntropyLoss(), odd, num_iter=12)
    dmodel = DictModel()
    dopt = torch.optim.SGD(dmodel.parameters(), lr=0.1)
    result = find_lr(
        dmodel,
        dopt,
        nn.CrossEntropyLoss(),
        odd,
        num_iter=12,
        batch_fn=lambda b: ({"features": b["feat"], "scale": 2.0}, b["cls"]),
    )
    assert np.isfinite(result.losses).all()


def test_short_loader_is_cycled_with_a_note():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = make_loader(n=96)  # 3 batches
    result = find_lr(model, opt, nn.CrossEntropyLoss(), loader, num_iter=20, diverge=100.0)
    assert len(result.lrs) == 20
    assert any("cycled" in n for n in result.notes)


def test_one_shot_iterator_stops_with_a_note():
    x, y = make_data(32 * 12)
    gen = ((x[i : i + 32], y[i : i + 32]) for i in range(0, len(y), 32))
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = find_lr(model, opt, nn.CrossEntropyLoss(), gen, num_iter=20, diverge=100.0)
    assert len(result.lrs) == 12
    assert result.sweeps[0].stopped == "loader exhausted"
    assert any("one-shot" in n for n in result.notes)


def test_accumulation_counts_optimizer_steps():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = {"loss": 0, "step": 0}
    opt.register_step_post_hook(lambda *a: calls.__setitem__("step", calls["step"] + 1))

    def counting(out, y):
        calls["loss"] += 1
        return nn.functional.cross_entropy(out, y)

    result = find_lr(model, opt, counting, make_loader(), num_iter=12, accumulation_steps=3, diverge=100.0)
    assert len(result.lrs) == 12
    assert calls == {"loss": 36, "step": 12}


def test_lr_is_swept_in_every_param_group():
    model = make_model()
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.5},
            {"params": list(model[1].parameters()) + list(model[4].parameters())},
        ],
        lr=0.01,
    )
    seen = []
    opt.register_step_pre_hook(lambda o, *a: seen.append([g["lr"] for g in o.param_groups]))
    find_lr(model, opt, nn.CrossEntropyLoss(), make_loader(), start_lr=1e-3, end_lr=1.0, num_iter=10, diverge=100.0)
    planned = sweep_lrs(1e-3, 1.0, 10)
    assert [s[0] for s in seen] == pytest.approx(planned.tolist())
    assert all(a == b for a, b in seen)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.01]


def test_amp_on_cpu_and_a_user_grad_scaler_is_restored():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = find_lr(model, opt, nn.CrossEntropyLoss(), make_loader(), num_iter=12, amp=True)
    assert result.settings["amp"] is True
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    state = str(scaler.state_dict())
    find_lr(model, opt, nn.CrossEntropyLoss(), make_loader(), num_iter=12, amp=scaler)
    assert str(scaler.state_dict()) == state


def test_amp_skipped_steps_are_not_counted():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    calls = {"n": 0}

    def sometimes_inf(out, y):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("inf") if calls["n"] in (3, 4) else loss  # inf loss -> inf grads -> skipped step

    result = find_lr(model, opt, sometimes_inf, make_loader(), num_iter=12, amp=scaler, diverge=100.0)
    # the two inf-loss steps are skipped by the scaler and the rates they were meant for are retried
    assert len(result.lrs) == 12 and np.isfinite(result.losses).all()
    assert calls["n"] == 14
    assert any("skipped" in n for n in result.notes)


def test_suggestion_lands_in_the_descent_on_a_synthetic_problem():
    torch.manual_seed(0)
    x, y = make_data(1024)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    model = nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = find_lr(model, opt, nn.CrossEntropyLoss(), loader, start_lr=1e-4, end_lr=100, num_iter=80)
    fit = result.sweeps[0].fit
    lr_at_min = result.lrs[int(np.nanargmin(fit))]
    low, high = result.range
    assert low < result.suggestion < high <= lr_at_min * 1.01
    # the fit has really fallen by the suggestion and not yet at the low end of the range
    i = int(np.searchsorted(result.lrs, result.suggestion))
    assert fit[i] < fit[0] - 0.2 * (fit[0] - np.nanmin(fit))
    assert result.reliable


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(start_lr=1.0, end_lr=0.1), "start_lr must be below end_lr"),
        (dict(start_lr=1.0, end_lr=1.0), "start_lr must be below end_lr"),
        (dict(start_lr=0.0), "start_lr must be a finite number > 0"),
        (dict(num_iter=5), "num_iter must be an integer from 10 to"),
        (dict(mode="cosine"), "mode must be"),
        (dict(repeats=0), "repeats"),
        (dict(accumulation_steps=0), "accumulation_steps"),
        (dict(smooth=1.0), "smooth"),
        (dict(diverge=0.5), "diverge"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(UserError, match=message):
        find_lr(model, opt, nn.CrossEntropyLoss(), make_loader(), **kwargs)


def test_bad_inputs_empty_loader_nan_loss_foreign_optimizer():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = frozen(model, opt)
    with pytest.raises(UserError, match="no batches"):
        find_lr(model, opt, nn.CrossEntropyLoss(), [], num_iter=10)
    with pytest.raises(UserError, match="first batch is nan"):
        find_lr(model, opt, lambda o, y: o.sum() * float("nan"), make_loader(), num_iter=10)
    other = torch.optim.SGD(make_model(seed=3).parameters(), lr=0.1)
    with pytest.raises(UserError, match="not the model's"):
        find_lr(model, other, nn.CrossEntropyLoss(), make_loader(), num_iter=10)
    assert_same(model, opt, before)


def test_to_json_schema():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = find_lr(
        model, opt, nn.CrossEntropyLoss(), make_loader(), start_lr=1e-4, end_lr=1e3, num_iter=30, repeats=2, seed=1
    )
    assert isinstance(result, FinderResult)
    doc = result.to_json()
    text = json.dumps(doc, allow_nan=False)  # divergence infinities become null
    back = json.loads(text)
    assert back["schema"] == "lrscope.finder/1"
    assert set(back["suggestions"]) >= {"turn_over_3", "combined", "steepest", "midpoint", "valley",
                                        "minimum_over_10"}
    # make_model has a BatchNorm layer: find_lr saw it and used the BatchNorm rule (the turn itself)
    assert back["settings"]["batchnorm"] is True
    assert back["rule"] == "turn" and back["suggestion"] == back["suggestions"]["turn"]
    assert all(s["rule"] == "turn" for s in back["sweeps"])
    assert back["band"][0] < back["suggestion"] < back["band"][1]
    assert len(back["range"]) == 2 and back["range"][0] < back["range"][1]
    assert back["repeats"] == 2 and len(back["sweeps"]) == 2 and back["spread_decades"] >= 0


# ---------------------------------------------------------------- the snapshot on its own


def test_preserved_puts_back_replaced_objects_tied_weights_and_group_keys():
    emb = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = emb.weight  # tied
    model = nn.Sequential(emb, head)
    model.register_buffer("counter", torch.zeros(3), persistent=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = frozen(model, opt)
    counter = model.counter
    with preserved(model, opt):
        model.counter = torch.ones(5)  # replaced by another object, another shape
        with torch.no_grad():
            emb.weight.add_(1.0)
        opt.param_groups[0]["initial_lr"] = 0.1  # as a scheduler would add
        opt.param_groups[0]["lr"] = 3.0
        model(torch.tensor([1, 2])).sum().backward()
        opt.step()
    assert model.counter is counter and torch.equal(counter, torch.zeros(3))
    assert head.weight is emb.weight
    assert "initial_lr" not in opt.param_groups[0]
    assert_same(model, opt, before)


def test_snapshot_restores_many_times():
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = frozen(model, opt)
    snap = snapshot(model, opt)
    for _ in range(3):
        warm(model, opt)
        snap.restore()
        assert_same(model, opt, before)


def test_apply_sets_the_suggestion_keeping_the_groups_ratios():
    import doctest

    import torch

    from lrscope.analysis import finder_result
    from lrscope.analysis.finder_result import FinderResult

    assert doctest.testmod(finder_result).failed == 0
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 1e-3}, {"params": [b], "lr": 1e-4}], lr=1e-3)
    result = FinderResult(np.zeros(1), np.zeros(1), np.zeros(1), 0.05, {}, (0.005, 0.05), None, (0.04, 0.06), [], {})
    assert result.apply(opt) == [0.05, 0.005]
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.005]


def test_the_rule_follows_batchnorm_in_the_model_unless_told():
    """The same sweep read for a model with BatchNorm (suggestion at the turn, 1cycle's peak 3x above it)
    and, when told batchnorm=False, as for a plain model (a third of the turn, the peak at two thirds)."""
    runs = {}
    for flag in (None, False):
        model = make_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        runs[flag] = find_lr(model, opt, nn.CrossEntropyLoss(), make_loader(), start_lr=1e-4, end_lr=1e3,
                             num_iter=40, seed=3, batchnorm=flag)
    auto, told = runs[None], runs[False]
    assert (auto.rule, auto.settings["batchnorm"]) == ("turn", True)
    assert (told.rule, told.settings["batchnorm"]) == ("turn_over_3", False)
    assert np.allclose(auto.losses, told.losses, equal_nan=True)  # same seed, same sweep
    assert auto.suggestion == pytest.approx(3 * told.suggestion, rel=1e-9)
    assert auto.range[1] == pytest.approx(4.5 * told.range[1], rel=1e-9)


def test_a_model_without_batchnorm_gets_the_plain_rule():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = find_lr(model, opt, nn.CrossEntropyLoss(), make_loader(), start_lr=1e-4, end_lr=1e3, num_iter=30)
    assert result.rule == "turn_over_3" and result.settings["batchnorm"] is False
