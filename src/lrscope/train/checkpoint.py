"""Checkpoints of the reference runner: ``RUN/checkpoints/epoch-NNNN.pt``, one per completed epoch.

A checkpoint holds everything a resumed run needs to continue bit for bit: model and optimizer state, the RNG
states (python, numpy, torch and, when CUDA was in use, every CUDA device; see ``train/rng.py``), the epoch
(completed epochs) and global step, the run's configuration, and the state of any hook that has one.  It is
written to a temporary name and renamed (``lrscope.atomic.atomic_path``), so a kill during the write leaves the
previous checkpoints intact and never a half-written file under the final name.

A run directory may come from someone else, so reading one never runs code from it: checkpoints are read with
``torch.load(weights_only=True)``, which rebuilds tensors, numbers, strings and plain containers and refuses
every other class or function a pickle names.  Everything lrscope writes is of those kinds (the RNG states
included: NumPy's key array is stored as a tensor).  What comes back is then checked before use: a dict with
the keys above, of the right types, whose model and optimizer states fit the model its config names
(:func:`fit_model`, :func:`fit_optimizer`).  Anything else is one line naming the file and what is wrong.

Checkpoints written by lrscope before this format pickled NumPy's RNG state as a NumPy array.  They are
*refused* (with a line that says so), not loaded: unpickling them needs NumPy's reconstruction functions
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype`` and a dtype class), and torch
deliberately leaves those out of its weights-only allowlist because it does not control them; admitting them
for every run directory would be our judgement of NumPy's unpickling code, not torch's.  Such a run can be
trained again (``lrscope train``), which writes checkpoints in the current format.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_bytes
from ..errors import UserError
from ..logs.rundir import checkpoint_dir, checkpoint_path, list_checkpoints
from .rng import rng_state, rng_state_problem, set_rng_state

__all__ = ["checkpoint_dir", "checkpoint_path", "list_checkpoints", "save_checkpoint", "load_checkpoint",
           "fit_model", "fit_optimizer", "rng_state", "set_rng_state"]



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
    # torch.save to a path writes through C++, which reports a full disk or a file-size limit as
    # "[enforce fail at inline_container.cc]"; written from memory, the OSError (ENOSPC, EFBIG) keeps its errno
    buffer = io.BytesIO()
    torch.save(document, buffer)
    write_bytes(path, buffer.getbuffer())
    if keep and keep > 0:
        for old_epoch, old in list(list_checkpoints(run_dir).items())[:-keep]:
            if old_epoch != epoch:
                old.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------- reading (never runs code from the file)

_REQUIRED = ("epoch", "step", "model", "optimizer", "rng", "config")
_GLOBAL_NAME = re.compile(r"GLOBAL ([\w.]+)")
_SAFE_FORMAT = "a checkpoint from lrscope holds only tensors, numbers and lists"


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict (keys epoch, step, model, optimizer, rng, config, hooks), read without running code.

    Raises :class:`UserError` (one line naming ``path``) for a file that is missing, damaged, asks to unpickle
    anything but tensors and plain values, or does not have the keys and types lrscope writes.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UserError(_unsafe_message(path, error)) from None
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise UserError(f"cannot read checkpoint {path}: it is damaged or not a torch checkpoint "
                        f"({type(error).__name__}: {_short(error)})") from None
    problem = _document_problem(document)
    if problem:
        raise UserError(f"checkpoint {path} is not an lrscope checkpoint: {problem}")
    document.setdefault("hooks", {})
    return document


def _unsafe_message(path: Path, error: Exception) -> str:
    """The one line for a checkpoint the weights-only unpickler refused, naming what it asked for."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - not a zip checkpoint: fall back to torch's message
        names = []
    if not names:
        names = list(dict.fromkeys(_GLOBAL_NAME.findall(str(error))))
    if not names:
        return (f"cannot load {path} safely: the weights-only unpickler refused it ({_short(error)}); "
                f"{_SAFE_FORMAT}")
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    line = (f"cannot load {path} safely: it holds pickled objects ({shown}) that lrscope will not unpickle; "
            f"{_SAFE_FORMAT}")
    if all(name.startswith("numpy.") for name in names):
        line += (" (checkpoints of older lrscope versions pickled NumPy's RNG state as an array: train the run "
                 "again to write checkpoints in the current format)")
    return line


