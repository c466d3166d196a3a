"""``--data PKG.MODULE:FACTORY``: what your data factory returns, made into the runner's arrays.

The factory is called with no arguments and returns one of

- ``(train, val)`` or ``{"train": train, "val": val}`` (``"validation"`` is accepted for ``"val"``; a ``"test"``
  entry is left unused), where ``val`` may be None;
- ``train`` alone (a Dataset or a DataLoader), which is the same as ``(train, None)``.

Each of ``train`` and ``val`` is a map-style ``torch.utils.data.Dataset`` whose items are ``(x, y)`` pairs, a
``DataLoader`` over one, or a pair ``(x, y)`` of arrays or tensors with one row per example.  A ``val`` of None is
split off the training data with ``--val-fraction`` and ``--seed``, as for the built-in data.

The reference runner keeps its data in memory and shuffles and batches it itself (from (seed, epoch) only, which
is what makes a resume exact), so the data is read once, item by item, into two arrays.  Of a DataLoader only the
dataset and the examples its sampler picks are used (its batch size, shuffling, workers and collate_fn are not);
a sampler that draws an example twice, and an IterableDataset (no length, no indexing), are refused.  Before the
arrays are allocated their size is checked against the memory this machine has free.

``x`` must be a tensor, an array or a number of the same shape for every example (a PIL image is refused: add
``transforms.ToTensor()``); floating point becomes float32, integers (token ids) stay int64.  ``y`` must be an
integer class index.  Unlike the built-in data, your inputs are not standardised: your transforms apply as written.
Random transforms are drawn once, when the data is read, from a generator seeded by ``--seed`` (the caller seeds
it: :func:`lrscope.train.config.data_and_model`), so every command that rebuilds the data gets the same arrays.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset

from ..errors import UserError
from ..validate import check_memory
from .data import DataBundle, make_bundle
from .factories import call, parse_factory, resolve

_SHAPES = ("(train, val) or {'train': ..., 'val': ...}, each a map-style Dataset of (x, y) pairs, a DataLoader "
           "over one, or a pair (x, y) of arrays/tensors; val may be None")


def data_from_factory(text: str, *, seed: int = 0, val_fraction: float = 0.2, label_noise: float = 0.0,
                      augment: bool = False) -> DataBundle:
    """The DataBundle of the data factory ``text`` (the module docstring says what it may return)."""
    ref = parse_factory(text, "--data")
    produced = call(ref, resolve(ref))
    where = f"--data {ref.text}"
    train, val, notes = _splits(produced, where)
    x, y, read_notes = materialise(train, f"{where} (train)")
    notes += read_notes
    xv = yv = None
    if val is not None:
        xv, yv, read_notes = materialise(val, f"{where} (val)")
        notes += read_notes
        if xv.dtype != x.dtype:
            raise UserError(f"{where}: the training inputs are {x.dtype}, the validation inputs {xv.dtype}")
    if augment and not np.issubdtype(x.dtype, np.floating):
        raise UserError(f"--augment needs floating-point inputs; {where} gives {x.dtype}")
    notes.append("your data is used as it comes (lrscope standardises only its built-in data)")
    return make_bundle(x, y, xv, yv, name=text, seed=seed, val_fraction=val_fraction, label_noise=label_noise,
                       augment=augment, standardise=False, notes=notes)


def _splits(produced, where: str):
    """(train, val or None, notes) from what the factory returned."""
    if isinstance(produced, dict):
        keys = set(produced)
        if "val" in keys and "validation" in keys:
            raise UserError(f"{where} returned a dict with both 'val' and 'validation'; give one")
        unknown = sorted(str(k) for k in keys - {"train", "val", "validation", "test"})
        if "train" not in keys or unknown:
            raise UserError(f"{where} returned a dict with keys {', '.join(map(repr, sorted(map(str, keys))))}; "
                            f"expected 'train' and 'val' (or 'validation')")
        notes = ["the 'test' split is not used"] if "test" in keys else []
        return produced["train"], produced.get("val", produced.get("validation")), notes
    if isinstance(produced, (tuple, list)):
        if len(produced) == 2 and all(_is_array(p) for p in produced):
            raise UserError(f"{where} returned a pair of arrays/tensors: return ((x, y), None) for training data "
                            f"alone, or ((x, y), (x_val, y_val))")
        if len(produced) != 2:
            raise UserError(f"{where} returned a {type(produced).__name__} of {len(produced)} items; expected "
                            f"{_SHAPES}")
        return produced[0], produced[1], []
    if isinstance(produced, (Dataset, DataLoader)):
        return produced, None, []
    raise UserError(f"{where} returned a {type(produced).__name__}; expected {_SHAPES}")


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, torch.Tensor))


# ---------------------------------------------------------------- one split into arrays


def materialise(split, where: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x, y, notes) of one split: a Dataset, a DataLoader over one, or a pair of arrays."""
    if isinstance(split, (tuple, list)) and len(split) == 2 and all(_is_array(p) for p in split):
        x, y = _as_numpy(split[0]), _labels(split[1], where)
        if x.ndim == 0 or x.shape[0] != y.shape[0]:
            raise UserError(f"{where}: x has {x.shape[0] if x.ndim else 0} rows and y has {y.shape[0]}; need one "
                            f"label per example")
        check_memory(where, float(x.size) * 8)  # the copy in the runner's dtype
        return _inputs(x, where), y, []
    notes = []
    if isinstance(split, DataLoader):
        dataset, indices = _loader_examples(split, where)
        notes.append(f"{where}: read {len(indices)} examples of the DataLoader's dataset (the runner batches and "
                     f"shuffles itself)")
    else:
        dataset, indices = split, None
    if isinstance(dataset, IterableDataset):
        raise UserError(f"{where} is an IterableDataset ({type(dataset).__name__}): the runner keeps the data in "
                        f"memory and shuffles it itself (so a resume is exact), which needs len() and indexing; "
                        f"give a map-style Dataset")
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")) or isinstance(dataset, (str, bytes)):
        raise UserError(f"{where} is a {type(dataset).__name__}; expected {_SHAPES}")
    if indices is None:
        indices = range(len(dataset))
    return (*_read_items(dataset, indices, where), notes)


