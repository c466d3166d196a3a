"""The LR finder under faults: the user's model, optimizer, RNGs, loader generator and GradScaler come back exactly.

Faults, each at a random iteration: ``KeyboardInterrupt`` raised inside the loss (the user pressing Ctrl-C), a
``RuntimeError`` raised inside the loss, and a loss that diverges (huge, then inf/NaN).  The model has BatchNorm
(buffers) and dropout (RNG), the optimizer has momentum state from earlier steps, the loader shuffles with its own
generator.  After ``find_lr`` returns or raises, every tensor is bitwise what it was (values, ``.grad``, train/eval
flags), ``str(optimizer.state_dict())`` is unchanged, and so are the Python/NumPy/torch RNG states, the loader's
generator and the scaler's state.  Two finders running at the same time (two threads on two models; two
``lrscope find`` processes) do not disturb each other.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
import threading

import faultlib
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from lrscope.probes.finder import find_lr  # noqa: E402 - after the torch check

CMD = faultlib.command_for("test_rel_finder.py")
FAULTS = ("interrupt", "exception", "diverge")


class Boom(RuntimeError):
    pass


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 3)
    )
    x = torch.randn(256, 8)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    generator = torch.Generator().manual_seed(seed + 1)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True, generator=generator
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    for xb, yb in list(loader)[:3]:  # some momentum state, and gradients left in .grad
        optimizer.zero_grad()
        loss_fn(model(xb), yb).backward()
        optimizer.step()
    model.eval()  # the user left it in eval mode: it must come back in eval mode
    return model, optimizer, loss_fn, loader, generator


def _state(model, optimizer, generator, scaler) -> dict:
    return {
        "params": {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()},
        "grads": {k: (None if p.grad is None else p.grad.clone()) for k, p in model.named_parameters()},
        "ids": [id(p) for p in model.parameters()],
        "training": [m.training for m in model.modules()],
        "optimizer": str(optimizer.state_dict()),
        "optimizer_tensors": copy.deepcopy(optimizer.state_dict()["state"]),
        "torch_rng": torch.get_rng_state().clone(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
        "loader_rng": generator.get_state().clone(),
        "scaler": None if scaler is None else copy.deepcopy(scaler.state_dict()),
    }


def _same(a, b, where="state") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert a.view(torch.uint8).equal(b.view(torch.uint8)) if a.dim() else a.item() == b.item(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys differ"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _faulty_loss(loss_fn, fault: str, at: int):
    calls = {"n": 0}

    def loss(output, target):
        calls["n"] += 1
        value = loss_fn(output, target)
        if calls["n"] >= at:
            if fault == "interrupt":
                raise KeyboardInterrupt
            if fault == "exception":
                raise Boom("inside the loss")
            return value * 10.0 ** min(300, 4 * (calls["n"] - at + 1)) if calls["n"] < at + 3 else value * np.inf
        return value

    return loss


def _cpu_scaler():
    try:
        return torch.amp.GradScaler("cpu", init_scale=2.0**10)
    except (TypeError, RuntimeError, AttributeError):
        return None


PLANS = [(fault, i) for i in range(faultlib.trials(2, 15)) for fault in FAULTS]


@pytest.mark.parametrize("fault,trial_no", PLANS, ids=[f"{f}-{i}" for f, i in PLANS])
def test_finder_restores_everything(fault, trial_no):
    r = faultlib.rng(f"finder-{fault}-{trial_no}")
    use_scaler = trial_no % 2 == 1
    model, optimizer, loss_fn, loader, generator = _setup(seed=trial_no)
    scaler = _cpu_scaler() if use_scaler else None
    num_iter = 40
    at = r.randint(11 if fault == "diverge" else 1, num_iter)  # diverging before 10 steps is a UserError
    before = _state(model, optimizer, generator, scaler)
    with faultlib.trial(
        "Finder: Ctrl-C, exception in the loss, divergence -> everything restored", CMD + " -k restores"
    ):
        try:
            find_lr(
                model,
                optimizer,
                _faulty_loss(loss_fn, fault, at),
                loader,
                start_lr=1e-4,
                end_lr=1.0,
                num_iter=num_iter,
                amp=scaler if scaler is not None else False,
            )
        except KeyboardInterrupt:
            assert fault == "interrupt"
        except Boom:
            assert fault == "exception"
        except ValueError as error:  # UserError: a sweep that stopped too early to read
            assert fault in ("interrupt", "exception", "diverge"), error
        else:
            assert fault == "diverge", "the fault did not stop the finder"
        _same(before, _state(model, optimizer, generator, scaler))


def test_two_finders_in_threads_do_not_collide():
    """Two finders at once (threads) on two models: each model and optimizer comes back exactly."""
    setups = [_setup(seed=s) for s in (10, 11)]
    befores = [{k: v for k, v in _state(m, o, g, None).items() if not k.endswith("rng")} for m, o, _, _, g in setups]
    errors = []

    def work(model, optimizer, loss_fn, loader, generator):
        try:
            find_lr(model, optimizer, loss_fn, loader, start_lr=1e-4, end_lr=1.0, num_iter=40)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    with faultlib.trial("Finder: two finders at once (threads, processes)", CMD + " -k two_finders"):
        threads = [threading.Thread(target=work, args=s) for s in setups]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for (m, o, _, _, g), before in zip(setups, befores, strict=True):
            after = {k: v for k, v in _state(m, o, g, None).items() if not k.endswith("rng")}
            _same(before, after)


@pytest.mark.skipif(not faultlib.FULL, reason="full form only (LRSCOPE_FULL_RELIABILITY=1)")
def test_two_finder_commands_at_once(tmp_path):
    """Two `lrscope find` processes at the same time write their own results, equal to each other's."""
    args = ["find", "--data", "digits", "--model", "mlp", "--num-iter", "60", "--seed", "0", "--json"]
    with faultlib.trial("Finder: two finders at once (threads, processes)", CMD + " -k two_finders"):
        procs = [
            subprocess.Popen(
                [str(faultlib.LRSCOPE), *args, "--out", str(tmp_path / name)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in "ab"
        ]
        outs = [p.communicate(timeout=600) for p in procs]
        for p, (_, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
        docs = [json.loads(out) for out, _ in outs]
        assert docs[0]["suggestion"] == docs[1]["suggestion"]
        for name in "ab":
            assert json.loads((tmp_path / name / "finder.json").read_text())["schema"].startswith("lrscope.finder/")
