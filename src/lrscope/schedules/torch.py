"""``ScheduleLR``: drive a torch optimizer with a pure lrscope schedule.

The one module of ``lrscope.schedules`` that imports torch; nothing else in the package imports it, so import
it by name (``from lrscope.schedules.torch import ScheduleLR``) where torch is wanted.

Because the rate is a pure function of t, the scheduler's whole state is t and the spec: ``state_dict()``
holds plain values only (loads with ``torch.load(weights_only=True)``), and a resumed run gets exactly the
rates of an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from ..errors import UserError
from .core import Schedule
from .spec import parse_schedule

UNITS = ("epoch", "step")


class ScheduleLR(LRScheduler):
    """A ``torch.optim.lr_scheduler.LRScheduler`` whose rate after t calls to ``step()`` is ``schedule(t)``.

    Args:
        optimizer: any torch optimizer.
        schedule: a :class:`~lrscope.schedules.Schedule` or its spec text.
        unit: what one ``step()`` means, "epoch" (call it once per epoch) or "step" (once per batch).
            The rate depends only on the number of calls; it is recorded so a resumed run steps alike.
        last_epoch: as in torch: -1 starts afresh; resuming is better done with ``load_state_dict``.
        cycle_momentum: when the schedule has a momentum curve (1cycle), set each group's ``momentum`` (SGD,
            RMSprop) or ``betas[0]`` (Adam family) to it, as OneCycleLR does.

    Parameter groups: the schedule gives the first group's rate; every other group keeps its ratio to the
    first group's learning rate as it was when the scheduler was created (all groups get s(t) when their rates
    are equal, the usual case).  Call ``optimizer.step()`` before ``scheduler.step()``, as torch asks.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule | str,
        *,
        unit: str = "epoch",
        last_epoch: int = -1,
        cycle_momentum: bool = True,
    ) -> None:
        if unit not in UNITS:
            raise UserError(f"unit must be 'epoch' or 'step', got {unit!r}")
        self.schedule = parse_schedule(schedule)
        self.unit = unit
        self.cycle_momentum = bool(cycle_momentum) and self.schedule.has_momentum
        if self.cycle_momentum:
            self.use_beta1 = "betas" in optimizer.defaults
            if not self.use_beta1 and "momentum" not in optimizer.defaults:
                raise UserError(
                    f"{self.schedule.spec} has a momentum curve but {type(optimizer).__name__} has no "
                    f"momentum or betas; pass cycle_momentum=False"
                )
        super().__init__(optimizer, last_epoch)

    def _scales(self) -> list[float]:
        first = float(self.base_lrs[0])
        return [float(base) / first if first else 1.0 for base in self.base_lrs]

    def get_lr(self) -> list[float]:
        """The rates for t = last_epoch (called by ``step()``), setting momentum too when cycling it."""
        t = max(self.last_epoch, 0)
        lr = float(self.schedule(t))
        if self.cycle_momentum:
            momentum = float(self.schedule.momentum(t))
            for group in self.optimizer.param_groups:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return [lr * scale for scale in self._scales()]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    @property
    def t(self) -> int:
        """Completed calls to ``step()`` (the schedule's t)."""
        return self.last_epoch

    def state_dict(self) -> dict[str, Any]:
        """Plain values only: t, the spec, the unit and the per-group base rates."""
        return {
            "t": self.last_epoch,
            "spec": self.schedule.spec,
            "unit": self.unit,
            "cycle_momentum": self.cycle_momentum,
            "base_lrs": [float(b) for b in self.base_lrs],
            "step_count": self._step_count,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a saved state: same schedule, same t; the optimizer's rates are set for that t."""
        try:
            self.schedule = parse_schedule(state_dict["spec"])
            self.last_epoch = int(state_dict["t"])
            self.unit = state_dict.get("unit", self.unit)
            self.cycle_momentum = bool(state_dict.get("cycle_momentum", self.cycle_momentum))
            self.base_lrs = list(state_dict.get("base_lrs", self.base_lrs))
            self._step_count = int(state_dict.get("step_count", self._step_count))
        except (KeyError, TypeError) as error:
            raise UserError(f"not a ScheduleLR state (expected keys t and spec): {error}") from None
        if self.cycle_momentum:
            self.use_beta1 = "betas" in self.optimizer.defaults
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
