"""``lrscope whatif RUN --to LR [--at EPOCH] --steps K``: cut the rate at a checkpoint, continue K steps at
both rates (:func:`lrscope.probes.whatif.whatif`), and save the result as
RUN/probes/whatif-eNNNN-toLR-kK.json; nothing else in the run directory changes.

``lrscope whatif --checkpoint PATH --model M --data D --to LR [--lr LR0] [--out F.json]``: the same from the
user's own checkpoint (:mod:`lrscope.train.user_checkpoint`), at ``--lr`` (default: the rate in the optimizer
state saved with the weights) against ``--to``, on batches of ``--batch-size`` drawn with ``--seed``.  The
optimizer (SGD with ``--momentum``) starts without momentum buffers, and there is no noise-floor prediction (that
needs a run's noise measurements).  The result is written to ``--out`` when given; the checkpoint is only read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import nn

from ..atomic import write_json
from ..console import track
from ..errors import UserError
from ..logs.rundir import PROBES, require_run_dir
from ..outputs import check_output, run_subdir
from ..probes.whatif import WhatIf, check_cut, cut_rate, whatif
from ..train.config import make_optimizer
from ..train.user_checkpoint import model_from_checkpoint
from ..validate import check_float
from .source import MAX_RATE, checkpoint_config, probe_source, rate_of


def whatif_job(run_dir: str | Path | None, to_lr: float, at_epoch: int | None = None, steps: int = 50,
               window: int | None = None, *, checkpoint=None, model: str | None = None, data: str | None = None,
               lr: float | None = None, momentum: float | None = None, batch_size: int | None = None,
               seed: int | None = None, out=None) -> WhatIf:
    """The what-if measurement of ``run_dir`` (written under RUN/probes/) or of the user's ``checkpoint``
    (written to ``out`` when given); ``result_file`` names the file written ("" for none)."""
    source = probe_source("whatif", run_dir, checkpoint, model=model, data=data, run_options={"--at": at_epoch},
                          checkpoint_options={"--lr": lr, "--momentum": momentum, "--batch-size": batch_size,
                                              "--seed": seed, "--out": out})
    if source == "checkpoint":
        return _checkpoint_whatif(Path(checkpoint), model, data, to_lr, steps, window, lr=lr, momentum=momentum,
                                  batch_size=batch_size, seed=seed, out=out)
    require_run_dir(run_dir)
    run_subdir(run_dir, PROBES, create=False)  # refuse a symlinked RUN/probes before any work
    with track("whatif") as tick:
        result = whatif(run_dir, to_lr, at_epoch, steps, window, model=model, data=data, progress=tick)
    path = run_subdir(run_dir, PROBES) / f"whatif-e{result.epoch:04d}-to{result.lr_to:g}-k{result.steps}.json"
    result.result_file = str(path)
    write_json(path, result.to_json())
    return result


def _checkpoint_whatif(checkpoint: Path, model: str, data: str, to_lr, steps, window, *, lr, momentum, batch_size,
                       seed, out) -> WhatIf:
    to_lr, steps, window = check_cut(to_lr, steps, window)
    if lr is not None:
        lr = check_float("--lr", lr, low=0.0, low_open=True, high=MAX_RATE)
    if out is not None:
        out = check_output(out, suffixes=(".json",), inputs=[checkpoint])
        if not out.parent.exists():
            raise UserError(f"output directory {out.parent} does not exist")
    config = checkpoint_config(model, data, seed=seed, batch_size=batch_size, momentum=momentum, optimizer="sgd")
    loaded = model_from_checkpoint(checkpoint, config)
    notes = list(loaded.notes)
    lr, momentum = rate_of(loaded.weights, lr, momentum, notes)
    config = dataclasses.replace(config, momentum=momentum)
    config.validate()
    optimizer = make_optimizer(config, loaded.model)
    with track("whatif") as tick:
        result = cut_rate(loaded.model, optimizer, lambda m: make_optimizer(config, m), nn.CrossEntropyLoss(),
                          loaded.bundle, batch_size=config.batch_size, seed=config.seed, epoch=0, lr_from=lr,
                          to_lr=to_lr, steps=steps, window=window, start=str(checkpoint), progress=tick)
    result.checkpoint = str(checkpoint)
    result.notes = [*notes, f"the optimizer (SGD, momentum {momentum:g}) starts without momentum buffers",
                    "no prediction: the noise-floor prediction needs a run directory with noise measurements "
                    "(lrscope train --noise-every)"]
    if out is not None:
        result.result_file = str(out)
        write_json(out, result.to_json())
    return result
