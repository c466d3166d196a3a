"""Your own checkpoint, read weights-only, for ``lrscope landscape|sharpness|whatif --checkpoint PATH --model M``.

What PATH may be:

- a state_dict saved with ``torch.save(model.state_dict(), PATH)`` (.pt, .pth, .bin, any name);
- a dict holding one under ``"state_dict"`` (Lightning's ``.ckpt``, many trainers), ``"model_state_dict"`` or
  ``"model"`` (lrscope's own checkpoints among them), looked for in that order;
- a ``.safetensors`` file;
- a directory: a Hugging Face ``checkpoint-N/`` or output directory holding ``model.safetensors`` or
  ``pytorch_model.bin`` (or their sharded ``*.index.json`` form).

Safety.  Nothing in PATH can run code.  torch files are read with ``torch.load(weights_only=True)``, which rebuilds
tensors and plain containers and refuses every other class or function a pickle names; safetensors holds no code by
design.  A Lightning checkpoint of Lightning < 2 pickles its hyper-parameters as Lightning's ``AttributeDict`` (a
dict with attribute access).  Those few names, and only those, are admitted through torch's safe-globals mechanism
(:func:`torch.serialization.safe_globals`), each mapped to a plain ``dict``: torch's weights-only unpickler can fill
nothing but a plain dict, and the mapping means Lightning need not be installed, nor any of its code imported, to
read the file.  Anything else a file asks for is refused with one line naming it.  PATH is only read.

Fitting.  The weights must fit the model exactly (:func:`fit_weights`): the same names and shapes.  Two
differences are bridged, each with a note: names that all start with one component the model lacks (a
LightningModule's ``model.`` attribute when the factory returns the inner network, DDP's ``module.``,
torch.compile's ``_orig_mod.``) lose that component when that makes them fit exactly; and a parameter the file leaves
out because it is tied to one it holds (Hugging Face does not store a tied ``lm_head.weight``) is filled by the tie.
Otherwise one line names the first missing and unexpected names, or the first shape that differs.
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import UserError
from .config import TrainConfig, data_and_model, seed_everything
from .data import DataBundle
from .rng import rng_state, set_rng_state

# The containers Lightning pickles into a checkpoint (its hyper-parameters), by the names pickles use for them.
LIGHTNING_CONTAINERS = (
    "lightning.fabric.utilities.data.AttributeDict",
    "lightning.pytorch.utilities.parsing.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "pytorch_lightning.utilities.parsing.AttributeDict",
)
STATE_KEYS = ("state_dict", "model_state_dict", "model")
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_GLOBAL_NAME = re.compile(r"GLOBAL ([\w.]+)")


@dataclass
class UserWeights:
    """The named tensors read from ``source`` (a file or an HF directory), what held them, and where a saved
    optimizer state (for the rate it was at) may be found."""

    state: dict
    source: Path
    kind: str
    optimizer_state: dict | Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class CheckpointModel:
    """A model built from a config's ``--model``/``--data`` with the user's weights in it."""

    bundle: DataBundle
    model: nn.Module
    weights: UserWeights
    notes: list[str]


def model_from_checkpoint(path, config: TrainConfig) -> CheckpointModel:
    """Read ``path`` (weights only), build the config's data and model (seeded from ``config.seed``, the caller's
    generators left as they were) and load the weights into the model."""
    weights = read_weights(path)  # a file that cannot be read safely fails before any of the user's code runs
    saved = rng_state()
    try:
        seed_everything(config.seed)
        bundle, model = data_and_model(config)
    finally:
        set_rng_state(saved)
    notes = [*weights.notes, *fit_weights(model, weights, config.model)]
    return CheckpointModel(bundle=bundle, model=model, weights=weights, notes=notes)


# ---------------------------------------------------------------- reading


def read_weights(path) -> UserWeights:
    """The state_dict in ``path`` (the module docstring lists the forms), read without running code."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"--checkpoint {path} does not exist")
    if path.is_dir():
        return _read_directory(path)
    if path.suffix == ".safetensors":
        return UserWeights(_read_safetensors(path), path, "safetensors file")
    document = torch_load(path)
    state, kind = _state_in(document, path)
    return UserWeights(state, path, kind, optimizer_state=_optimizer_state_in(document))


