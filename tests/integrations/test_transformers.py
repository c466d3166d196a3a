"""lrscope.integrations.transformers with a real transformers.Trainer on CPU: tiny models built in code."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402
import transformers  # noqa: E402
from torch import nn  # noqa: E402

from lrscope.errors import UserError  # noqa: E402
from lrscope.integrations.transformers import LRScopeCallback, find_lr  # noqa: E402
from lrscope.schedules import parse_schedule  # noqa: E402
from lrscope.schedules.torch import ScheduleLR  # noqa: E402

N, BATCH = 256, 32  # 8 optimizer steps per epoch
STAIRCASE = "multistep(0.1, milestones=[16])"


def _points():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 4, generator=g)
    return x, (x[:, 0] > 0).long()


class Points(torch.utils.data.Dataset):
    def __init__(self):
        self.x, self.y = _points()

    def __len__(self):
        return N

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


class Tokens(torch.utils.data.Dataset):
    """Dict batches for a BERT classifier: the label is whether token 7 occurs in the sequence."""

    def __init__(self, n=64, length=8):
        g = torch.Generator().manual_seed(1)
        self.ids = torch.randint(0, 50, (n, length), generator=g)
        self.labels = (self.ids == 7).any(dim=1).long()

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]), "labels": self.labels[i]}


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Linear(4, 2)

    def forward(self, x=None, labels=None):
        logits = self.net(x)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


def _bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, max_position_embeddings=16)
    return transformers.BertForSequenceClassification(config)


def _args(out, **options):
    settings = dict(num_train_epochs=4, per_device_train_batch_size=BATCH, logging_steps=4, report_to=[],
                    save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0)
    settings.update(options)
    return transformers.TrainingArguments(str(out), **settings)


def _scheduled(model, spec=STAIRCASE):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return optimizer, ScheduleLR(optimizer, parse_schedule(spec), unit="step")


def _records(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, filter(None, lines)) if r.get("kind") == kind]


class RateWitness(transformers.TrainerCallback):
    """The rate in the optimizer just before each optimizer.step(): what that step really used."""

    def __init__(self):
        self.used = {}

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.used[state.global_step + 1] = optimizer.param_groups[0]["lr"]


def _train(out, model, *, callbacks, trainer_class=transformers.Trainer, optimizers=(None, None), resume=None,
           quiet=True, **options):
    trainer = trainer_class(model=model, args=_args(out / "hf", **options), train_dataset=Points(),
                            eval_dataset=Points(), optimizers=optimizers, callbacks=callbacks)
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        trainer.train(resume_from_checkpoint=resume)
    return trainer


# ---------------------------------------------------------------- a staircase per step


@pytest.fixture(scope="module")
def staircase(tmp_path_factory):
    out = tmp_path_factory.mktemp("staircase")
    model = Tiny()
    witness = RateWitness()
    trainer = _train(out, model, callbacks=[LRScopeCallback(out / "run"), witness], optimizers=_scheduled(model),
                     eval_strategy="epoch")
    return out / "run", trainer, witness


def test_step_records_hold_the_rate_each_step_used(staircase):
    run, _, witness = staircase
    steps = _records(run, "step")
    schedule = parse_schedule(STAIRCASE)
    assert [r["step"] for r in steps] == [4, 8, 12, 16, 20, 24, 28, 32]
    for r in steps:
        assert r["lr"] == pytest.approx(schedule(r["step"] - 1), rel=1e-12)
        assert r["lr"] == pytest.approx(witness.used[r["step"]], rel=1e-12)
        assert r["epoch"] == pytest.approx(r["step"] / 8)
        assert math.isfinite(r["loss"]) and "grad_norm" in r and "logged_learning_rate" in r
    assert all(r["lr"] == pytest.approx(0.1) for r in steps if r["step"] <= 16)
    assert all(r["lr"] == pytest.approx(0.01) for r in steps if r["step"] >= 17)


def test_epoch_records_carry_first_rate_mean_loss_and_evaluation(staircase):
    run, trainer, _ = staircase
    epochs = _records(run, "epoch")
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert [r["step"] for r in epochs] == [8, 16, 24, 32]
    assert [r["lr"] for r in epochs] == pytest.approx([0.1, 0.1, 0.01, 0.01])
    steps = _records(run, "step")
    for r in epochs:
        own = [s["loss"] for s in steps if r["step"] - 8 < s["step"] <= r["step"]]
        assert r["train_loss"] == pytest.approx(sum(own) / len(own))
    evaluated = {h["step"]: h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h}
    assert [r["val_loss"] for r in epochs] == pytest.approx([evaluated[s] for s in (8, 16, 24, 32)])
    assert all("eval_runtime" in r and "eval_loss" not in r for r in epochs)


def test_config_holds_training_args_and_the_spec(staircase):
    run, _, _ = staircase
    config = json.loads((run / "config.json").read_text())
    assert config["source"] == "transformers" and config["model"] == "Tiny" and config["optimizer"] == "SGD"
    assert config["schedule"] == parse_schedule(STAIRCASE).spec and config["step_unit"] == "step"
    args = config["training_args"]
    assert args["per_device_train_batch_size"] == BATCH and args["logging_steps"] == 4
    assert args["num_train_epochs"] == 4 and args["gradient_accumulation_steps"] == 1 and args["world_size"] == 1
    assert args["lr_scheduler_type"] == "linear" and "warmup_steps" in args and "seed" in args
    assert config["versions"]["transformers"] == transformers.__version__


def test_explain_finds_the_decay(staircase):
    run, _, _ = staircase
    written = json.loads((run / "explain.json").read_text())
    done = subprocess.run([sys.executable, "-m", "lrscope", "explain", str(run), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == written["schema"]
    unit = doc["source"]["x_name"]
    decays = [float(e["x"]) for e in doc["events"]
              if e.get("lr_before") and e.get("lr_after") and e["lr_after"] < e["lr_before"]]
    assert decays
    assert all((unit == "epoch" and x == 3) or (unit == "step" and 17 <= x <= 20) for x in decays), (unit, decays)


# ---------------------------------------------------------------- rates, whatever is logged


class NextRateLogger(transformers.Trainer):
    """Logs the rate of the *next* step, as transformers before 4.46 did."""

    def log(self, logs, start_time=None):
        if "learning_rate" in logs:
            logs["learning_rate"] = self.lr_scheduler.get_last_lr()[0]
        super().log(logs, start_time)


def test_recorded_rate_ignores_what_is_logged(tmp_path):
    model = Tiny()
    spec = "multistep(0.1, milestones=[3])"
    _train(tmp_path, model, callbacks=[LRScopeCallback(tmp_path / "run", explain=False)], trainer_class=NextRateLogger,
           optimizers=_scheduled(model, spec), num_train_epochs=1, logging_steps=1)
    steps = {r["step"]: r for r in _records(tmp_path / "run", "step")}
    assert sorted(steps) == list(range(1, 9))
    assert all(r["lr"] == pytest.approx(parse_schedule(spec)(s - 1)) for s, r in steps.items())
    assert steps[3]["lr"] == pytest.approx(0.1) and steps[3]["logged_learning_rate"] == pytest.approx(0.01)


def test_default_hf_schedule_records_what_the_scheduler_gave(tmp_path):
    witness = RateWitness()
    _train(tmp_path, Tiny(), callbacks=[LRScopeCallback(tmp_path / "run", explain=False), witness],
           num_train_epochs=2, logging_steps=1, learning_rate=0.05, lr_scheduler_type="linear", warmup_steps=4,
           optim="sgd")
    steps = _records(tmp_path / "run", "step")
    assert [r["step"] for r in steps] == list(range(1, 17))
    assert [r["lr"] for r in steps] == pytest.approx([witness.used[s] for s in range(1, 17)], rel=1e-12)
    assert len({round(r["lr"], 12) for r in steps}) > 10  # warm-up then linear decay: the rates do move
    epochs = _records(tmp_path / "run", "epoch")
    assert [r["lr"] for r in epochs] == pytest.approx([witness.used[8], witness.used[16]])  # each epoch's last step
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["scheduler"] == "LambdaLR" and "schedule" not in config


def test_evaluation_at_an_epochs_last_step_lands_in_its_record(tmp_path):
    trainer = _train(tmp_path, Tiny(), callbacks=[LRScopeCallback(tmp_path / "run", explain=False)],
                     num_train_epochs=2, eval_strategy="steps", eval_steps=4)
    evaluated = {h["step"]: h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h}
    assert sorted(evaluated) == [4, 8, 12, 16]
    epochs = _records(tmp_path / "run", "epoch")
    assert [r["val_loss"] for r in epochs] == pytest.approx([evaluated[8], evaluated[16]])


# ---------------------------------------------------------------- what is refused, what is continued


def test_existing_run_refused_before_any_step(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    before = b'{"kind": "epoch", "epoch": 1, "lr": 0.1, "train_loss": 1.0}\n'
    (run / "metrics.jsonl").write_bytes(before)
    witness = RateWitness()
    model = Tiny()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError, match="already holds a run"):
        _train(tmp_path, model, callbacks=[LRScopeCallback(run), witness])
    assert witness.used == {}
    assert sorted(p.name for p in run.iterdir()) == ["metrics.jsonl"]
    assert (run / "metrics.jsonl").read_bytes() == before
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


def test_run_dir_may_not_be_the_output_dir(tmp_path):
    with pytest.raises(UserError, match="output_dir"):
        _train(tmp_path, Tiny(), callbacks=[LRScopeCallback(tmp_path / "hf")])


def test_resumed_trainer_continues_the_run_without_duplicates(tmp_path):
    run = tmp_path / "run"

    def train(resume=None):
        model = Tiny()
        return _train(tmp_path, model, callbacks=[LRScopeCallback(run, explain=False)], optimizers=_scheduled(model),
                      num_train_epochs=3, save_strategy="steps", save_steps=12, resume=resume)

    train()
    whole_steps = [(r["step"], r["lr"]) for r in _records(run, "step")]
    whole_epochs = _records(run, "epoch")
    train(resume=str(tmp_path / "hf" / "checkpoint-12"))  # epoch 2, half-way
    steps = [(r["step"], r["lr"]) for r in _records(run, "step")]
    epochs = _records(run, "epoch")
    assert steps == whole_steps  # records after step 12 were cut and redone, once each
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert [r["lr"] for r in epochs] == pytest.approx([r["lr"] for r in whole_epochs])
    assert epochs[0] == whole_epochs[0]
    # epoch 2's mean loss takes in its step 12, recorded before the checkpoint (the Trainer resumes exactly)
    assert epochs[1]["train_loss"] == pytest.approx(whole_epochs[1]["train_loss"])


def test_only_the_main_process_writes(tmp_path):
    callback = LRScopeCallback(tmp_path / "run")
    args = _args(tmp_path / "hf")
    state = transformers.TrainerState(is_world_process_zero=False, global_step=0, epoch=0.0)
    control = transformers.TrainerControl()
    optimizer = torch.optim.SGD(Tiny().parameters(), lr=0.1)
    callback.on_train_begin(args, state, control, model=Tiny(), optimizer=optimizer)
    callback.on_epoch_begin(args, state, control)
    callback.on_step_begin(args, state, control, optimizer=optimizer)
    state.global_step, state.epoch = 1, 1.0
    callback.on_log(args, state, control, logs={"loss": 0.5, "learning_rate": 0.1})
    callback.on_epoch_end(args, state, control)
    callback.on_train_end(args, state, control)
    assert not (tmp_path / "run").exists()


def test_a_schedule_in_epochs_is_said_to_count_steps(tmp_path):
    model = Tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, parse_schedule("multistep(0.1, milestones=[2])"), unit="epoch")
    with pytest.warns(UserWarning, match="counts steps"):
        _train(tmp_path, model, callbacks=[LRScopeCallback(tmp_path / "run", explain=False)],
               optimizers=(optimizer, scheduler), max_steps=2, quiet=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["step_unit"] == "step"


def test_a_failed_explain_warns_and_training_ends(tmp_path, monkeypatch):
    import lrscope.jobs.explain

    def refuse(run_dir):
        raise UserError("no rate column")

    monkeypatch.setattr(lrscope.jobs.explain, "explain_run", refuse)
    with pytest.warns(UserWarning, match="could not explain .*no rate column"):
        trainer = _train(tmp_path, Tiny(), callbacks=[LRScopeCallback(tmp_path / "run")], max_steps=3,
                         logging_steps=1, quiet=False)
    assert trainer.state.global_step == 3
    assert [r["step"] for r in _records(tmp_path / "run", "step")] == [1, 2, 3]
    assert not (tmp_path / "run" / "explain.json").exists()


def test_report_written_when_asked(tmp_path):
    _train(tmp_path, Tiny(), callbacks=[LRScopeCallback(tmp_path / "run", report=True)], num_train_epochs=3)
    assert (tmp_path / "run" / "report.html").stat().st_size > 0
    assert (tmp_path / "run" / "explain.json").is_file()


# ---------------------------------------------------------------- the range test


class CountingTrainer(transformers.Trainer):
    calls = 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        CountingTrainer.calls += 1
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)


def _bert_trainer(tmp_path, **options):
    return CountingTrainer(model=_bert(), args=_args(tmp_path / "hf", per_device_train_batch_size=8, **options),
                           train_dataset=Tokens())


def test_find_lr_on_bert_restores_everything(tmp_path):
    trainer = _bert_trainer(tmp_path, gradient_accumulation_steps=2)
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    CountingTrainer.calls = 0
    result = find_lr(trainer, start_lr=1e-5, end_lr=1.0, num_iter=12, smooth=0.5)
    assert trainer.optimizer is None
    assert CountingTrainer.calls == 12 * 2  # the Trainer's own compute_loss, once a micro-batch
    assert result.settings["accumulation_steps"] == 2 and len(result.losses) == 12
    assert math.isfinite(result.suggestion) and 1e-5 <= result.suggestion <= 1.0
    now = trainer.model.state_dict()
    assert all(torch.equal(v, now[k]) for k, v in weights.items())
    assert all(p.grad is None for p in trainer.model.parameters())


def test_find_lr_keeps_the_trainers_own_optimizer(tmp_path):
    trainer = _bert_trainer(tmp_path)
    optimizer = trainer.create_optimizer()
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    find_lr(trainer, start_lr=1e-5, end_lr=1.0, num_iter=10, smooth=0.5)
    assert trainer.optimizer is optimizer
    assert [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups] == groups
    assert not optimizer.state


def test_find_lr_refuses_what_is_not_a_trainer():
    with pytest.raises(UserError, match="transformers.Trainer"):
        find_lr(object())


# ---------------------------------------------------------------- without transformers


def test_without_transformers_the_error_names_the_extra():
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "import lrscope\n"
        "from lrscope.errors import UserError\n"
        "try:\n"
        "    import lrscope.integrations.transformers\n"
        "except UserError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'pip install "lrscope[transformers]"' in done.stdout


def test_importing_lrscope_does_not_import_transformers():
    code = "import sys, lrscope, lrscope.integrations; print('transformers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
