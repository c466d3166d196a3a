"""Before a run writes anything: refuse a directory that holds something unless resuming, and when resuming
check what is there and hand back the last checkpoint.

A resume never replaces what it cannot read: the stored config.json must agree with the new settings (only
``epochs``, ``keep`` and ``threads`` may change) and keep the global batch, every metrics.jsonl line must be a
record (a torn last line is allowed), and the last checkpoint must load safely; otherwise one line says what
is wrong and every file stays as it was.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import remove_stale_temporaries
from ..errors import UserError
from ..logs.rundir import CONFIG, check_metrics, read_config
from . import checkpoint as ckpt
from .config import TrainConfig


def prepare_run_dir(out: Path, config: TrainConfig, resume: bool, *, world_size: int = 1,
                    writer: bool = True) -> dict | None:
    """Refuse an existing directory unless resuming; when resuming, return the last checkpoint (or None).

    Every rank of a distributed run calls this before anything is written; only the ``writer`` (rank 0)
    tidies the directory.  A resumed run must keep its global batch (``batch_size * world_size``): 2 ranks
    of 32 may continue 1 process of 64, not 2 ranks of 64.
    """
    if not resume:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"{out} already exists; use --resume to continue that run, or choose a new --out")
        return None
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is not a directory")
    # Everything is read and checked before anything is touched: a resume never replaces what it cannot read.
    stored = read_config(out) if out.is_dir() else {}  # a dict, or UserError (not JSON, not an object)
    if stored:
        differ = [
            f"{k} (run: {stored[k]!r}, now: {v!r})"
            for k, v in config.to_dict().items()
            if k in stored and k not in ("epochs", "keep", "threads") and stored[k] != v
        ]
        if differ:
            raise UserError(
                f"cannot resume {out}: the settings differ from its {CONFIG}: {'; '.join(differ)}"
            )
        stored_global = (stored.get("distributed") or {}).get("global_batch", stored.get("batch_size"))
        if stored_global is not None and stored_global != config.batch_size * world_size:
            raise UserError(
                f"cannot resume {out}: its global batch was {stored_global}, now it would be "
                f"{config.batch_size} x {world_size} processes = {config.batch_size * world_size}"
            )
    try:
        check_metrics(out)  # every line a record (a torn last line is allowed: the resume cuts it off)
    except UserError as error:
        raise UserError(f"cannot resume {out}: {error}; lrscope will not rewrite a file it cannot read") from None
    checkpoints = ckpt.list_checkpoints(out)
    state = None
    if checkpoints:
        path = checkpoints[max(checkpoints)]
        state = ckpt.load_checkpoint(path)  # never runs code from the file; lrscope's keys and types checked
        state["path"] = path
        if state["epoch"] > config.epochs:
            raise UserError(f"{out} already has {state['epoch']} epochs; --epochs {config.epochs} is fewer")
    for folder in (out, ckpt.checkpoint_dir(out)) if writer else ():  # a write killed half-way left its temporary
        remove_stale_temporaries(folder)
    return state
