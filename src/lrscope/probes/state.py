"""Put a model, its optimizer, a GradScaler and the random-number generators back exactly as they were.

Every probe that trains or perturbs the user's model (the LR range test, landscape walks, what-if runs) does
it inside ``with preserved(model, optimizer):``.  On the way out, normal or not (an exception, a divergence,
``KeyboardInterrupt``), the ``finally`` puts back, bit for bit and in place:

- the model's parameters and buffers (persistent or not), the same tensor objects (so references other code
  holds, e.g. an optimizer's, stay valid), their ``.grad`` (``None`` stays ``None``), and every module's
  train/eval flag;
- the optimizer's per-parameter state (which parameters *have* state, in the same order, with the same keys)
  and every param-group hyper-parameter (lr, momentum, betas, weight decay, ``initial_lr`` ...), so that
  ``str(optimizer.state_dict())`` is identical afterwards;
- a ``torch.amp.GradScaler``'s scale, growth tracker and per-optimizer bookkeeping;
- the global RNG states: Python ``random``, NumPy's global generator, torch's CPU generator and, if CUDA has
  been initialised, every CUDA device's generator; plus any extra ``torch.Generator`` passed in (a
  DataLoader's).

The copy lives in memory only: one clone of each tensor, made once on the way in, never a file, so two
probes running at the same time cannot collide and nothing is left behind.  A :class:`Snapshot` can also be
restored several times (``snap.restore()``), which the finder uses to start every repeat from the same
state.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ..train.rng import rng_state, set_rng_state  # the one snapshot of the global RNGs (CUDA-aware)

__all__ = ["Snapshot", "snapshot", "preserved", "rng_state", "set_rng_state"]


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return copy.deepcopy(value)


def _put_back(original: Any, saved: Any) -> Any:
    """Copy ``saved`` into ``original`` in place when both are compatible tensors; otherwise a fresh copy."""
    if isinstance(saved, torch.Tensor):
        same = (isinstance(original, torch.Tensor) and original.shape == saved.shape
                and original.dtype == saved.dtype and original.device == saved.device)
        if same:
            with torch.no_grad():
                original.copy_(saved)
            return original
        return saved.clone()
    return copy.deepcopy(saved)


@dataclass
class _ModuleSlot:
    """One parameter or buffer: where it lives, the object that was there, and a clone of its values."""

    module: torch.nn.Module
    name: str
    kind: str  # "_parameters" or "_buffers"
    tensor: torch.Tensor
    values: torch.Tensor
    grad: torch.Tensor | None
    grad_values: torch.Tensor | None


@dataclass
class _OptimizerCopy:
    optimizer: torch.optim.Optimizer
    groups: list[dict]  # the original group dict objects
    group_items: list[list[tuple[str, Any, Any]]]  # (key, original value, saved copy) in the original order
    params_lists: list[tuple[list, list]]  # (the original 'params' list object, its content)
    state: list[tuple[Any, dict, list[tuple[str, Any, Any]]]]  # (param, original inner dict, items)
    extras: dict[str, Any] = field(default_factory=dict)


_MISSING = object()
# Plain attributes torch.optim keeps on the optimizer object itself that a few steps change.
_OPTIMIZER_FLAGS = ("_opt_called",)


@dataclass
class Snapshot:
    """Everything :func:`preserved` puts back; ``restore()`` may be called any number of times."""

    slots: list[_ModuleSlot]
    training: list[tuple[torch.nn.Module, bool]]
    optimizer: _OptimizerCopy | None = None
    scaler: Any = None
    scaler_state: dict | None = None
    scaler_per_optimizer: Any = None
    rng: dict[str, Any] | None = None
    generators: list[tuple[torch.Generator, torch.Tensor]] = field(default_factory=list)

    def restore(self, *, rng: bool = True) -> None:
        """Put everything back; with ``rng=False`` leave the RNGs and generators where they are now."""
        _restore_model(self)
        if self.optimizer is not None:
            _restore_optimizer(self.optimizer)
        if self.scaler is not None:
            if self.scaler_state:
                self.scaler.load_state_dict(self.scaler_state)
            if self.scaler_per_optimizer is not None:
                self.scaler._per_optimizer_states = copy.copy(self.scaler_per_optimizer)
        if not rng:
            return
        if self.rng is not None:
            set_rng_state(self.rng)
        for generator, state in self.generators:
            generator.set_state(state)


def snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None, scaler: Any = None,
             rng: bool = True, generators: Iterable[torch.Generator] = ()) -> Snapshot:
    """Copy (in memory, once) everything :func:`preserved` restores.  See the module docstring."""
    slots = []
    seen: set[int] = set()
    for module in model.modules():
        for kind in ("_parameters", "_buffers"):
            for name, tensor in getattr(module, kind).items():
                if tensor is None:
                    continue
                shared = id(tensor) in seen  # tied weights: clone the values once, but remember every home
                seen.add(id(tensor))
                grad = tensor.grad if kind == "_parameters" else None
                slots.append(_ModuleSlot(
                    module=module, name=name, kind=kind, tensor=tensor,
                    values=None if shared else tensor.detach().clone(),
                    grad=grad, grad_values=None if (grad is None or shared) else grad.detach().clone(),
                ))
    snap = Snapshot(slots=slots, training=[(m, m.training) for m in model.modules()])
    if optimizer is not None:
        snap.optimizer = _copy_optimizer(optimizer)
    if scaler is not None:
        snap.scaler = scaler
        snap.scaler_state = scaler.state_dict() if scaler.is_enabled() else None
        per_optimizer = getattr(scaler, "_per_optimizer_states", None)
        snap.scaler_per_optimizer = copy.copy(per_optimizer) if per_optimizer is not None else None
    if rng:
        snap.rng = rng_state()
    snap.generators = [(g, g.get_state()) for g in generators]
    return snap


@contextlib.contextmanager
def preserved(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None, scaler: Any = None,
              rng: bool = True, generators: Iterable[torch.Generator] = ()) -> Iterator[Snapshot]:
    """Run the block, then put ``model`` (``optimizer``, ``scaler``, RNGs) back bit for bit, come what may.

    >>> with preserved(model, optimizer) as snap:
    ...     train_a_little(model, optimizer)
    ...     snap.restore()          # optional: back to the start without leaving the block
    """
    snap = snapshot(model, optimizer, scaler=scaler, rng=rng, generators=generators)
    try:
        yield snap
    finally:
        snap.restore()


# ---------------------------------------------------------------- model


def _restore_model(snap: Snapshot) -> None:
    with torch.no_grad():
        for slot in snap.slots:
            home = getattr(slot.module, slot.kind)
            if home.get(slot.name) is not slot.tensor:  # the probe replaced the object: put the original back
                home[slot.name] = slot.tensor
            if slot.values is not None:
                slot.tensor.copy_(slot.values)
                if slot.kind == "_parameters":
                    if slot.grad is None:
                        slot.tensor.grad = None
                    else:
                        slot.grad.copy_(slot.grad_values)
                        slot.tensor.grad = slot.grad
    for module, training in snap.training:
        module.training = training


# ---------------------------------------------------------------- optimizer


def _copy_optimizer(optimizer: torch.optim.Optimizer) -> _OptimizerCopy:
    groups = list(optimizer.param_groups)
    group_items = []
    params_lists = []
    for group in groups:
        items = []
        for key, value in group.items():
            if key == "params":
                params_lists.append((value, list(value)))
                items.append((key, value, None))
            else:
                items.append((key, value, _clone(value)))
        group_items.append(items)
    state = []
    for param, inner in optimizer.state.items():
        state.append((param, inner, [(key, value, _clone(value)) for key, value in inner.items()]))
    extras = {name: getattr(optimizer, name, _MISSING) for name in _OPTIMIZER_FLAGS}
    return _OptimizerCopy(optimizer=optimizer, groups=groups, group_items=group_items,
                          params_lists=params_lists, state=state, extras=extras)


def _restore_optimizer(saved: _OptimizerCopy) -> None:
    optimizer = saved.optimizer
    optimizer.param_groups[:] = saved.groups
    for params_list, content in saved.params_lists:
        params_list[:] = content
    for group, items in zip(saved.groups, saved.group_items, strict=True):
        group.clear()
        for key, original, copied in items:
            group[key] = original if key == "params" else _put_back(original, copied)
    # Rebuild the state mapping in its original order: str(optimizer.state_dict()) depends on it.
    optimizer.state.clear()
    for param, inner, items in saved.state:
        inner.clear()
        for key, original, copied in items:
            inner[key] = _put_back(original, copied)
        optimizer.state[param] = inner
    for name, value in saved.extras.items():
        if value is _MISSING:
            if name in vars(optimizer):
                delattr(optimizer, name)
        else:
            setattr(optimizer, name, value)
