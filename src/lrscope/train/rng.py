"""The global random-number generators as plain data: one snapshot and restore for checkpoints and probes.

:func:`rng_state` returns the states of Python's ``random``, NumPy's global generator, torch's CPU generator
and, when CUDA has been initialised, every CUDA device's generator, as values that ``torch.save`` writes and
``torch.load(weights_only=True)`` reads back without unpickling any class::

    {"python": (3, (625 ints), None),                       # random.getstate(): a tuple of ints
     "numpy": {"bit_generator": "MT19937", "key": int64 tensor [624], "pos": int,
               "has_gauss": int, "cached_gaussian": float},  # np.random.get_state(), key as a tensor
     "torch": uint8 tensor,                                  # torch.get_rng_state()
     "cuda": [uint8 tensor, ...]}                            # torch.cuda.get_rng_state_all(), if initialised

NumPy's own state holds a ``uint32`` array, which would need NumPy's reconstruction functions to unpickle;
the key is stored as an int64 tensor instead (every uint32 fits) and turned back into ``uint32`` on restore,
bit for bit.  CUDA is captured only when it is already initialised, so a CPU run never starts a CUDA context
to take a snapshot.  :func:`set_rng_state` restores what a state holds; a CUDA state on a machine without
CUDA (or with fewer devices) restores the devices that exist.

Used by ``train/checkpoint.py`` (checkpoints) and ``probes/state.py`` (probes that leave the RNGs as they found
them); train never imports probes, so the one copy lives here.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["rng_state", "set_rng_state", "rng_state_problem"]


def rng_state() -> dict[str, Any]:
    """The global RNG states as plain data (see the module docstring)."""
    kind, key, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": str(kind),
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state(numpy_state: dict) -> tuple:
    key = numpy_state["key"]
    key = key.numpy() if isinstance(key, torch.Tensor) else np.asarray(key)
    return (
        numpy_state["bit_generator"],
        key.astype(np.uint32),
        int(numpy_state["pos"]),
        int(numpy_state["has_gauss"]),
        float(numpy_state["cached_gaussian"]),
    )


def set_rng_state(state: dict[str, Any]) -> None:
    """Put the global generators back to ``state`` (from :func:`rng_state`)."""
    random.setstate(_python_state(state["python"]))
    np.random.set_state(_numpy_state(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = list(state["cuda"])[: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda)


def _python_state(python_state) -> tuple:
    """random.setstate wants tuples; a state that went through lists (JSON, a converter) is turned back."""
    version, internal, gauss_next = python_state
    return int(version), tuple(int(v) for v in internal), gauss_next


def rng_state_problem(state: Any) -> str | None:
    """What is wrong with ``state`` as an RNG state (None when it restores cleanly).

    Tried for real: the current generators are saved, ``state`` is restored, the saved ones are put back, so
    the caller's RNGs are exactly as before.  The CUDA part is checked by type only (no CUDA context is
    started to check it).
    """
    if not isinstance(state, dict):
        return f"the RNG state is a {type(state).__name__}, not a dict"
    missing = [k for k in ("python", "numpy", "torch") if k not in state]
    if missing:
        return f"the RNG state misses {', '.join(missing)}"
    if not isinstance(state["numpy"], dict):
        return f"the numpy RNG state is a {type(state['numpy']).__name__}, not a dict"
    cuda = state.get("cuda", [])
    if not isinstance(cuda, (list, tuple)) or not all(isinstance(t, torch.Tensor) for t in cuda):
        return "the CUDA RNG state is not a list of tensors"
    saved = rng_state()
    try:
        set_rng_state({k: v for k, v in state.items() if k != "cuda"})
    except Exception as error:  # noqa: BLE001 - random, numpy and torch each raise their own kinds
        return f"the RNG state does not restore ({type(error).__name__}: {' '.join(str(error).split())[:160]})"
    finally:
        set_rng_state({k: v for k, v in saved.items() if k != "cuda"})
    return None
