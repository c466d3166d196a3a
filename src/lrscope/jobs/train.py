"""``lrscope train``: turn the command line's options into a TrainConfig and train.

Options left out take the defaults of :class:`TrainConfig`; with ``--resume`` they take the values in the
run's config.json instead, so ``lrscope train --out RUN --resume`` alone continues a run.  A resumed run must
not change its settings (``--epochs`` may grow).

A resume never replaces what it cannot read: a config.json that is not a JSON object of well-typed settings, a
metrics.jsonl line that is not a record, or a checkpoint that does not load safely is refused (exit 2, the
file and what is wrong) with every file left as it was; a run that already has all its epochs is left alone.

A run whose ``--model`` or ``--data`` is the user's code (``PKG.MODULE:FACTORY``) resumes only with the same
``--model``/``--data`` given again: lrscope never imports a module named only by a run's config.json.
"""

from __future__ import annotations

from pathlib import Path

from ..console import track
from ..errors import UserError
from ..logs.rundir import CONFIG, read_config
from ..probes.hooks import hooks_for
from ..schedules import has_auto
from ..train.config import TrainConfig
from ..train.factories import require_named
from ..train.loop import train
from .auto import resolve_auto

REQUIRED = ("data", "model", "schedule", "epochs")


def train_job(options: dict, out: str | Path, *, resume: bool = False) -> Path:
    """``options``: TrainConfig fields the user gave (None = not given)."""
    given = {k: v for k, v in options.items() if v is not None}
    stored = read_config(out) if resume and Path(out).is_dir() else {}  # a dict, or UserError naming the file
    if stored:
        checked = TrainConfig.from_dict(stored, where=str(Path(out) / CONFIG))  # each setting of its type, or one line
        # a run built by the user's code is continued only when they name that code again: never imported from
        # config.json alone
        require_named(str(out), stored.get("model"), stored.get("data"), model=given.get("model"),
                      data=given.get("data"))
    missing = [k for k in REQUIRED if k not in given and stored.get(k) is None]
    if missing:
        raise UserError(
            f"lrscope train needs {', '.join('--' + k for k in missing)}"
            + (" (or --resume on a run directory that has them)" if not resume else "")
        )
    config = TrainConfig.from_dict({**stored, **given})
    if stored.get("threads") is not None:  # threads was resolved and recorded when the run started; keep it
        config.threads = checked.threads
    config.schedule = _resolved_schedule(config, stored)
    with track(f"train {Path(out).name}") as tick:
        return train(config, out, resume=resume, hooks=hooks_for(config), progress=tick)


def _resolved_schedule(config: TrainConfig, stored: dict) -> str:
    """``auto`` in a schedule spec: run the LR range test first and put its range in (once: a resumed run keeps
    the rates its first start resolved, recorded in config.json)."""
    if not has_auto(config.schedule):
        return config.schedule
    if stored.get("schedule") and not has_auto(stored["schedule"]):
        return stored["schedule"]
    return resolve_auto(config.schedule, config)
