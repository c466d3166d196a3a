"""Data for the reference runner: a spec string in, tensors out.  Nothing is ever downloaded.

Specs (``load_data(spec)``):

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), as 1x8x8 images.
- ``synthetic``: Gaussian clusters generated from a fixed seed (``synthetic:n=2000,dim=32,classes=10,sep=2.0``
  overrides the defaults); inputs are flat vectors.
- ``npz:PATH``: a NumPy archive with arrays ``x`` and ``y`` (and optionally ``x_val``, ``y_val``).
- ``folder:PATH``: one sub-folder per class holding PNG/JPEG images (read with Pillow, resized to the first
  image's size).
- ``cifar10:PATH``: the python version of CIFAR-10 already on disk (``data_batch_1..5`` and ``test_batch``;
  PATH may be the ``cifar-10-batches-py`` folder or its parent).  The test batch is the validation set.
- ``PKG.MODULE:FACTORY``: your own data, from a callable (:mod:`lrscope.train.user_data`; which text is a
  reference is :mod:`lrscope.train.factories`' rule).  This module reads only the built-in forms.

Inputs are standardised per channel with the training split's mean and standard deviation.  Label noise flips
a seeded fraction of the *training* labels to a different class; validation labels stay clean.  Augmentation
is applied per batch by :func:`augment_batch` with a generator the caller seeds (:func:`epoch_batches` seeds
it from (seed, epoch)).

Data order.  :func:`epoch_batches` draws the permutation (and any augmentation) from a generator seeded by
(seed, epoch) only, so a probe can replay the data stream of any epoch, and a resumed run sees the same
batches.  A global batch is ``batch_size * world_size`` examples and each rank takes its contiguous slice of
it, so a distributed run with batch B per rank follows a single-process run with batch B * world_size.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..validate import check_float, check_int, check_memory, unsigned_seed

DATASETS = ("digits", "synthetic", "npz:PATH", "folder:PATH", "cifar10:PATH", "PKG.MODULE:FACTORY")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass
class DataBundle:
    """Train and validation tensors with what a model needs to know about them."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int
    input_shape: tuple[int, ...]
    name: str
    augment: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def n_train(self) -> int:
        return int(self.train_y.shape[0])

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3


def load_data(
    spec: str, *, seed: int = 0, val_fraction: float = 0.2, label_noise: float = 0.0, augment: bool = False
) -> DataBundle:
    """Load the data set named by ``spec`` (see the module docstring), split, standardise, add label noise."""
    if not isinstance(spec, str) or not spec.strip():
        raise UserError(f"--data expects one of {', '.join(DATASETS)}; got {spec!r}")
    if not 0.0 <= float(label_noise) < 1.0:
        raise UserError(f"label noise must be a fraction in [0, 1); got {label_noise}")
    if not 0.0 < float(val_fraction) < 1.0:
        raise UserError(f"validation fraction must be in (0, 1); got {val_fraction}")
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind == "digits" and not arg:
        x, y, xv, yv = _digits()
    elif kind == "synthetic":
        x, y, xv, yv = _synthetic(arg)
    elif kind in ("npz", "folder", "cifar10"):
        if not arg:
            raise UserError(f"--data {kind}:PATH needs a path after the colon; got {spec!r}")
        path = Path(arg).expanduser()
        if not path.exists():
            raise UserError(f"data path {path} does not exist (from --data {spec})")
        x, y, xv, yv = {"npz": _npz, "folder": _folder, "cifar10": _cifar10}[kind](path)
    else:
        raise UserError(f"unknown data set {spec!r}; expected one of {', '.join(DATASETS)}")

    return make_bundle(np.asarray(x, dtype=np.float32), y, xv, yv, name=spec, seed=seed, val_fraction=val_fraction,
                       label_noise=label_noise, augment=augment)


