"""Warm-up-stable-decay: hold the peak rate for most of the run, then anneal in a short final phase.

>>> from lrscope.schedules.wsd import wsd
>>> s = wsd(0.1, total=100, decay_frac=0.2, warmup=10)
>>> [round(float(v), 4) for v in s([0, 5, 10, 79, 80, 90, 100])]
[0.0, 0.05, 0.1, 0.1, 0.1, 0.05, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .core import Schedule
from .params import choice_param, float_param, int_param, param_error

DECAYS = ("linear", "cosine", "1-sqrt")


def decay_factor(kind: str, progress: np.ndarray) -> np.ndarray:
    """The decay phase's factor at progress p in [0, 1], from 1 to 0: 1 - p, (1 + cos(pi p)) / 2, 1 - sqrt(p)."""
    if kind == "linear":
        return 1.0 - progress
    if kind == "cosine":
        return 0.5 * (1.0 + np.cos(np.pi * progress))
    return 1.0 - np.sqrt(progress)


@dataclass(frozen=True, repr=False)
class WSD(Schedule):
    """``wsd(lr, total, decay_frac=0.2, decay='linear', warmup=0, min_lr=0.0)``: warm-up, stable, decay.

    With D = round(decay_frac * total) decay steps and W = warmup steps,

        s(t) = min_lr + (lr - min_lr) * t / W                      for t < W          (linear warm-up)
        s(t) = lr                                                 for W <= t < total - D
        s(t) = min_lr + (lr - min_lr) * f((t - (total - D)) / D)  for total - D <= t < total
        s(t) = min_lr                                             for t >= total

    f is the decay: linear 1 - p, cosine (1 + cos(pi p)) / 2, or 1-sqrt 1 - sqrt(p), the cooldown Haegele et al.
    2024 ("Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations", arXiv:2405.18392) found
    best; Hu et al. 2024 (MiniCPM, arXiv:2404.06395) named the schedule.  The rate is continuous: no jumps.

    Torch: transformers' ``get_wsd_schedule(opt, num_warmup_steps=W, num_decay_steps=D, num_training_steps=total,
    decay_type=decay, min_lr_ratio=min_lr / lr)`` (a LambdaLR); timm's ``WSDLRScheduler(t_initial=total - W,
    decay_t=D, lr_min=min_lr, warmup_t=W, warmup_lr_init=min_lr, decay_fn=decay)`` with its constant stable phase.
    """

    lr: float
    total: int
    decay_frac: float = 0.2
    decay: str = "linear"
    warmup: int = 0
    min_lr: float = 0.0
    name: ClassVar[str] = "wsd"

    def __post_init__(self) -> None:
        float_param(self, "lr")
        int_param(self, "total")
        float_param(self, "decay_frac", lo=0.0, lo_open=True, hi=1.0)
        choice_param(self, "decay", DECAYS)
        int_param(self, "warmup", lo=0)
        float_param(self, "min_lr", hi=self.lr, what=f"a number in [0, lr={self.lr:g}]")
        if self.decay_steps < 1:
            raise param_error(self, f"decay_frac * total must round to at least 1 step, got {self.decay_frac:g} * "
                                    f"{self.total}")
        if self.warmup + self.decay_steps > self.total:
            raise param_error(self, f"warmup ({self.warmup}) and decay ({self.decay_steps} steps) do not fit in "
                                    f"total={self.total}")

    @property
    def decay_steps(self) -> int:
        """D, the length of the decay phase (at least 1)."""
        return int(round(self.decay_frac * self.total))

    def _lr(self, t):
        span = self.lr - self.min_lr
        start = self.total - self.decay_steps
        out = np.full_like(t, self.lr)
        if self.warmup:
            warm = t < self.warmup
            out[warm] = self.min_lr + span * t[warm] / self.warmup
        decaying = (t >= start) & (t < self.total)
        out[decaying] = self.min_lr + span * decay_factor(self.decay, (t[decaying] - start) / self.decay_steps)
        out[t >= self.total] = self.min_lr
        return out


wsd = WSD
