"""The user's own checkpoints, read weights-only: plain state_dicts, trainer dicts, safetensors, Hugging Face
checkpoint directories and a real Lightning .ckpt; names bridged only where the fit is exact; anything that would
need code to unpickle refused without running it; the files never changed."""

from __future__ import annotations

import argparse
import builtins
import json
import pickle
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from lrscope.errors import UserError
from lrscope.train.user_checkpoint import LIGHTNING_CONTAINERS, fit_weights, read_weights, saved_rate


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def stamp(path: Path) -> list:
    """(name, bytes, mtime) of a file or every file under a directory."""
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return [(str(f), f.read_bytes(), f.stat().st_mtime_ns) for f in files if f.is_file()]


def loads_into_fresh(path: Path, model_factory=net) -> tuple[nn.Module, list[str]]:
    model = model_factory()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    before = stamp(path)
    notes = fit_weights(model, read_weights(path), "net")
    assert stamp(path) == before  # read only: bytes and modification times as they were
    return model, notes


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


# ---------------------------------------------------------------- forms


def test_a_plain_state_dict(tmp_path):
    source = net()
    torch.save(source.state_dict(), tmp_path / "w.pth")
    model, notes = loads_into_fresh(tmp_path / "w.pth")
    assert same_weights(model, source) and notes == []


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict", "model"])
def test_a_trainer_checkpoint_dict_and_its_optimizer_rate(tmp_path, key):
    source = net()
    optimizer = torch.optim.SGD(source.parameters(), lr=0.03, momentum=0.8)
    optimizer_key = "optimizer" if key == "model" else "optimizer_state_dict"
    torch.save({key: source.state_dict(), optimizer_key: optimizer.state_dict(), "epoch": 7}, tmp_path / "c.pt")
    model, _ = loads_into_fresh(tmp_path / "c.pt")
    assert same_weights(model, source)
    assert saved_rate(read_weights(tmp_path / "c.pt")) == (0.03, 0.8)


def test_a_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    source = net()
    save_file(source.state_dict(), tmp_path / "w.safetensors")
    model, _ = loads_into_fresh(tmp_path / "w.safetensors")
    assert same_weights(model, source)
    assert read_weights(tmp_path / "w.safetensors").kind == "safetensors file"


def test_a_hugging_face_checkpoint_directory_with_its_optimizer(tmp_path):
    from safetensors.torch import save_file

    source = net()
    folder = tmp_path / "out" / "checkpoint-500"
    folder.mkdir(parents=True)
    save_file(source.state_dict(), folder / "model.safetensors")
    torch.save(torch.optim.AdamW(source.parameters(), lr=2e-4).state_dict(), folder / "optimizer.pt")
    (folder / "training_args.bin").write_bytes(pickle.dumps(argparse.Namespace(lr=1)))  # never read
    model, _ = loads_into_fresh(folder)
    assert same_weights(model, source)
    assert saved_rate(read_weights(folder)) == (2e-4, None)  # AdamW has no SGD momentum
    with pytest.raises(UserError, match="without model.safetensors or pytorch_model.bin; it holds checkpoint-500"):
        read_weights(tmp_path / "out")


def test_a_hugging_face_pytorch_model_bin_and_sharded_safetensors(tmp_path):
    from safetensors.torch import save_file

    source = net()
    state = source.state_dict()
    (tmp_path / "bin").mkdir()
    torch.save(state, tmp_path / "bin" / "pytorch_model.bin")
    assert same_weights(loads_into_fresh(tmp_path / "bin")[0], source)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    names = list(state)
    save_file({n: state[n] for n in names[:2]}, sharded / "model-00001-of-00002.safetensors")
    save_file({n: state[n] for n in names[2:]}, sharded / "model-00002-of-00002.safetensors")
    weight_map = {n: f"model-0000{1 + (i >= 2)}-of-00002.safetensors" for i, n in enumerate(names)}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert same_weights(loads_into_fresh(sharded)[0], source)
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "../../etc/passwd"}}))
    with pytest.raises(UserError, match="outside its directory"):
        read_weights(sharded)


# ---------------------------------------------------------------- a real Lightning checkpoint


@pytest.fixture(scope="module")
def lightning_ckpt(tmp_path_factory):
    """A .ckpt written by a real pl.Trainer (1 epoch on CPU) for a LightningModule holding the net as
    ``self.model``, with save_hyperparameters(); and a copy whose hyper-parameters are Lightning's AttributeDict, as
    Lightning < 2.0 pickled them (2.x stores a plain dict)."""
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.utilities.parsing import AttributeDict
    from torch.utils.data import DataLoader, TensorDataset

    class Module(pl.LightningModule):
        def __init__(self, hidden: int = 8, lr: float = 0.05):
            super().__init__()
            self.save_hyperparameters()
            self.model = net()

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self.model(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)

    root = tmp_path_factory.mktemp("lightning")
    data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,))), batch_size=8)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
    module = Module()
    trainer.fit(module, data)
    path = root / "model.ckpt"
    trainer.save_checkpoint(path)
    document = torch.load(path, map_location="cpu", weights_only=False)  # our own file, written just now
    document["hyper_parameters"] = AttributeDict(document["hyper_parameters"])
    old = root / "old-lightning.ckpt"
    torch.save(document, old)
    return path, old, module.model


