"""Checkpoints of the reference runner: ``RUN/checkpoints/epoch-NNNN.pt``, one per completed epoch.

A checkpoint holds everything a resumed run needs to continue bit for bit: model and optimizer state, the RNG
states (python, numpy, torch), the epoch (completed epochs) and global step, the run's configuration, and the
state of any hook that has one.  It is written to a temporary name and renamed
(``lrscope.atomic.atomic_path``), so a kill during the write leaves the previous checkpoints intact and never
a half-written file under the final name.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import UserError
from ..logs.rundir import CHECKPOINTS

_NAME = re.compile(r"^epoch-(\d{4,})\.pt$")


def checkpoint_path(run_dir: str | Path, epoch: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"epoch-{int(epoch):04d}.pt"


def list_checkpoints(run_dir: str | Path) -> dict[int, Path]:
    """{completed epochs: path}, sorted by epoch (empty when there are none)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_checkpoint(
    run_dir: str | Path,
    *,
    epoch: int,
    step: int,
    model,
    optimizer,
    config: dict,
    hooks: dict | None = None,
    keep: int = 0,
) -> Path:
    """Write epoch-NNNN.pt atomically; with ``keep`` > 0 delete all but the newest ``keep`` checkpoints."""
    path = checkpoint_path(run_dir, epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "epoch": int(epoch),
        "step": int(step),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": rng_state(),
        "config": dict(config),
        "hooks": hooks or {},
    }
    with atomic_path(path) as tmp:
        torch.save(document, tmp)
    if keep and keep > 0:
        for old_epoch, old in list(list_checkpoints(run_dir).items())[:-keep]:
            if old_epoch != epoch:
                old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict (keys epoch, step, model, optimizer, rng, config, hooks)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        # weights_only=False: the RNG states are python/numpy objects written by us
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise UserError(f"cannot read checkpoint {path} ({type(error).__name__}: {error})") from None