def _short(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _document_problem(document: Any) -> str | None:
    """What makes ``document`` unusable as a checkpoint (None when it has lrscope's keys and types)."""
    if not isinstance(document, dict):
        return f"it holds a {type(document).__name__}, not a dict"
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        return f"it has no {', '.join(repr(k) for k in missing)} entry"
    for key in ("epoch", "step"):
        if not _is_int(document[key]) or document[key] < 0:
            return f"its {key!r} must be an integer >= 0; got {_value_text(document[key])}"
    model = document["model"]
    if not isinstance(model, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in model.items()):
        return "its 'model' entry is not a dict of named tensors"
    problem = _optimizer_document_problem(document["optimizer"])
    if problem:
        return problem
    if not isinstance(document["config"], dict):
        return f"its 'config' entry is a {type(document['config']).__name__}, not a dict"
    hooks = document.get("hooks", {})
    if not isinstance(hooks, dict) or not all(isinstance(k, str) and re.match(r"^\d+:", k) and isinstance(v, dict)
                                              for k, v in hooks.items()):
        return "its 'hooks' entry is not a dict of 'N:Name' -> dict"
    return rng_state_problem(document["rng"])


def _optimizer_document_problem(optimizer: Any) -> str | None:
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("state"), dict) \
            or not isinstance(optimizer.get("param_groups"), list):
        return "its 'optimizer' entry is not an optimizer state (a dict with 'state' and 'param_groups')"
    for group in optimizer["param_groups"]:
        if not isinstance(group, dict) or not isinstance(group.get("params"), list) \
                or not all(_is_int(i) for i in group["params"]):
            return "its optimizer's param_groups are not dicts with a 'params' list of integers"
    for key, inner in optimizer["state"].items():
        if not _is_int(key) or not isinstance(inner, dict):
            return "its optimizer's state is not a dict of parameter index -> dict"
    return None


def _value_text(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _shape(tensor: torch.Tensor) -> str:
    return str(list(tensor.shape))


# ---------------------------------------------------------------- fitting a checkpoint to the model its config names


def fit_model(model: torch.nn.Module, state: dict, path: str | Path, model_name: str) -> None:
    """Load ``state`` (a checkpoint's "model") into ``model``, or one line saying where it does not fit."""
    where = f"checkpoint {path} does not fit the model in its config.json ({model_name})"
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    if missing:
        raise UserError(f"{where}: it has no {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                                                else ""))
    extra = [name for name in state if name not in expected]
    if extra:
        raise UserError(f"{where}: it has {extra[0]}, which the model lacks"
                        + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    for name, tensor in expected.items():
        if state[name].shape != tensor.shape:
            raise UserError(f"{where}: {name} has shape {_shape(state[name])} in the checkpoint, "
                            f"{_shape(tensor)} in the model")
    try:
        model.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError) as error:
        raise UserError(f"{where}: {_short(error)}") from None


def fit_optimizer(optimizer: torch.optim.Optimizer, state: dict, path: str | Path, optimizer_name: str) -> None:
    """Load ``state`` (a checkpoint's "optimizer") into ``optimizer``, or one line saying where it does not fit.

    Beyond what ``load_state_dict`` checks (the number of groups and of parameters in each), every
    per-parameter tensor but a step count must have its parameter's shape, and every hyper-parameter the
    optimizer has must be of the same kind (a number, a flag, a pair), so a damaged state fails here and not
    at the first step.
    """
    where = f"checkpoint {path}: its optimizer state does not fit the optimizer in its config.json ({optimizer_name})"
    fresh = optimizer.state_dict()
    groups = state["param_groups"]
    if len(groups) != len(fresh["param_groups"]):
        raise UserError(f"{where}: it has {len(groups)} parameter groups, the optimizer {len(fresh['param_groups'])}")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    index_of = {}
    for group, mine in zip(groups, fresh["param_groups"], strict=True):
        if len(group["params"]) != len(mine["params"]):
            raise UserError(f"{where}: a group has {len(group['params'])} parameters in the checkpoint, "
                            f"{len(mine['params'])} in the optimizer")
        for saved_id, own_id in zip(group["params"], mine["params"], strict=True):
            index_of[saved_id] = own_id
        for key, value in mine.items():
            if key != "params" and key in group and not _same_kind(group[key], value):
                raise UserError(f"{where}: its {key!r} is {_value_text(group[key])}, expected something like "
                                f"{_value_text(value)}")
    for saved_id, inner in state["state"].items():
        if saved_id not in index_of:
            raise UserError(f"{where}: it has state for parameter {saved_id}, which no group lists")
        param = params[index_of[saved_id]]
        for key, value in inner.items():
            if isinstance(value, torch.Tensor):
                if key != "step" and value.shape != param.shape:
                    raise UserError(f"{where}: parameter {saved_id}'s {key} has shape {_shape(value)} in the "
                                    f"checkpoint, {_shape(param)} in the model")
            elif value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
                raise UserError(f"{where}: parameter {saved_id}'s {key} is {_value_text(value)}, not a tensor")
    try:
        optimizer.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError, KeyError) as error:
        raise UserError(f"{where}: {_short(error)}") from None


def _same_kind(value, like) -> bool:
    """Whether a saved hyper-parameter ``value`` can stand where the optimizer has ``like``."""
    if isinstance(like, bool) or like is None:
        return value is None or isinstance(value, bool)
    if isinstance(like, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(like, tuple):
        return (isinstance(value, (tuple, list)) and len(value) == len(like)
                and all(_same_kind(v, w) for v, w in zip(value, like, strict=True)))
    if isinstance(like, torch.Tensor):
        return isinstance(value, (torch.Tensor, int, float)) and not isinstance(value, bool)
    return type(value) is type(like)