def make_bundle(x: np.ndarray, y, xv, yv, *, name: str, seed: int = 0, val_fraction: float = 0.2,
                label_noise: float = 0.0, augment: bool = False, standardise: bool = True,
                notes: list[str] | None = None) -> DataBundle:
    """A DataBundle of arrays ``x``, ``y`` (and ``xv``, ``yv``, or None to split off ``val_fraction`` with
    ``seed``): labels checked to be class indices, inputs standardised (when ``standardise``), label noise added.

    ``x`` keeps its dtype (lrscope's own data is float32; a user's token ids stay integers)."""
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise UserError(
            f"data {name}: x has {x.shape[0]} rows and y has {y.shape[0]}; need equal counts >= 2"
        )
    if y.min() < 0:
        raise UserError(f"data {name}: labels must be integers >= 0; found {int(y.min())}")
    if xv is None:
        x, y, xv, yv = _split(x, y, val_fraction, seed)
    else:
        xv = np.asarray(xv, dtype=x.dtype)
        yv = np.asarray(yv).astype(np.int64).reshape(-1)
        if xv.shape[0] != yv.shape[0] or xv.shape[0] == 0:
            raise UserError(f"data {name}: the validation x has {xv.shape[0]} rows and y has {yv.shape[0]}; need "
                            f"equal counts >= 1")
        if xv.shape[1:] != x.shape[1:]:
            raise UserError(f"data {name}: validation examples have shape {list(xv.shape[1:])}, training examples "
                            f"{list(x.shape[1:])}")
        if yv.min() < 0:
            raise UserError(f"data {name}: validation labels must be integers >= 0; found {int(yv.min())}")
    num_classes = int(max(y.max(), yv.max() if len(yv) else 0)) + 1
    if standardise:
        x, xv = _standardise(x, xv)
    notes = list(notes or [])
    if label_noise > 0:
        y, flipped = _flip_labels(y, num_classes, float(label_noise), seed)
        notes.append(f"label noise: {flipped} of {len(y)} training labels flipped")
    return DataBundle(
        train_x=torch.from_numpy(np.ascontiguousarray(x)),
        train_y=torch.from_numpy(y),
        val_x=torch.from_numpy(np.ascontiguousarray(xv)),
        val_y=torch.from_numpy(yv),
        num_classes=num_classes,
        input_shape=tuple(int(d) for d in x.shape[1:]),
        name=name,
        augment=bool(augment),
        notes=notes,
    )


def check_same_data(bundle: DataBundle, recorded, what: str) -> None:
    """Refuse data whose sizes differ from those a run recorded in its config's ``data_info`` (a factory that
    now returns other data would make every probe of the run measure something else)."""
    if not isinstance(recorded, dict):
        return
    now = {"n_train": bundle.n_train, "n_val": int(bundle.val_y.shape[0]), "input_shape": list(bundle.input_shape),
           "num_classes": bundle.num_classes}
    differ = [f"{key} {recorded[key]!r} then, {value!r} now" for key, value in now.items()
              if key in recorded and recorded[key] != value]
    if differ:
        raise UserError(f"{what} ({bundle.name}) is not the data the run was trained on: {'; '.join(differ)}")


def augment_batch(
    x: torch.Tensor, generator: torch.Generator, *, max_shift: int = 1, flip: bool = False
) -> torch.Tensor:
    """Cheap image augmentation: a random shift of up to ``max_shift`` pixels (zero padding), optional h-flips.

    Flat (non-image) inputs get small Gaussian jitter instead.  All randomness comes from ``generator``.
    """
    if x.dim() != 4:
        return x + 0.05 * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    n, _, h, w = x.shape
    p = max_shift
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    dy = torch.randint(0, 2 * p + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * p + 1, (n,), generator=generator)
    rows = dy[:, None] + torch.arange(h)[None, :]  # n x h
    cols = dx[:, None] + torch.arange(w)[None, :]  # n x w
    idx_n = torch.arange(n)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out.contiguous()


# ---------------------------------------------------------------- data order


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed that depends only on (seed, epoch)."""
    return int(
        np.random.SeedSequence([unsigned_seed(seed), int(epoch)]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


def steps_per_epoch(bundle: DataBundle, batch_size: int, world_size: int = 1) -> int:
    """Global batches in one epoch (the last may be smaller)."""
    return math.ceil(bundle.n_train / (batch_size * world_size))


def epoch_batches(
    bundle: DataBundle, batch_size: int, seed: int, epoch: int, *, rank: int = 0, world_size: int = 1
):
    """This rank's (x, y) for each global batch of ``epoch`` (0-based); depends only on (seed, epoch)."""
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    order = torch.randperm(bundle.n_train, generator=generator)
    global_batch = batch_size * world_size
    for start in range(0, bundle.n_train, global_batch):
        idx = order[start : start + global_batch]
        x, y = bundle.train_x[idx], bundle.train_y[idx]
        if bundle.augment:
            x = augment_batch(x, generator, flip=bundle.is_image and bundle.input_shape[0] == 3)
        if world_size > 1:
            share = math.ceil(len(idx) / world_size)
            x, y = x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share]
        yield x, y