def _loader_examples(loader: DataLoader, where: str):
    """The loader's dataset and the sorted indices its sampler picks (each at most once)."""
    dataset = loader.dataset
    if isinstance(dataset, IterableDataset):
        return dataset, None
    batches = loader.batch_sampler
    if batches is None or isinstance(batches, BatchSampler):  # the default wrapper: its sampler, all of it
        picked = list(iter(loader.sampler))
    else:
        picked = [i for batch in batches for i in batch]
    if len(set(picked)) != len(picked):
        raise UserError(f"{where}: the DataLoader's sampler picks some examples more than once (sampling with "
                        f"replacement?); the runner needs each example once")
    return dataset, sorted(int(i) for i in picked)


def _read_items(dataset, indices, where: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(indices)
    if n < 1:
        raise UserError(f"{where} is empty")
    first_x, _ = _item(dataset, indices[0], where)
    check_memory(f"{where} ({n} examples of shape {list(first_x.shape)})", float(n) * max(first_x.size, 1) * 8)
    x = np.empty((n, *first_x.shape), dtype=_input_dtype(first_x.dtype, where))
    y = np.empty(n, dtype=np.int64)
    for k, i in enumerate(indices):
        xi, yi = _item(dataset, i, where)
        if xi.shape != first_x.shape:
            raise UserError(f"{where}: example {i} has x of shape {list(xi.shape)}, example {indices[0]} "
                            f"{list(first_x.shape)}; every example must have the same shape")
        x[k] = xi
        y[k] = yi
    return x, y


def _item(dataset, i, where: str) -> tuple[np.ndarray, int]:
    try:
        item = dataset[i]
    except Exception as error:  # noqa: BLE001 - the user's __getitem__ may raise anything
        text = " ".join(str(error).split())[:200]
        raise UserError(f"{where}: reading example {i} raised {type(error).__name__}: {text}") from None
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        kind = f"a {type(item).__name__}" + (f" of {len(item)} items" if isinstance(item, (tuple, list)) else "")
        if isinstance(item, dict):
            kind += f" with keys {', '.join(map(repr, list(item)[:6]))}"
        raise UserError(f"{where}: example {i} is {kind}; expected an (x, y) pair")
    x, y = item
    if type(x).__module__.startswith("PIL."):
        raise UserError(f"{where}: example {i}'s x is a PIL image; make it a tensor (e.g. add "
                        f"torchvision.transforms.ToTensor() to the dataset's transforms)")
    if not (_is_array(x) or isinstance(x, numbers.Number)):
        raise UserError(f"{where}: example {i}'s x is a {type(x).__name__}; expected a tensor, an array or a number")
    return _as_numpy(x), _label(y, i, where)


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _input_dtype(dtype, where: str):
    if np.issubdtype(dtype, np.floating) or dtype == np.bool_:
        return np.float32
    if np.issubdtype(dtype, np.integer):
        return np.int64
    raise UserError(f"{where}: inputs of dtype {dtype} cannot be trained on; expected floats or integers")


def _inputs(x: np.ndarray, where: str) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=_input_dtype(x.dtype, where))


def _label(y, i, where: str) -> int:
    if isinstance(y, (torch.Tensor, np.ndarray)):
        if y.size != 1 if isinstance(y, np.ndarray) else y.numel() != 1:
            raise UserError(f"{where}: example {i}'s label has shape {list(y.shape)}; expected one integer class "
                            f"index (the runner trains a classifier with cross-entropy)")
        y = y.item()
    elif isinstance(y, np.generic):
        y = y.item()
    if isinstance(y, bool) or not isinstance(y, int):
        raise UserError(f"{where}: example {i}'s label is {_shown(y)}; expected an integer class index (the "
                        f"runner trains a classifier with cross-entropy)")
    return y


def _labels(y, where: str) -> np.ndarray:
    y = _as_numpy(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise UserError(f"{where}: labels of dtype {y.dtype} are not integer class indices (the runner trains a "
                        f"classifier with cross-entropy)")
    return y.astype(np.int64)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
