"""lrscope.integrations.lightning on a real Lightning Trainer (CPU, tiny modules): the rates each epoch and step
used, validation metrics, refusal of an existing run, resume, rank 0 only, and find_lr leaving the module as it
came in."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pl = pytest.importorskip("lightning.pytorch")
import torch  # noqa: E402
from torch import nn  # noqa: E402

from lrscope.errors import UserError  # noqa: E402
from lrscope.integrations import lightning as lit  # noqa: E402
from lrscope.schedules import parse_schedule  # noqa: E402
from lrscope.schedules.torch import ScheduleLR  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LRSCOPE = Path(sys.executable).with_name("lrscope")
QUIET = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)


@pytest.fixture(autouse=True)
def _quiet_lightning():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="lightning")
        warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers|LitLogger).*")
        yield


def _data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())


def _loader(n=256, batch_size=32):
    return torch.utils.data.DataLoader(_data(n), batch_size=batch_size)


class Tiny(pl.LightningModule):
    """A linear classifier that logs like users do; the schedule and its interval are hparams."""

    def __init__(self, spec="multistep(0.1, milestones=[2])", interval="epoch", lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = nn.Linear(4, 2)
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
        self.losses.append(loss.item())
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        logits = self.net(batch[0])
        self.log("val_loss", nn.functional.cross_entropy(logits, batch[1]))
        self.log("val_acc", (logits.argmax(1) == batch[1]).float().mean())
        self.log("val_margin", logits.abs().mean())

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        sched = ScheduleLR(opt, parse_schedule(self.hparams.spec), unit=self.hparams.interval)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": self.hparams.interval}}


def _fit(run, module=None, *, epochs=3, val=True, callback=None, ckpt_path=None, **trainer_options):
    module = module or Tiny()
    callback = callback or lit.LRScopeCallback(run)
    trainer = pl.Trainer(max_epochs=epochs, callbacks=[callback], **QUIET, **trainer_options)
    trainer.fit(module, _loader(), _loader() if val else None, ckpt_path=ckpt_path, weights_only=True)
    return trainer, module


def _records(run, kind):
    lines = (Path(run) / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


# ---------------------------------------------------------------- the callback


def test_epoch_records_hold_the_rate_each_epoch_used_and_explain_finds_the_decay(tmp_path):
    run = tmp_path / "run"
    _fit(run, callback=lit.LRScopeCallback(run, report=True))
    epochs = _records(run, "epoch")
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert [round(r["lr"], 12) for r in epochs] == [0.1, 0.1, 0.01]
    assert [r["step"] for r in epochs] == [8, 16, 24]
    assert all(r["val_loss"] > 0 and 0 <= r["val_acc"] <= 1 and r["val_margin"] > 0 for r in epochs)
    config = json.loads((run / "config.json").read_text())
    assert config["source"] == "lightning" and config["module"] == "Tiny"
    assert config["hparams"] == {"spec": "multistep(0.1, milestones=[2])", "interval": "epoch", "lr": 0.1}
    assert config["schedule"] == "multistep(0.1, milestones=[2])" and config["step_unit"] == "epoch"
    assert config["trainer"]["max_epochs"] == 3 and config["trainer"]["strategy"] == "single_device"
    assert config["optimizer"] == "SGD" and config["optimizers"][0]["defaults"]["lr"] == 0.1
    assert (run / "explain.json").is_file() and (run / "report.html").stat().st_size > 1000
    done = subprocess.run([str(LRSCOPE), "explain", str(run), "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    decays = [e for e in doc["events"] if e["lr_after"] < e["lr_before"]]
    assert doc["source"]["x_name"] == "epoch" and [e["x"] for e in decays] == [3]


def test_train_loss_is_the_mean_of_the_epochs_step_losses(tmp_path):
    _, module = _fit(tmp_path / "run", epochs=2, val=False)
    epochs = _records(tmp_path / "run", "epoch")
    for k, record in enumerate(epochs):
        assert record["train_loss"] == pytest.approx(np.mean(module.losses[8 * k:8 * (k + 1)]), rel=1e-6)
        assert record["val_loss"] is None  # no val loader: no validation metrics at all


def test_step_records_hold_the_rate_each_step_used_under_a_step_scheduler(tmp_path):
    spec = "multistep(0.1, milestones=[5, 13])"
    _, module = _fit(tmp_path / "run", Tiny(spec, "step"), epochs=2, val=False)
    steps = _records(tmp_path / "run", "step")
    schedule = parse_schedule(spec)
    assert [r["step"] for r in steps] == list(range(1, 17))
    assert [r["lr"] for r in steps] == pytest.approx([float(schedule(r["step"] - 1)) for r in steps], rel=1e-12)
    assert [r["epoch"] for r in steps] == pytest.approx([s / 8 for s in range(1, 17)])
    assert [r["loss"] for r in steps] == pytest.approx(module.losses, rel=1e-6)
    epochs = _records(tmp_path / "run", "epoch")
    assert [r["lr"] for r in epochs] == pytest.approx([schedule(7), schedule(15)])  # the epoch's last step
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["step_unit"] == "step"


def test_under_gradient_accumulation_a_step_is_an_optimizer_step(tmp_path):
    _, module = _fit(tmp_path / "run", Tiny("multistep(0.1, milestones=[2])", "step"), epochs=1, val=False,
                     accumulate_grad_batches=2, callback=lit.LRScopeCallback(tmp_path / "run", log_every_n_steps=2))
    steps = _records(tmp_path / "run", "step")
    assert [r["step"] for r in steps] == [2, 4]  # 8 batches, 4 optimizer steps, every second one recorded
    assert [r["lr"] for r in steps] == pytest.approx([0.1, 0.01])  # steps 2 and 4 ran at s(1), s(3)
    assert [r["epoch"] for r in steps] == [0.5, 1.0]
    # the loss of a step is the mean of its two batches' (Lightning hands on each divided by 2)
    assert [r["loss"] for r in steps] == pytest.approx([np.mean(module.losses[2:4]), np.mean(module.losses[6:8])])
    assert _records(tmp_path / "run", "epoch")[0]["train_loss"] == pytest.approx(np.mean(module.losses), rel=1e-6)


def test_validation_metrics_only_in_the_epochs_that_ran_validation(tmp_path):
    _fit(tmp_path / "run", check_val_every_n_epoch=2)
    epochs = _records(tmp_path / "run", "epoch")
    # Lightning keeps epoch 2's val_loss in callback_metrics through epoch 3; the record must not take it
    assert [r["val_loss"] is None for r in epochs] == [True, False, True]
    assert "val_margin" not in epochs[0] and "val_margin" in epochs[1]
    assert "train_loss" in epochs[1] and epochs[1]["train_loss"] != epochs[1]["val_loss"]


def test_an_existing_run_is_refused_before_training(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"kind": "epoch", "epoch": 1, "lr": 0.1}\n')
    (run / "config.json").write_text('{"model": "mine"}')
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    module = Tiny()
    with pytest.raises(UserError, match="already holds a run"):
        _fit(run, module)
    assert module.losses == []  # not one training step ran
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    other = tmp_path / "hf-output"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(UserError, match="not an lrscope run's"):
        _fit(other, module)
    assert (other / "config.json").read_text() == '{"model_type": "bert"}' and module.losses == []


def test_a_resumed_fit_appends_after_the_checkpoint(tmp_path):
    run = tmp_path / "run"

    class Crash(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 11:
                trainer.save_checkpoint(tmp_path / "mid.ckpt")  # mid-epoch 2, after 3 of its batches
            if trainer.global_step == 13:
                raise RuntimeError("killed")

    trainer = pl.Trainer(max_epochs=3, callbacks=[lit.LRScopeCallback(run), Crash()], **QUIET)
    with pytest.raises(RuntimeError, match="killed"):
        trainer.fit(Tiny(), _loader())
    # the recorder was closed on the exception: every line is whole, up to the crash
    assert [r["step"] for r in _records(run, "step")] == list(range(1, 14))
    assert not (run / "explain.json").exists()
    _fit(run, Tiny(), val=False, ckpt_path=tmp_path / "mid.ckpt")
    steps, epochs = _records(run, "step"), _records(run, "epoch")
    assert [r["step"] for r in steps] == list(range(1, 25))  # 12 and 13 redone once, not twice
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert [round(r["lr"], 12) for r in epochs] == [0.1, 0.1, 0.01]
    # epoch 2's mean covers its batches before and after the resume (the callback's state is checkpointed)
    assert epochs[1]["train_loss"] == pytest.approx(np.mean([r["loss"] for r in steps[8:16]]), rel=1e-6)


def test_only_global_rank_zero_writes(tmp_path, monkeypatch):
    from lightning.pytorch.strategies import SingleDeviceStrategy

    monkeypatch.setattr(SingleDeviceStrategy, "is_global_zero", property(lambda self: False))
    _, module = _fit(tmp_path / "run", epochs=1)
    assert len(module.losses) == 8 and not (tmp_path / "run").exists()


def test_a_run_explain_cannot_use_warns_and_the_fit_succeeds(tmp_path, monkeypatch):
    def refuse(run_dir):
        raise UserError("too few records")

    monkeypatch.setattr(lit, "explain_run", refuse)
    with pytest.warns(UserWarning, match="could not explain .*too few records"):
        trainer, _ = _fit(tmp_path / "run", epochs=1)
    assert trainer.state.finished and len(_records(tmp_path / "run", "epoch")) == 1


def test_bad_settings_are_user_errors():
    with pytest.raises(UserError, match="log_every_n_steps"):
        lit.LRScopeCallback("x", log_every_n_steps=0)


# ---------------------------------------------------------------- find_lr


class Separable(pl.LightningModule):
    """BatchNorm (buffers), dropout (RNG), and self.log / self.log_dict in training_step."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))
        self.seen: list[int] = []

    def training_step(self, batch, batch_idx):
        self.seen.append(batch_idx)
        loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
        self.log("train_loss", loss, prog_bar=True)
        self.log_dict({"a": loss, "b": loss * 2})
        return {"loss": loss}

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, 1)]