# ---------------------------------------------------------------- sources


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32)[:, None] / 16.0, d.target, None, None


def _synthetic(arg: str):
    """Gaussian clusters: class means on a sphere of radius ``sep``, unit-variance noise (fixed data seed)."""
    params = {"n": 2000, "dim": 32, "classes": 10, "sep": 2.0}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        key, eq, value = part.partition("=")
        if not eq or key not in params:
            raise UserError(f"synthetic data takes {', '.join(k + '=' for k in params)}; got {part!r}")
        try:
            params[key] = type(params[key])(value)
        except ValueError:
            raise UserError(f"synthetic {key} must be a number; got {value!r}") from None
    n = check_int("synthetic n", params["n"], low=4, high=10**8)
    dim = check_int("synthetic dim", params["dim"], low=1, high=10**6)
    k = check_int("synthetic classes", params["classes"], low=2, high=10**4)
    check_float("synthetic sep", params["sep"], low=0.0, high=1e6)
    check_memory(f"synthetic data with n={n}, dim={dim}", 3 * 8.0 * n * dim)  # float64 draws, then float32
    rng = np.random.default_rng(12345)
    means = rng.standard_normal((k, dim))
    means *= params["sep"] / np.linalg.norm(means, axis=1, keepdims=True)
    y = rng.integers(0, k, n)
    x = means[y] + rng.standard_normal((n, dim))
    return x.astype(np.float32), y, None, None


def _npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path} as a NumPy .npz archive ({error})") from None
    if "x" not in arrays or "y" not in arrays:
        raise UserError(f"{path} must hold arrays named x and y; it has {', '.join(arrays) or 'none'}")
    x, xv = _as_images(arrays["x"]), None
    yv = None
    if "x_val" in arrays and "y_val" in arrays:
        xv, yv = _as_images(arrays["x_val"]), arrays["y_val"]
    return x, arrays["y"], xv, yv


def _as_images(x: np.ndarray) -> np.ndarray:
    """(N,D) stays flat; (N,H,W) -> (N,1,H,W); (N,H,W,C), C in 1/3/4 -> (N,C,H,W); uint8 -> [0,1]."""
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    x = x.astype(np.float32) / scale
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim not in (2, 4):
        raise UserError(f"x must have shape (N, D), (N, H, W) or (N, C, H, W); got {x.shape}")
    return x


def _folder(path: Path):
    from PIL import Image

    if not path.is_dir():
        raise UserError(f"folder data {path} is not a directory (expected one sub-folder per class)")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise UserError(f"folder data {path} needs at least two class sub-folders; found {len(classes)}")
    files = [
        (f, i)
        for i, c in enumerate(classes)
        for f in sorted((path / c).iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise UserError(f"no PNG or JPEG images under {path}/<class>/")
    images, labels, size, mode = [], [], None, None
    for f, label in files:
        try:
            with Image.open(f) as im:
                if size is None:
                    size, mode = im.size, ("L" if im.mode in ("L", "1", "I;16") else "RGB")
                arr = np.asarray(im.convert(mode).resize(size), dtype=np.float32) / 255.0
        except OSError as error:
            raise UserError(f"cannot read image {f} ({error})") from None
        images.append(arr if arr.ndim == 3 else arr[:, :, None])
        labels.append(label)
    return np.stack(images).transpose(0, 3, 1, 2), np.array(labels), None, None


def _cifar10(path: Path):
    if (path / "cifar-10-batches-py").is_dir():
        path = path / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)]
    missing = [n for n in [*names, "test_batch"] if not (path / n).is_file()]
    if missing:
        raise UserError(f"{path} is not the CIFAR-10 python folder: missing {', '.join(missing)}")
    parts = [read_cifar_batch(path / n) for n in names]
    xv, yv = read_cifar_batch(path / "test_batch")
    x = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y = np.concatenate([p[1] for p in parts])
    return x, y, xv.astype(np.float32) / 255.0, yv


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (latin-1 only; no other codec is looked up)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError("_codecs.encode with anything but a string and latin1")
    return text.encode("latin1")


def _multiarray():
    try:
        from numpy._core import multiarray  # numpy 2
    except ImportError:  # numpy 1
        from numpy.core import multiarray
    return multiarray


def _frombuffer():
    try:
        from numpy._core.numeric import _frombuffer  # numpy 2
    except ImportError:  # numpy 1
        from numpy.core.numeric import _frombuffer
    return _frombuffer


