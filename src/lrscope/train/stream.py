"""The runner's training data as a re-iterable loader, in the runner's own order: pass k over it yields the
batches of epoch k, ``epoch_batches(bundle, batch_size, seed, k)``, so a probe that draws several passes (the
LR range test's repeats) sees what training would have seen."""

from __future__ import annotations

import math

from .data import epoch_batches


class EpochStream:
    """A re-iterable loader of the runner's data: pass k is ``epoch_batches(bundle, batch_size, seed, k)``."""

    def __init__(self, bundle, batch_size: int, seed: int):
        self.bundle, self.batch_size, self.seed, self.epoch = bundle, batch_size, seed, 0

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        return iter(epoch_batches(self.bundle, self.batch_size, self.seed, epoch))

    def __len__(self) -> int:
        return math.ceil(self.bundle.n_train / self.batch_size)