def test_a_real_lightning_checkpoint_loads_into_the_inner_network(lightning_ckpt):
    path, _, trained = lightning_ckpt
    weights = read_weights(path)
    assert weights.kind == "Lightning checkpoint" and next(iter(weights.state)).startswith("model.")
    model, notes = loads_into_fresh(path)
    assert same_weights(model, trained)
    assert any("start with 'model.'" in n for n in notes)
    assert saved_rate(weights) == (0.05, 0.9)


def test_lightning_attribute_dict_is_admitted_as_a_plain_dict_and_nothing_else(lightning_ckpt, tmp_path):
    _, old, trained = lightning_ckpt
    assert any("AttributeDict" in n for n in torch.serialization.get_unsafe_globals_in_checkpoint(old))
    with pytest.raises(pickle.UnpicklingError):  # what torch alone says of it
        torch.load(old, weights_only=True)
    model, _ = loads_into_fresh(old)
    assert same_weights(model, trained)
    document = torch.load(old, map_location="cpu", weights_only=False)
    document["hyper_parameters"] = argparse.Namespace(**document["hyper_parameters"])
    torch.save(document, tmp_path / "namespace.ckpt")
    with pytest.raises(UserError, match="it pickles argparse.Namespace, which torch's weights-only loader refuses"):
        read_weights(tmp_path / "namespace.ckpt")
    assert all(name.endswith(".AttributeDict") for name in LIGHTNING_CONTAINERS)


# ---------------------------------------------------------------- nothing runs, nothing is guessed


class Planted:
    """Unpickling this would call open(marker, "w"): a file appearing means the pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_pickle_that_would_run_code_is_refused_without_running(tmp_path, writer):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": Planted(marker)}, path)
    else:  # a raw pickle (torch's legacy format): its first foreign global is the planted call
        path.write_bytes(pickle.dumps({"payload": Planted(marker), "state_dict": {}}, protocol=2))
    before = stamp(path)
    with pytest.raises(UserError, match=r"cannot load .*evil.pt safely: it pickles (io|builtins).open") as error:
        read_weights(path)
    assert not marker.exists() and stamp(path) == before
    assert "\n" not in str(error.value)


def test_a_whole_pickled_model_is_refused_with_the_way_out(tmp_path):
    torch.save(net(), tmp_path / "whole.pt")
    with pytest.raises(UserError, match=r"torch.nn.modules.container.Sequential.*torch.save\(model.state_dict\(\)"):
        read_weights(tmp_path / "whole.pt")


def test_names_that_fit_only_partly_are_refused_naming_them(tmp_path):
    state = {f"model.{k}": v for k, v in net().state_dict().items()}
    state["loss_fn.weight"] = torch.ones(3)
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(UserError, match=r"it has no 0.weight \(and 3 more.*it has model.0.weight .*which the model "
                                        r"lacks"):
        fit_weights(net(), read_weights(tmp_path / "w.pt"), "net")


def test_a_shape_that_differs_is_named(tmp_path):
    state = net().state_dict()
    state["2.weight"] = torch.zeros(5, 8)
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(UserError, match=r"2.weight has shape \[5, 8\] in the file, \[3, 8\] in the model"):
        fit_weights(net(), read_weights(tmp_path / "w.pt"), "net")


def test_a_tied_parameter_left_out_of_the_file_is_filled_by_its_tie(tmp_path):
    from safetensors.torch import save_file

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.head = nn.Linear(4, 10, bias=False)
            self.head.weight = self.embed.weight

    source = Tied()
    save_file({"embed.weight": source.embed.weight.detach().clone()}, tmp_path / "model.safetensors")
    model, notes = loads_into_fresh(tmp_path / "model.safetensors", Tied)
    assert torch.equal(model.head.weight, source.embed.weight) and model.head.weight is model.embed.weight
    assert any("head.weight not in the file: tied" in n for n in notes)


@pytest.mark.parametrize("make, match", [
    (lambda p: torch.save({"epoch": 3, "weights": [1, 2]}, p), r"holds a dict with keys 'epoch', 'weights'"),
    (lambda p: torch.save([torch.zeros(1)], p), "holds a list; expected a state_dict"),
    (lambda p: p.write_bytes(b"not a torch file"), r"refused it \(Unsupported operand 110\); it is damaged"),
])
def test_files_that_hold_no_state_dict_are_one_line(tmp_path, make, match):
    make(tmp_path / "x.pt")
    with pytest.raises(UserError, match=match):
        read_weights(tmp_path / "x.pt")


def test_a_run_directory_or_nothing_at_the_path(tmp_path):
    (tmp_path / "run").mkdir()
    for name in ("config.json", "metrics.jsonl"):
        (tmp_path / "run" / name).write_text("{}")
    with pytest.raises(UserError, match="is an lrscope run directory: give it as RUN"):
        read_weights(tmp_path / "run")
    with pytest.raises(UserError, match="does not exist"):
        read_weights(tmp_path / "nothing.pt")


def test_without_safetensors_installed_the_line_names_the_package(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    save_file(net().state_dict(), tmp_path / "w.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(UserError, match="needs the safetensors package: pip install safetensors"):
        read_weights(tmp_path / "w.safetensors")