# What a CIFAR-10 python batch may ask the unpickler for: NumPy's array, dtype and scalar reconstruction (numpy 1
# names them numpy.core.*, numpy 2 numpy._core.*; protocol 5 rebuilds arrays with _frombuffer) and the latin-1
# encode protocol 2 uses for bytes.  Dicts, lists, bytes, strings and numbers need no global at all.
_CIFAR_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): lambda: _multiarray()._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): lambda: _multiarray()._reconstruct,
    ("numpy.core.multiarray", "scalar"): lambda: _multiarray().scalar,
    ("numpy._core.multiarray", "scalar"): lambda: _multiarray().scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,  # pickle protocol 5 (no object dtype: numpy refuses it)
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles the plain values of a CIFAR-10 batch and refuses every other class or function."""

    def find_class(self, module, name):
        make = _CIFAR_GLOBALS.get((module, name))
        if make is None:
            raise _Refused(f"{module}.{name}")
        return make()


class _Refused(pickle.UnpicklingError):
    """A batch asked for a global outside :data:`_CIFAR_GLOBALS`; ``args[0]`` is its dotted name."""


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images N x 3 x 32 x 32 uint8, labels N int64) of one CIFAR-10 python batch, read without running code.

    The batch is a pickled dict {b"data": uint8 array N x 3072, b"labels": N ints in 0..9, ...}; it is read with
    a restricted unpickler that admits only NumPy's array reconstruction besides plain values, so a planted
    batch cannot run anything.  A file of another shape is one line naming it and what is wrong.
    """
    where = f"{path} is not a CIFAR-10 python batch"
    try:
        with open(path, "rb") as f:
            document = _CifarUnpickler(f, encoding="bytes").load()
    except _Refused as refused:
        raise UserError(f"{where}: it asks to unpickle {refused.args[0]}, which lrscope refuses") from None
    except OSError as error:
        raise UserError(f"cannot read CIFAR-10 batch {path}: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - a damaged pickle raises many kinds
        text = " ".join(str(error).split())[:160]
        raise UserError(f"{where}: it does not unpickle ({type(error).__name__}: {text})") from None
    if not isinstance(document, dict):
        raise UserError(f"{where}: it holds a {type(document).__name__}, not a dict")
    data = document.get(b"data", document.get("data"))
    labels = document.get(b"labels", document.get("labels"))
    if data is None or labels is None:
        raise UserError(f"{where}: it has no data and labels entries")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 \
            or data.shape[0] < 1:
        shape = f"{data.dtype} array of shape {list(data.shape)}" if isinstance(data, np.ndarray) else \
            type(data).__name__
        raise UserError(f"{where}: its data is a {shape}, expected N x 3072 uint8")
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        y = labels.astype(np.int64)
    elif isinstance(labels, list) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                          for v in labels):
        y = np.array([int(v) for v in labels], dtype=np.int64)
    else:
        raise UserError(f"{where}: its labels are not a list of integers")
    if len(y) != data.shape[0]:
        raise UserError(f"{where}: it has {data.shape[0]} images but {len(y)} labels")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise UserError(f"{where}: its labels must be 0..9; found {int(y.min() if y.min() < 0 else y.max())}")
    return data.reshape(-1, 3, 32, 32), y


# ---------------------------------------------------------------- preparation


def _split(x, y, val_fraction, seed):
    rng = np.random.default_rng([unsigned_seed(seed), 1])
    order = rng.permutation(len(y))
    n_val = min(max(1, int(round(val_fraction * len(y)))), len(y) - 1)
    val, train = order[:n_val], np.sort(order[n_val:])
    return x[train], y[train], x[np.sort(val)], y[np.sort(val)]


def _standardise(x, xv):
    """Per channel (images) or per feature (vectors), with the training split's statistics."""
    axes = (0, 2, 3) if x.ndim == 4 else (0,)
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    std = np.where(std > 1e-8, std, 1.0).astype(np.float32)
    return ((x - mean) / std).astype(np.float32), ((xv - mean) / std).astype(np.float32)


def _flip_labels(y, num_classes, fraction, seed):
    """Replace a seeded ``fraction`` of labels by a uniformly drawn *different* class."""
    rng = np.random.default_rng([unsigned_seed(seed), 2])
    y = y.copy()
    n_flip = int(round(fraction * len(y)))
    which = rng.choice(len(y), size=n_flip, replace=False)
    shift = rng.integers(1, num_classes, size=n_flip)
    y[which] = (y[which] + shift) % num_classes
    return y, n_flip