def torch_load(path: Path):
    """``torch.load(path, weights_only=True)`` on the CPU, Lightning's AttributeDict admitted as a plain dict;
    one line for a file that asks for anything else or is not a torch file."""
    try:
        with torch.serialization.safe_globals([(dict, name) for name in LIGHTNING_CONTAINERS]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UserError(_refused_line(path, error)) from None
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a file it cannot read
        raise UserError(f"cannot read {path}: it is damaged or not a torch file ({_short(error)})") from None


def _refused_line(path: Path, error: Exception) -> str:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - not a zip file: the names are in torch's message
        names = []
    names = [n for n in names if n not in LIGHTNING_CONTAINERS] or list(dict.fromkeys(_GLOBAL_NAME.findall(
        str(error))))
    if not names:
        reason = _unpickler_reason(str(error))
        return (f"cannot read {path}: torch's weights-only loader refused it ({reason}); it is damaged, not a torch "
                f"file, or holds something other than tensors and plain containers")
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (f"cannot load {path} safely: it pickles {shown}, which torch's weights-only loader refuses (lrscope "
            f"reads weights only, never code); save the weights alone where you trust the file, e.g. "
            f"torch.save(model.state_dict(), 'weights.pt')")


def _unpickler_reason(text: str) -> str:
    """The unpickler's own words inside torch's long "Weights only load failed ..." message."""
    inner = text.partition("WeightsUnpickler error:")[2] or text
    return _short(ValueError(inner.partition("Check the documentation")[0]))


def _state_in(document, path: Path) -> tuple[dict, str]:
    if _is_state_dict(document):
        return document, "state_dict"
    if isinstance(document, dict):
        for key in STATE_KEYS:
            if _is_state_dict(document.get(key)):
                lightning = "pytorch-lightning_version" in document
                return document[key], "Lightning checkpoint" if lightning else f"checkpoint (its {key!r})"
        keys = ", ".join(repr(k) for k in list(document)[:8]) or "none"
        raise UserError(f"{path} holds a dict with keys {keys}; expected a state_dict (parameter names -> tensors) "
                        f"or a dict holding one under {', '.join(map(repr, STATE_KEYS))}")
    raise UserError(f"{path} holds a {type(document).__name__}; expected a state_dict (parameter names -> tensors)")


def _is_state_dict(value) -> bool:
    """A non-empty dict of names to tensors (a module's ``get_extra_state`` entries may be anything)."""
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and (isinstance(v, torch.Tensor) or k.endswith("_extra_state")) for k, v in value.items())


def _optimizer_state_in(document) -> dict | None:
    """The first saved optimizer state of a Lightning or trainer checkpoint (to read the rate it was at)."""
    if not isinstance(document, dict):
        return None
    candidates = [document.get("optimizer"), document.get("optimizer_state_dict")]
    states = document.get("optimizer_states")
    if isinstance(states, list) and states:
        candidates.insert(0, states[0])
    return next((c for c in candidates if isinstance(c, dict) and isinstance(c.get("param_groups"), list)), None)


def _read_safetensors(path: Path) -> dict:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise UserError(f"reading {path} needs the safetensors package: pip install safetensors (it comes with "
                        f"transformers)") from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as error:  # noqa: BLE001 - safetensors raises its own error kinds
        raise UserError(f"cannot read {path} as safetensors ({_short(error)})") from None


def _read_directory(path: Path) -> UserWeights:
    if (path / "config.json").is_file() and (path / "metrics.jsonl").is_file():
        raise UserError(f"{path} is an lrscope run directory: give it as RUN, not as --checkpoint")
    optimizer = path / "optimizer.pt" if (path / "optimizer.pt").is_file() else None
    for name in HF_WEIGHTS:
        index = path / f"{name}.index.json"
        if index.is_file():
            return UserWeights(_read_shards(index), path, f"Hugging Face checkpoint (sharded {name})", optimizer)
        if (path / name).is_file():
            reader = _read_safetensors if name.endswith(".safetensors") else _torch_state
            return UserWeights(reader(path / name), path, f"Hugging Face checkpoint ({name})", optimizer)
    inside = sorted(p.name for p in path.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name))
    hint = f"; it holds {', '.join(inside[-4:])}: pass one of those" if inside else ""
    raise UserError(f"--checkpoint {path} is a directory without {' or '.join(HF_WEIGHTS)}{hint}")


