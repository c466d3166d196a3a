"""The reference runner: data, models, the loop, determinism, resume, divergence, bad input, restore, plot."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lrscope.errors import UserError
from lrscope.logs.rundir import METRICS, read_metrics
from lrscope.train import checkpoint as ckpt
from lrscope.train.data import load_data
from lrscope.train.loop import TrainConfig, TrainingDiverged, epoch_batches, train
from lrscope.train.models import build_model
from lrscope.train.restore import load_run

TINY = dict(
    data="synthetic:n=240,dim=8,classes=3",
    model="mlp",
    schedule="multistep(0.1, milestones=[2])",
    epochs=3,
    batch_size=32,
    threads=1,
)


def epochs_without_time(run):
    return [{k: v for k, v in r.items() if "time" not in k} for r in read_metrics(run, "epoch")]


def all_records(run):
    out = []
    for line in (run / METRICS).read_text().splitlines():
        r = json.loads(line)
        out.append({k: v for k, v in r.items() if "time" not in k})
    return out


# ---------------------------------------------------------------- data and models


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


@pytest.mark.parametrize("name", ["cnn", "mlp", "resnet20"])
def test_models_take_8x8_digits(name):
    model = build_model(name, (1, 8, 8), 10)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_resnet_depths_and_parameter_count_follow_the_paper():
    counts = {
        n: sum(p.numel() for p in build_model(n, (3, 32, 32), 10).parameters())
        for n in ("resnet20", "resnet32", "resnet56")
    }
    # He et al. 2016, table 6: 0.27M, 0.46M, 0.85M
    assert abs(counts["resnet20"] / 0.27e6 - 1) < 0.03
    assert abs(counts["resnet32"] / 0.46e6 - 1) < 0.03
    assert abs(counts["resnet56"] / 0.85e6 - 1) < 0.03


def test_unknown_model_and_wrong_input_kind_are_user_errors():
    with pytest.raises(UserError, match="cnn, mlp, resnet20"):
        build_model("vgg", (1, 8, 8), 10)
    with pytest.raises(UserError, match="use --model mlp"):
        build_model("cnn", (8,), 10)


# ---------------------------------------------------------------- batches


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


# ---------------------------------------------------------------- the loop


def test_a_run_writes_config_metrics_and_checkpoints(tmp_path):
    run = train(TrainConfig(**TINY), tmp_path / "run")
    epochs = read_metrics(run, "epoch")
    steps = read_metrics(run, "step")
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert [r["lr"] for r in epochs] == pytest.approx([0.1, 0.1, 0.01])
    for key in ("step", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s"):
        assert all(isinstance(r[key], (int, float)) for r in epochs), key
    assert len(steps) == epochs[-1]["step"] == 3 * 6
    assert steps[5]["epoch"] == pytest.approx(1.0) and steps[6]["lr"] == pytest.approx(0.1)
    assert epochs[0]["train_loss"] == pytest.approx(np.mean([s["loss"] for s in steps[:6]]), rel=0.05)
    assert sorted(ckpt.list_checkpoints(run)) == [0, 1, 2, 3]
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 0 and config["schedule"] == TINY["schedule"] and "torch" in config["versions"]
    assert TrainConfig.from_dict(config) == TrainConfig(**TINY)


def test_per_step_schedule_and_adamw_with_onecycle_momentum(tmp_path):
    config = TrainConfig(
        **{**TINY, "schedule": "onecycle(0.01, total=18)", "step_unit": "step", "optimizer": "adamw"}
    )
    run = train(config, tmp_path / "run")
    from lrscope.schedules import parse_schedule

    s = parse_schedule(config.schedule)
    assert [r["lr"] for r in read_metrics(run, "step")] == pytest.approx([float(s(t)) for t in range(18)])
    state = ckpt.load_checkpoint(ckpt.list_checkpoints(run)[3])
    assert state["optimizer"]["param_groups"][0]["betas"][0] == pytest.approx(float(s.momentum(17)))


def test_same_seed_same_bits_other_seed_other_bits(tmp_path):
    a = train(TrainConfig(**TINY), tmp_path / "a")
    b = train(TrainConfig(**TINY), tmp_path / "b")
    c = train(TrainConfig(**{**TINY, "seed": 1}), tmp_path / "c")
    assert all_records(a) == all_records(b)
    assert epochs_without_time(a) != epochs_without_time(c)


def test_stop_then_resume_equals_the_uninterrupted_run(tmp_path):
    ref = train(TrainConfig(**{**TINY, "augment": True, "label_noise": 0.1}), tmp_path / "ref")
    part = train(TrainConfig(**{**TINY, "augment": True, "label_noise": 0.1, "epochs": 1}), tmp_path / "part")
    # a crash after epoch 2's records but before its checkpoint, with a torn line at the end
    with open(part / METRICS, "ab") as f:
        f.write(b'{"kind": "epoch", "epoch": 2, "lr": 0.1, "train_loss": 9.9}\n{"kind": "step", "st')
    train(TrainConfig(**{**TINY, "augment": True, "label_noise": 0.1}), part, resume=True)
    assert all_records(part) == all_records(ref)


def test_resume_without_checkpoint_starts_from_scratch(tmp_path):
    ref = train(TrainConfig(**TINY), tmp_path / "ref")
    fresh = train(TrainConfig(**TINY), tmp_path / "new", resume=True)
    assert all_records(fresh) == all_records(ref)


def test_resume_with_other_settings_is_refused(tmp_path):
    run = train(TrainConfig(**{**TINY, "epochs": 1}), tmp_path / "run")
    with pytest.raises(UserError, match="batch_size"):
        train(TrainConfig(**{**TINY, "batch_size": 16}), run, resume=True)


def test_hooks_see_the_state_and_add_to_records(tmp_path):
    class Hook:
        def __init__(self):
            self.started = False
            self.steps = []

        def on_start(self, state):
            self.started = state.step == 0 and state.model is not None

        def after_step(self, state):
            self.steps.append(state.step)
            assert all(p.grad is not None for p in state.model.parameters())
            state.extra["probe"] = state.step * 2

        def on_epoch_end(self, state, record):
            record["hook_epoch"] = state.epoch

    hook = Hook()
    run = train(TrainConfig(**TINY), tmp_path / "run", hooks=[hook])
    assert hook.started and hook.steps == list(range(1, 19))
    assert [r["probe"] for r in read_metrics(run, "step")] == [2 * s for s in range(1, 19)]
    assert [r["hook_epoch"] for r in read_metrics(run, "epoch")] == [1, 2, 3]


def test_a_nan_loss_stops_the_run_and_keeps_log_and_checkpoint(tmp_path):
    config = TrainConfig(**{**TINY, "schedule": "multistep(1e9, milestones=[100])", "momentum": 0.0})
    with pytest.raises(TrainingDiverged, match="diverged"):
        train(config, tmp_path / "run")
    steps = read_metrics(tmp_path / "run", "step")
    assert steps and steps[-1]["loss"] is None
    assert 0 in ckpt.list_checkpoints(tmp_path / "run")


def test_load_run_restores_a_checkpoint(tmp_path):
    run = train(TrainConfig(**TINY), tmp_path / "run")
    loaded = load_run(run, epoch=2)
    state = ckpt.load_checkpoint(ckpt.list_checkpoints(run)[2])
    assert loaded.epoch == 2 and loaded.step == 12 and loaded.lr == pytest.approx(0.1)
    assert all(torch.equal(a, state["model"][k]) for k, a in loaded.model.state_dict().items())
    assert load_run(run).epoch == 3 and load_run(run).lr == pytest.approx(0.01)
    with pytest.raises(UserError, match="no checkpoint for epoch 7"):
        load_run(run, epoch=7)


def test_plot_writes_a_png(tmp_path):
    from lrscope.viz.curves import lr_changes, plot_run

    run = train(TrainConfig(**TINY), tmp_path / "run")
    out = plot_run(run, tmp_path / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert lr_changes(np.array([0.1, 0.1, 0.01, 0.01, 0.1])).tolist() == [2, 4]


# ---------------------------------------------------------------- the command line


def test_cli_bad_input_exits_2_with_one_line(cli, tmp_path):
    base = ["train", "--schedule", "constant(0.1)", "--epochs", "1"]
    for extra, match in [
        (["--data", "imagenet", "--model", "mlp"], "unknown data set"),
        (["--data", "digits", "--model", "mlp", "--schedule", "constnt(0.1)"], "constant"),
    ]:
        result = cli(*base, *extra, "--out", tmp_path / "x")
        assert result.returncode == 2, result.stderr
        assert match in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(model="vgg"), "unknown model"),
        (dict(data="npz:/no/where.npz"), "does not exist"),
        (dict(optimizer="lion"), "optimizer must be"),
        (dict(epochs=0), "epochs must be"),
        (dict(schedule=None), "needs --schedule"),
        (dict(nesterov=True, momentum=0.0), "--nesterov"),
    ],
)
def test_bad_options_are_user_errors_and_create_nothing(tmp_path, options, match):
    from lrscope.train.command import train_command

    given = {"data": "digits", "model": "mlp", "schedule": "constant(0.1)", "epochs": 1, **options}
    with pytest.raises(UserError, match=match):
        train_command(given, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_refuses_an_existing_directory_and_touches_nothing(cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()}
    result = cli(
        "train",
        "--data",
        "digits",
        "--model",
        "mlp",
        "--schedule",
        "constant(0.1)",
        "--epochs",
        "1",
        "--out",
        run,
    )
    assert result.returncode == 2 and "--resume" in result.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()} == before


def test_cli_nan_exits_2(cli, tmp_path):
    result = cli(
        "train",
        "--data",
        TINY["data"],
        "--model",
        "mlp",
        "--schedule",
        "constant(1e9)",
        "--momentum",
        "0",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--out",
        tmp_path / "run",
    )
    assert result.returncode == 2 and "diverged" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "run" / METRICS).exists()


def test_sigkill_mid_run_then_resume_matches(cli, tmp_path):
    """A real kill -9 of the command line while it trains, then --resume: the epoch records are the same."""
    args = [
        "train",
        "--data",
        "digits",
        "--model",
        "mlp",
        "--schedule",
        "multistep(0.05, milestones=[4])",
        "--epochs",
        "6",
        "--batch-size",
        "32",
        "--threads",
        "1",
    ]
    train(
        TrainConfig(
            data="digits",
            model="mlp",
            schedule="multistep(0.05, milestones=[4])",
            epochs=6,
            batch_size=32,
            threads=1,
        ),
        tmp_path / "ref",
    )  # in-process: the same bits as the CLI
    lrscope = os.path.join(os.path.dirname(sys.executable), "lrscope")
    proc = subprocess.Popen(
        [lrscope, *args, "--out", str(tmp_path / "k")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(read_metrics(tmp_path / "k", "epoch")) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(read_metrics(tmp_path / "k", "epoch"))
    resumed = cli(*args, "--out", tmp_path / "k", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert 1 <= done <= 6
    assert epochs_without_time(tmp_path / "k") == epochs_without_time(tmp_path / "ref")
    assert all_records(tmp_path / "k") == all_records(tmp_path / "ref")


def test_python_dash_m_lrscope_train_works(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lrscope",
            "train",
            "--data",
            TINY["data"],
            "--model",
            "mlp",
            "--schedule",
            "constant(0.05)",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(read_metrics(tmp_path / "run", "epoch")) == 1


def test_train_gives_back_the_callers_torch_settings(tmp_path):
    """A run sets its own thread count and deterministic algorithms; a notebook that trains keeps its own."""
    import torch

    from lrscope.train.loop import TrainConfig, train

    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(2)
    try:
        train(TrainConfig(data="synthetic:n=120,dim=4,classes=2", model="mlp", schedule="constant(0.1)", epochs=1,
                          threads=1), tmp_path / "run")
        assert torch.get_num_threads() == 2 and torch.are_deterministic_algorithms_enabled() == before[1]
    finally:
        torch.set_num_threads(before[0])
