"""What a probe command (landscape, sharpness, whatif) measures: a run directory (RUN) or the user's own checkpoint
(``--checkpoint PATH --model M --data D``), exactly one of them, and the options that go with each.

With RUN, ``--model``/``--data`` are needed only when the run was built by the user's code (and must then be the
run's: lrscope never imports a module named only by a run directory); its results go under RUN/probes/.  With
``--checkpoint`` there is no run directory to write into, and the checkpoint is the user's, never written: the
arrays and JSON go beside the ``--out`` the user names (``F.png`` -> ``F.npz``, ``F.json``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..outputs import check_output
from ..train.config import TrainConfig
from ..train.user_checkpoint import saved_rate

MAX_RATE = 1e3
DEFAULT_MOMENTUM = 0.9  # the runner's (TrainConfig's) default


def probe_source(command: str, run_dir, checkpoint, *, model: str | None, data: str | None,
                 run_options: dict | None = None, checkpoint_options: dict | None = None) -> str:
    """"run" or "checkpoint", or one line saying what is missing or does not go together.

    ``run_options``/``checkpoint_options``: {flag: value} of the options only one form takes (a value that is
    None or False counts as not given)."""
    if run_dir is not None and checkpoint is not None:
        raise UserError(f"lrscope {command}: give RUN or --checkpoint PATH, not both")
    if run_dir is None and checkpoint is None:
        raise UserError(f"lrscope {command} needs RUN (a run directory written by lrscope train) or --checkpoint "
                        f"PATH with --model and --data")
    if checkpoint is None:
        wrong = [flag for flag, value in (checkpoint_options or {}).items() if value not in (None, False)]
        if wrong:
            raise UserError(f"{', '.join(wrong)} {'goes' if len(wrong) == 1 else 'go'} with --checkpoint; a run "
                            f"directory has its own")
        return "run"
    wrong = [flag for flag, value in (run_options or {}).items() if value not in (None, False)]
    if wrong:
        raise UserError(f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} for a run directory (RUN), not "
                        f"for --checkpoint")
    lacking = [flag for flag, value in (("--model", model), ("--data", data)) if value is None]
    if lacking:
        raise UserError(f"--checkpoint needs {' and '.join(lacking)}: --model builds the network the weights go "
                        f"into (a built-in or PKG.MODULE:FACTORY), --data gives the examples the loss is measured on")
    return "checkpoint"


def checkpoint_config(model: str, data: str, **fields) -> TrainConfig:
    """The TrainConfig that builds a user's checkpoint's model and data (checked; nothing imported yet)."""
    config = TrainConfig(model=model, data=data, **{k: v for k, v in fields.items() if v is not None})
    config.validate()
    return config


def beside(out: Path, inputs) -> Path:
    """The stem for the arrays and JSON written beside ``out`` (``F.png`` -> ``F``), each checked to be
    writable and none of them one of the command's ``inputs``."""
    stem = Path(out).with_suffix("")
    for suffix in (".npz", ".json"):
        check_output(stem.with_suffix(suffix), suffixes=(suffix,), inputs=inputs)
    return stem


def rate_of(weights, lr: float | None, momentum: float | None, notes: list[str]) -> tuple[float, float]:
    """(lr, SGD momentum) for a user's checkpoint: as given, else as its saved optimizer state says (noted), else
    the momentum default; a missing rate with no saved state to read it from is refused."""
    saved = saved_rate(weights) if lr is None or momentum is None else None
    if lr is None:
        if saved is None:
            raise UserError(f"give --lr, the learning rate the checkpoint trains at: {weights.source} holds no "
                            f"optimizer state to read it from")
        lr = saved[0]
        notes.append(f"--lr {lr:g}: the rate in the optimizer state saved with the weights")
    if momentum is None:
        if saved is not None and saved[1] is not None:
            momentum = saved[1]
            notes.append(f"--momentum {momentum:g}: the SGD momentum in the optimizer state saved with the weights")
        else:
            momentum = DEFAULT_MOMENTUM
            notes.append(f"--momentum {momentum:g} (the default; give --momentum for your optimizer's)")
    return lr, momentum