def _torch_state(path: Path) -> dict:
    document = torch_load(path)
    return _state_in(document, path)[0]


def _read_shards(index: Path) -> dict:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        shards = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"cannot read {index} as a sharded-checkpoint index ({_short(error)})") from None
    state = {}
    for shard in shards:
        if not isinstance(shard, str) or Path(shard).name != shard:  # a shard outside the directory is not read
            raise UserError(f"{index} names a shard {shard!r} outside its directory")
        file = index.parent / shard
        if not file.is_file():
            raise UserError(f"{index} names {shard}, which is not in {index.parent}")
        state.update(_read_safetensors(file) if shard.endswith(".safetensors") else _torch_state(file))
    return state


def saved_rate(weights: UserWeights) -> tuple[float, float | None] | None:
    """(lr, SGD momentum or None) of the first parameter group of the optimizer state saved with the weights (the
    rate its next step would use), or None when there is none."""
    state = weights.optimizer_state
    if isinstance(state, Path):
        try:
            state = torch.load(state, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - no usable optimizer state: the caller asks for --lr
            return None
    groups = state.get("param_groups") if isinstance(state, dict) else None
    if not groups or not isinstance(groups[0], dict):
        return None
    group = groups[0]
    lr = group.get("lr")
    if isinstance(lr, torch.Tensor):
        lr = float(lr)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        return None
    momentum = group.get("momentum")
    momentum = float(momentum) if isinstance(momentum, (int, float)) and not isinstance(momentum, bool) else None
    return float(lr), momentum


# ---------------------------------------------------------------- fitting


def fit_weights(model: nn.Module, weights: UserWeights, model_name: str) -> list[str]:
    """Load ``weights`` into ``model`` (the module docstring says what is bridged); the notes say what was."""
    where = f"{weights.source} does not fit the model {model_name}"
    expected = model.state_dict(keep_vars=True)
    state, notes = weights.state, []
    if set(state) != set(expected):
        stripped = _without_common_prefix(state, expected)
        if stripped is not None:
            state, prefix = stripped
            notes.append(f"the names in {weights.source} all start with {prefix!r}, which the model's lack; "
                         f"loaded them without it")
    tied = _tied_to_loaded(expected, state)
    missing = [n for n in expected if n not in state and n not in tied]
    unexpected = [n for n in state if n not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"it has no {_some(missing)}")
        if unexpected:
            parts.append(f"it has {_some(unexpected)}, which the model lacks")
        raise UserError(f"{where}: {'; '.join(parts)}")
    for name, tensor in state.items():
        if isinstance(tensor, torch.Tensor) and tuple(tensor.shape) != tuple(expected[name].shape):
            raise UserError(f"{where}: {name} has shape {list(tensor.shape)} in the file, "
                            f"{list(expected[name].shape)} in the model")
    try:
        model.load_state_dict(state, strict=False)
    except (RuntimeError, ValueError, TypeError) as error:
        raise UserError(f"{where}: {_short(error)}") from None
    if tied:
        notes.append(f"{_some(sorted(tied))} not in the file: tied to a parameter it holds")
    return notes


def _without_common_prefix(state: dict, expected: dict) -> tuple[dict, str] | None:
    """``state`` with its names' one common first component removed, when that makes them the model's names
    (tied parameters aside); None otherwise."""
    firsts = {name.partition(".")[0] for name in state}
    if len(firsts) != 1 or not all("." in name for name in state):
        return None
    prefix = firsts.pop() + "."
    stripped = {name[len(prefix):]: value for name, value in state.items()}
    tied = _tied_to_loaded(expected, stripped)
    if set(stripped) | tied != set(expected):
        return None
    return stripped, prefix


def _tied_to_loaded(expected: dict, state: dict) -> set[str]:
    """Names of the model absent from ``state`` whose tensor is the same tensor as one ``state`` does hold."""
    held = {id(expected[n]) for n in state if n in expected}
    return {n for n, t in expected.items() if n not in state and id(t) in held}


def _some(names: list[str]) -> str:
    return names[0] + (f" (and {len(names) - 1} more: {', '.join(names[1:4])}{' ...' if len(names) > 4 else ''})"
                       if len(names) > 1 else "")


def _short(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
