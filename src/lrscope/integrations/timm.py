"""``TimmScheduler``: any lrscope schedule behind timm's scheduler interface, so that a timm train.py-style
loop (``step(epoch, metric)`` after each epoch, ``step_update(num_updates, metric)`` after each optimizer step)
runs it unchanged.  timm itself is not needed.

timm's loop calls, with t counted in epochs (``t_in_epochs=True``) or optimizer updates (``False``)::

    scheduler = TimmScheduler(optimizer, "join([warmup(5, cosine(0.1, total=100), prefix=False), 0.0], [100])")
    for epoch in range(start_epoch, num_epochs):
        for batch in loader:
            ...; optimizer.step(); num_updates += 1
            scheduler.step_update(num_updates=num_updates, metric=loss)
        scheduler.step(epoch + 1, metric=val_loss)

The rate after ``step(t)`` (or ``step_update(t)`` when ``t_in_epochs=False``) is s(t) for each group scaled as
:class:`~lrscope.schedules.torch.ScheduleLR` scales it: ``lr_g = initial_lr_g / B * lr_scale_g * s(t)`` with B the
schedule's peak, so timm's layer-wise decay (``lr_scale`` per group) is honoured as timm's own schedulers honour
it.  Creating the scheduler sets every group to its rate at t = 0, as timm's schedulers do for a warm-up.  The
metric is accepted and ignored (a pure function of t has no plateau logic).  timm's
``CosineLRScheduler(t_initial=T, lr_min=m, warmup_t=w, warmup_lr_init=a)`` (``warmup_prefix=False``, its
default, and one cycle) is the spec ``join([warmup(w, cosine(lr, total=T, min_lr=m), start_factor=a/lr,
prefix=False), m], [T])``; with ``warmup_prefix=True`` it is ``warmup(...)`` with the default ``prefix=True``
and ``total=T-w``.
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from ..schedules import Schedule, parse_schedule
from ..schedules.torch import group_scales, peak_rate, set_group_rates, warn_off_base
from ..validate import check_int


class TimmScheduler:
    """timm's ``Scheduler`` interface (``step``, ``step_update``, ``state_dict``, ``load_state_dict``) over an
    lrscope schedule; see the module docstring."""

    def __init__(self, optimizer, schedule: Schedule | str, *, t_in_epochs: bool = True) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise UserError(f"optimizer must be a torch optimizer; got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.schedule = parse_schedule(schedule)
        self.t_in_epochs = bool(t_in_epochs)
        self.base_rate = peak_rate(self.schedule)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])  # the same key timm and torch keep the base rate under
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        warn_off_base(self.base_lrs, self.base_rate, self.schedule.spec, stacklevel=2)
        self.t = 0
        self._apply(0)

    def _apply(self, t: int) -> None:
        self.t = t = check_int("the scheduler's t (completed epochs or updates)", t, low=0)
        rate = float(self.schedule(t))
        scales = group_scales(self.optimizer.param_groups, self.base_lrs, self.base_rate)
        set_group_rates(self.optimizer.param_groups, [rate * k for k in scales])

    def step(self, epoch: int, metric: float | None = None) -> None:
        """After an epoch (timm calls ``step(epoch + 1)``): the rate for that many completed epochs."""
        if self.t_in_epochs:
            self._apply(epoch)

    def step_update(self, num_updates: int, metric: float | None = None) -> None:
        """After an optimizer step: the rate for ``num_updates`` completed updates (``t_in_epochs=False``)."""
        if not self.t_in_epochs:
            self._apply(num_updates)

    def get_last_lr(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Plain values only: t, the spec, the unit and the base rates (loads with weights_only=True)."""
        return {"t": self.t, "spec": self.schedule.spec, "t_in_epochs": self.t_in_epochs,
                "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        try:
            self.schedule = parse_schedule(state_dict["spec"])
            self.t_in_epochs = bool(state_dict.get("t_in_epochs", self.t_in_epochs))
            self.base_lrs = [float(b) for b in state_dict.get("base_lrs", self.base_lrs)]
            t = int(state_dict["t"])
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"not a TimmScheduler state (expected keys t and spec): {error}") from None
        self.base_rate = peak_rate(self.schedule)
        self._apply(t)