def _state(module):
    return ({k: v.clone() for k, v in module.state_dict().items()}, [m.training for m in module.modules()],
            torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())


def test_find_lr_restores_the_module_bitwise_and_suggests_a_sensible_rate():
    module = Separable()
    module.net[1].train(False)  # a mixed train/eval state must come back as it was
    before, keys = _state(module), dict(module.__dict__)
    result = lit.find_lr(pl.Trainer(**QUIET), module, train_dataloaders=_loader(512), num_iter=60, end_lr=10)
    after = _state(module)
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert before[1] == after[1] and torch.equal(before[2], after[2]) and before[3] == after[3]
    assert np.array_equal(before[4], after[4])
    assert module.__dict__.keys() == keys.keys() and all(module.__dict__[k] is v for k, v in keys.items())
    assert module._trainer is None and "log" not in module.__dict__
    assert 1e-3 < result.suggestion < 10 and result.range[0] < result.range[1]
    assert len(result.losses) >= 30 and module.seen[:3] == [0, 1, 2]  # training_step got counted indices
    assert result.settings["precision"] == "32-true" and result.settings["accumulation_steps"] == 1


class Data(pl.LightningDataModule):
    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def prepare_data(self):
        self.calls.append("prepare_data")

    def setup(self, stage):
        self.calls.append(f"setup {stage}")
        self.train = _data(512)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.train, batch_size=32, shuffle=True)


