"""``lrscope whatif RUN --to LR [--at EPOCH] --steps K``: cut the rate at a checkpoint, continue K steps at
both rates (:func:`lrscope.probes.whatif.whatif`), and save the result as
RUN/probes/whatif-eNNNN-toLR-kK.json; nothing else in the run directory changes."""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_json
from ..logs.rundir import PROBES, require_run_dir
from ..outputs import run_subdir
from ..probes.whatif import WhatIf, whatif


def whatif_job(run_dir: str | Path, to_lr: float, at_epoch: int | None = None, steps: int = 50,
               window: int | None = None) -> WhatIf:
    """The what-if measurement of ``run_dir``, written under RUN/probes/ (``result_file`` names the file)."""
    require_run_dir(run_dir)
    run_subdir(run_dir, PROBES, create=False)  # refuse a symlinked RUN/probes before any work
    result = whatif(run_dir, to_lr, at_epoch, steps, window)
    path = run_subdir(run_dir, PROBES) / f"whatif-e{result.epoch:04d}-to{result.lr_to:g}-k{result.steps}.json"
    result.result_file = str(path)
    write_json(path, result.to_json())
    return result
