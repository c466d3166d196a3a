"""The runner's data: sources, split, label noise, bad specs, and the data order of each epoch."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from lrscope.errors import UserError
from lrscope.train.data import epoch_batches, load_data

from .tiny import TINY


def test_digits_are_normalised_images_with_a_split():
    b = load_data("digits", seed=0, val_fraction=0.2)
    assert b.input_shape == (1, 8, 8) and b.num_classes == 10
    assert b.n_train + len(b.val_y) == 1797 and abs(len(b.val_y) - 359) <= 1
    assert abs(float(b.train_x.mean())) < 1e-4 and abs(float(b.train_x.std()) - 1) < 1e-2


def test_label_noise_flips_the_asked_fraction_of_training_labels_only():
    clean = load_data("digits", seed=1)
    noisy = load_data("digits", seed=1, label_noise=0.3)
    changed = (clean.train_y != noisy.train_y).float().mean().item()
    assert abs(changed - 0.3) < 0.01
    assert torch.equal(clean.val_y, noisy.val_y) and torch.equal(clean.train_x, noisy.train_x)


def test_npz_folder_and_cifar10_sources(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 255, (30, 6, 6, 3), dtype=np.uint8), y=np.arange(30) % 3)
    b = load_data(f"npz:{tmp_path / 'd.npz'}")
    assert b.input_shape == (3, 6, 6) and b.num_classes == 3

    for c in ("cat", "dog"):
        (tmp_path / "f" / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (5, 7), dtype=np.uint8)).save(
                tmp_path / "f" / c / f"{i}.png"
            )
    b = load_data(f"folder:{tmp_path / 'f'}", val_fraction=0.25)
    assert b.input_shape == (1, 5, 7) and b.num_classes == 2 and b.n_train == 6

    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(cifar / name, "wb") as f:
            pickle.dump(
                {b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9]}, f
            )
    b = load_data(f"cifar10:{tmp_path}")
    assert b.input_shape == (3, 32, 32) and b.n_train == 20 and len(b.val_y) == 4 and b.num_classes == 10


@pytest.mark.parametrize(
    "spec, match",
    [
        ("imagenet", "unknown data set"),
        ("npz:/no/such/file.npz", "does not exist"),
        ("npz:", "needs a path"),
        ("synthetic:n=abc", "must be a number"),
        ("synthetic:size=3", "synthetic data takes"),
    ],
)
def test_bad_data_specs_are_user_errors(spec, match):
    with pytest.raises(UserError, match=match):
        load_data(spec)


# ---------------------------------------------------------------- data order


def test_epoch_batches_depend_only_on_seed_and_epoch():
    b = load_data(TINY["data"])
    first = [y.tolist() for _, y in epoch_batches(b, 32, seed=0, epoch=3)]
    again = [y.tolist() for _, y in epoch_batches(b, 32, seed=0, epoch=3)]
    other = [y.tolist() for _, y in epoch_batches(b, 32, seed=0, epoch=4)]
    assert first == again and first != other
    xs = torch.cat([x for x, _ in epoch_batches(b, 32, seed=0, epoch=3)])
    assert torch.equal(xs.sum(0), b.train_x.sum(0)) or torch.allclose(xs.sum(0), b.train_x.sum(0), atol=1e-4)


def test_ranks_split_each_global_batch():
    b = load_data(TINY["data"])
    whole = list(epoch_batches(b, 64, seed=1, epoch=0))
    r0 = list(epoch_batches(b, 32, seed=1, epoch=0, rank=0, world_size=2))
    r1 = list(epoch_batches(b, 32, seed=1, epoch=0, rank=1, world_size=2))
    assert len(whole) == len(r0) == len(r1)
    for (x, _), (a, _), (c, _) in zip(whole, r0, r1, strict=True):
        assert torch.equal(x, torch.cat([a, c]))