class TwoOptimizers(Separable):
    def configure_optimizers(self):
        return [{"optimizer": torch.optim.SGD(self.net[0].parameters(), lr=0.01)},
                {"optimizer": torch.optim.Adam(self.net[4].parameters())}]


def test_find_lr_with_a_datamodule_and_the_trainers_settings():
    data, module = Data(), Separable()
    trainer = pl.Trainer(accumulate_grad_batches=2, precision="bf16-mixed", gradient_clip_val=1.0, **QUIET)
    result = lit.find_lr(trainer, module, data, num_iter=20)
    assert data.calls == ["prepare_data", "setup fit"]
    assert result.settings["accumulation_steps"] == 2 and len(module.seen) >= 2 * len(result.losses)
    assert any("bfloat16" in note for note in result.notes)
    assert any("gradient_clip_val=1.0" in note for note in result.notes)


def test_find_lr_uses_the_first_of_several_optimizers_and_says_so():
    module = TwoOptimizers()
    first_layer = module.net[0].weight.clone()
    result = lit.find_lr(pl.Trainer(**QUIET), module, Data(), num_iter=20)
    assert any("2 optimizers" in note and "SGD" in note for note in result.notes)
    assert torch.equal(module.net[0].weight, first_layer)


@pytest.mark.parametrize("form", ["optimizer", "list", "tuple", "dict", "lists", "dicts"])
def test_every_configure_optimizers_form_gives_its_optimizers(form):
    a = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    b = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    s = torch.optim.lr_scheduler.StepLR(a, 1)
    returned = {"optimizer": a, "list": [a, b], "tuple": (a,), "dict": {"optimizer": a, "lr_scheduler": s},
                "lists": ([a, b], [s]), "dicts": [{"optimizer": a, "lr_scheduler": s}, {"optimizer": b}]}[form]
    want = [a, b] if form in ("list", "lists", "dicts") else [a]
    assert lit._optimizers(returned) == want


def test_find_lr_refuses_what_it_cannot_run():
    class Manual(Separable):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

    class NoData(Separable):
        pass

    with pytest.raises(UserError, match="manual optimization"):
        lit.find_lr(pl.Trainer(**QUIET), Manual(), Data())
    with pytest.raises(UserError, match="no training data"):
        lit.find_lr(pl.Trainer(**QUIET), NoData())
    with pytest.raises(UserError, match="do not pass loss_fn"):
        lit.find_lr(pl.Trainer(**QUIET), Separable(), Data(), loss_fn=nn.functional.cross_entropy)
    with pytest.raises(UserError, match="must return an optimizer"):
        lit._optimizers("sgd")
    module = NoData()
    with pytest.raises(UserError, match="start_lr must be below end_lr"):
        lit.find_lr(pl.Trainer(**QUIET), module, Data(), start_lr=1.0, end_lr=0.1)
    assert module._trainer is None


# ---------------------------------------------------------------- without Lightning


def test_without_lightning_the_error_names_the_extra_and_lrscope_never_imports_it():
    code = (
        "import sys\n"
        "import lrscope, lrscope.integrations\n"
        "lrscope.find_lr, lrscope.ScheduleLR\n"
        "assert 'lightning' not in sys.modules and 'lightning.pytorch' not in sys.modules, 'imported lightning'\n"
        "sys.modules['lightning.pytorch'] = None\n"
        "try:\n"
        "    import lrscope.integrations.lightning\n"
        "except lrscope.UserError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert 'pip install "lrscope[lightning]"' in done.stdout and "lightning" in done.stdout
