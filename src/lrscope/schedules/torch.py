"""``ScheduleLR``: drive a torch optimizer with a pure lrscope schedule.

The one module of ``lrscope.schedules`` that imports torch; nothing else in the package imports it, so import
it by name (``from lrscope.schedules.torch import ScheduleLR``) where torch is wanted.

Because the rate is a pure function of t, the scheduler's whole state is t and the spec: ``state_dict()``
holds plain values only (loads with ``torch.load(weights_only=True)``), and a resumed run gets exactly the
rates of an uninterrupted one.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from ..errors import UserError
from .core import Schedule
from .spec import parse_schedule

UNITS = ("epoch", "step")
_PEAK_GRID = np.unique(np.concatenate([np.arange(0, 100_001, dtype=np.float64), np.geomspace(1.0, 1e9, 4000)]))


def peak_rate(schedule: Schedule) -> float:
    """A schedule's base rate: its supremum over t (every integer t up to 10^5, then a geometric grid to
    10^9, which holds every jump and peak a training run reaches, the left limits at its jumps up to 10^5: a
    warm-up with ``prefix=False`` approaches its peak without reaching it, and a fine grid within one step of
    the best step, for a smooth peak between two steps); 0 for a schedule that never rises
    above 0."""
    values = np.asarray(schedule(_PEAK_GRID), dtype=np.float64)
    try:
        limits = np.asarray(schedule.events(0.0, float(_PEAK_GRID[100_000])).lr_before, dtype=np.float64)
    except UserError:  # more jumps than lrscope lists: the grid alone holds the peak of such a schedule
        limits = np.empty(0)
    # a smooth peak between two integer steps (1cycle's at pct_start * total): refine around the best step
    best = float(_PEAK_GRID[int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))])
    around = np.linspace(max(best - 1.0, 0.0), best + 1.0, 2001)
    values = np.concatenate([values, limits, np.asarray(schedule(around), dtype=np.float64)])
    values = values[np.isfinite(values)]
    if not len(values) or values.max() <= 0:
        return 0.0
    # 10 significant digits: a cosine that comes back to its peak does so with rounding noise (0.1000000000112)
    return float(f"{values.max():.10g}")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))


def group_scales(groups, initial_lrs, base_rate: float) -> list[float]:
    """Each parameter group's factor on s(t): its initial rate over the schedule's base rate B (1 when they
    agree to 1e-6), times its ``lr_scale`` (timm's layer-wise decay):  k_g = initial_lr_g / B * lr_scale_g."""
    scales = []
    for group, initial in zip(groups, initial_lrs, strict=True):
        initial = float(initial)
        k = (1.0 if _close(initial, base_rate) else initial / base_rate) if base_rate > 0 else 1.0
        scales.append(k * float(group.get("lr_scale", 1.0)))
    return scales


def warn_off_base(initial_lrs, base_rate: float, spec: str, stacklevel: int = 1) -> bool:
    """Warn when no group starts at the schedule's base rate (the optimizer's lr and the spec disagree, most
    often a mistake); True when it warned."""
    if base_rate <= 0 or any(_close(float(b), base_rate) for b in initial_lrs):
        return False
    shown = ", ".join(f"{float(b):.3g}" for b in initial_lrs)
    warnings.warn(
        f"no parameter group starts at the schedule's base rate {base_rate:.3g} ({spec}); the groups start at "
        f"{shown}, so each gets its own rate / {base_rate:.3g} times the schedule. Set the optimizer's lr to "
        f"{base_rate:.3g} if every group should follow the spec",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
    return True


def set_group_rates(groups, rates) -> None:
    """Write one rate into each group (a tensor lr, as torch allows for capturable optimizers, in place)."""
    for group, lr in zip(groups, rates, strict=True):
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


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

    Parameter groups, as torch's schedulers treat them: the schedule's base rate B is its peak over t (the
    ``lr`` or ``max_lr`` of the spec).  A group whose rate was k * B when the scheduler was created (its
    ``initial_lr``) gets ``k * s(t)`` at every step, whatever the order of the groups, times the group's
    ``lr_scale`` when it has one (timm's layer-wise decay convention):

        lr_g(t) = initial_lr_g / B * lr_scale_g * s(t)

    so with the optimizer's lr equal to the spec's (the usual case) every group gets s(t).  When no group starts
    at B a warning says so once: the optimizer's lr and the spec disagree, which is most often a mistake.  A
    momentum curve (1cycle) sets the same momentum in every group.  Call ``optimizer.step()`` before
    ``scheduler.step()``, as torch asks.

    >>> import torch
    >>> w = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    >>> opt = torch.optim.SGD([{"params": [w[0]], "lr": 0.05}, {"params": [w[1]], "lr": 0.5},
    ...                        {"params": [w[2]], "lr": 0.1, "lr_scale": 0.25}], lr=0.1)
    >>> sched = ScheduleLR(opt, "multistep(0.1, milestones=[2])", unit="step")
    >>> for _ in range(3):
    ...     opt.step(); sched.step()
    >>> [round(g["lr"], 6) for g in opt.param_groups]
    [0.005, 0.05, 0.0025]
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
        self.base_rate = peak_rate(self.schedule)
        super().__init__(optimizer, last_epoch)
        warn_off_base(self.base_lrs, self.base_rate, self.schedule.spec, stacklevel=2)

    def _scales(self) -> list[float]:
        """Each group's factor on s(t) (:func:`group_scales`)."""
        return group_scales(self.optimizer.param_groups, self.base_lrs, self.base_rate)

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
            self.base_rate = peak_rate(self.schedule)
            self.last_epoch = int(state_dict["t"])
            self.unit = state_dict.get("unit", self.unit)
            self.cycle_momentum = bool(state_dict.get("cycle_momentum", self.cycle_momentum))
            self.base_lrs = list(state_dict.get("base_lrs", self.base_lrs))
            self._step_count = int(state_dict.get("step_count", self._step_count))
        except (KeyError, TypeError) as error:
            raise UserError(f"not a ScheduleLR state (expected keys t and spec): {error}") from None
        if self.cycle_momentum:
            self.use_beta1 = "betas" in self.optimizer.defaults
        set_group_rates(self.optimizer.param_groups, self.get_lr())
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
