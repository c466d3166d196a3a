"""A CIFAR-10 folder from someone else: its batches are read without running code, and checked for shape.

CIFAR-10's python batches are pickles, so a planted batch could run anything under ``pickle.load``.  lrscope reads
them with an unpickler that admits only NumPy's array reconstruction besides plain values.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safety import refuses

from lrscope.errors import UserError

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


class Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo ran >> {self.marker}",))


def _write_folder(folder: Path, batch_for, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate([*BATCHES, "batches.meta"]):
        with open(folder / name, "wb") as f:
            pickle.dump(batch_for(i), f, protocol=protocol)
    return folder


@pytest.fixture
def hostile_folder(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "marker"
    folder = _write_folder(tmp_path / "cifar", lambda i: {b"data": Payload(marker), b"labels": [0]})
    return folder, marker


def _fake_batch(i: int, n: int = 20) -> dict:
    rng = np.random.default_rng(i)
    return {b"batch_label": f"batch {i}".encode(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, n)], b"filenames": [b"x.png"] * n}


def test_the_payload_is_live(hostile_folder):
    """Control: plain pickle.load of the planted batch runs the payload (so the refusal below means it)."""
    folder, marker = hostile_folder
    code = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'), encoding='bytes')"
    subprocess.run([sys.executable, "-c", code, str(folder / "data_batch_1")], check=True, capture_output=True)
    assert marker.read_text().strip() == "ran"


def test_train_on_a_planted_cifar_folder_runs_nothing(hostile_folder, tmp_path):
    folder, marker = hostile_folder
    line = refuses("train", "--data", f"cifar10:{folder}", "--model", "cnn", "--epochs", "1", "--schedule",
                   "constant(0.1)", "--threads", "1", "--out", tmp_path / "R", inputs=[folder],
                   expect="which lrscope refuses")
    assert "data_batch_1 is not a CIFAR-10 python batch" in line and "system" in line
    assert not marker.exists(), "the planted batch ran"


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_valid_cifar_folder_loads_through_the_restricted_unpickler(tmp_path, protocol):
    from lrscope.train.data import load_data

    folder = _write_folder(tmp_path / "cifar-10-batches-py", _fake_batch, protocol=protocol)
    bundle = load_data(f"cifar10:{tmp_path}")
    assert bundle.input_shape == (3, 32, 32) and bundle.n_train == 100 and len(bundle.val_y) == 20
    want = np.concatenate([_fake_batch(i)[b"labels"] for i in range(5)])
    assert np.array_equal(bundle.train_y.numpy(), want)
    assert np.array_equal(bundle.val_y.numpy(), _fake_batch(5)[b"labels"])
    assert (folder / "data_batch_1").read_bytes() == pickle.dumps(_fake_batch(0), protocol=protocol)


def test_a_batch_pickled_by_numpy_1_names_loads(tmp_path):
    """NumPy 1 (and the real CIFAR-10 files) name numpy.core.multiarray; NumPy 2 numpy._core.multiarray."""
    from lrscope.train.data import read_cifar_batch

    blob = pickle.dumps(_fake_batch(0), protocol=2)
    assert b"numpy._core.multiarray\n_reconstruct" in blob or b"numpy.core.multiarray\n_reconstruct" in blob
    blob = blob.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    (tmp_path / "data_batch_1").write_bytes(blob)
    x, y = read_cifar_batch(tmp_path / "data_batch_1")
    assert x.shape == (20, 3, 32, 32) and x.dtype == np.uint8
    assert np.array_equal(x.reshape(20, -1), _fake_batch(0)[b"data"]) and list(y) == _fake_batch(0)[b"labels"]


def _with(**changes):
    def batch(i):
        return {**_fake_batch(i), **{k.encode(): v for k, v in changes.items()}}

    return batch


DAMAGED = {
    "float data": (_with(data=np.zeros((20, 3072), np.float32)), "expected N x 3072 uint8"),
    "narrow data": (_with(data=np.zeros((20, 100), np.uint8)), "shape [20, 100]"),
    "labels out of range": (_with(labels=[10] * 20), "labels must be 0..9"),
    "labels too few": (_with(labels=[1] * 5), "20 images but 5 labels"),
    "labels as text": (_with(labels=["cat"] * 20), "not a list of integers"),
    "a list": (lambda i: [1, 2, 3], "holds a list, not a dict"),
    "no labels": (lambda i: {b"data": _fake_batch(i)[b"data"]}, "no data and labels"),
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_a_damaged_cifar_batch_is_one_line(tmp_path, kind):
    from lrscope.train.data import load_data

    batch_for, expect = DAMAGED[kind]
    folder = _write_folder(tmp_path / "cifar", batch_for)
    with pytest.raises(UserError, match="is not a CIFAR-10 python batch") as refused:
        load_data(f"cifar10:{folder}")
    message = str(refused.value)
    assert expect in message and "data_batch_1" in message and "\n" not in message


def test_a_truncated_cifar_batch_is_one_line_through_the_cli(tmp_path):
    folder = _write_folder(tmp_path / "cifar", _fake_batch)
    blob = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(blob[: len(blob) // 2])
    refuses("train", "--data", f"cifar10:{folder}", "--model", "cnn", "--epochs", "1", "--schedule",
            "constant(0.1)", "--threads", "1", "--out", tmp_path / "R", inputs=[folder],
            expect="data_batch_3 is not a CIFAR-10 python batch: it does not unpickle")


@pytest.mark.parametrize("global_name", [("builtins", "eval"), ("numpy", "load"), ("_codecs", "decode")])
def test_globals_outside_the_allowlist_are_refused_by_name(tmp_path, global_name):
    """A hand-made protocol-2 pickle that names a callable: refused before it is looked up."""
    from lrscope.train.data import read_cifar_batch

    module, name = global_name
    blob = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x01\x00\x00\x001\x85R."  # GLOBAL, ('1',), REDUCE
    (tmp_path / "data_batch_1").write_bytes(blob)
    with pytest.raises(UserError, match=f"asks to unpickle {module}.{name}, which lrscope refuses"):
        read_cifar_batch(tmp_path / "data_batch_1")


def test_codecs_encode_is_admitted_for_latin1_only(tmp_path):
    from lrscope.train.data import read_cifar_batch

    blob = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf_7\x86R."
    (tmp_path / "data_batch_1").write_bytes(blob)
    with pytest.raises(UserError, match="does not unpickle"):
        read_cifar_batch(tmp_path / "data_batch_1")
