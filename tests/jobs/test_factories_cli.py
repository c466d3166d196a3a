"""Your own model and data on the command line: train, find, compare, and the probes (whatif, landscape,
sharpness) on a run built by your code or on your own checkpoint; a run directory that names code is never made
to import it."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import torch

from lrscope.cli import main

MODULE = textwrap.dedent("""
    import math
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    print("hello from the user's module")  # must never reach stdout: --json owns it

    def make(input_shape, num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 16), nn.ReLU(), nn.Linear(16, num_classes))

    def load():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(96, 6, generator=g)
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
        return TensorDataset(x[:80], y[:80]), TensorDataset(x[80:], y[80:])
""")


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A fresh module of the user's in the working directory (tmp_path); returns (name, run_cli)."""
    monkeypatch.chdir(tmp_path)
    name = f"mine_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    yield name
    sys.modules.pop(name, None)


def run(*args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``lrscope ARGS`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
    return code, out.getvalue(), err.getvalue()


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err and err.count("lrscope: error:") == 1, err
    return err


def files_of(path: Path) -> dict:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(path.rglob("*")) if p.is_file()}


def train_run(name: str, out: str = "run", epochs: int = 2):
    code, stdout, err = run("train", "--data", f"{name}:load", "--model", f"{name}:make", "--schedule",
                            "multistep(0.1, milestones=[1])", "--epochs", epochs, "--batch-size", 16,
                            "--threads", 1, "--out", out)
    assert code == 0, err
    return Path(out)


# ---------------------------------------------------------------- train, find, compare


def test_train_from_the_console_script_records_the_factories_and_resumes_with_them(cli, tmp_path):
    (tmp_path / "mymodels.py").write_text(MODULE)
    base = ["train", "--data", "mymodels:load", "--model", "mymodels:make", "--schedule", "constant(0.1)",
            "--batch-size", "16", "--threads", "1", "--out", "run"]
    first = cli(*base, "--epochs", "1", cwd=tmp_path)  # the installed script: sys.path[0] is not the directory
    assert first.returncode == 0, first.stderr
    assert "hello from the user's module" in first.stderr and "hello" not in first.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "mymodels:make" and config["data"] == "mymodels:load"
    assert config["data_info"]["n_train"] == 80 and config["data_info"]["num_classes"] == 3
    resumed = cli(*base, "--epochs", "2", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
              if '"kind": "epoch"' in line]
    assert epochs == [1, 2]


def test_find_and_compare_take_the_factories(user):
    code, stdout, err = run("find", "--data", f"{user}:load", "--model", f"{user}:make", "--num-iter", 10,
                            "--batch-size", 16, "--out", "f", "--json")
    assert code == 0, err
    assert json.loads(stdout)["schema"].startswith("lrscope.finder")  # stdout is the JSON alone
    assert json.loads(Path("f/finder.json").read_text())["config"]["model"] == f"{user}:make"
    code, stdout, err = run("compare", "constant(0.1)", "constant(0.02)", "--data", f"{user}:load", "--model",
                            f"{user}:make", "--epochs", 1, "--batch-size", 16, "--out", "c", "--json")
    assert code == 0, err
    assert len(json.loads(stdout)["runs"]) == 2


def test_a_factory_that_fails_is_one_line_and_nothing_is_written(user):
    for model, match in [(f"{user}:nope", "has no attribute 'nope'; its callables: make, load"),
                         ("not_a_module_zz:make", "no module named 'not_a_module_zz'")]:
        code, _, err = run("train", "--data", f"{user}:load", "--model", model, "--schedule", "constant(0.1)",
                           "--epochs", 1, "--out", "x")
        assert match in one_line_error(code, err)
        assert not Path("x").exists()


# ---------------------------------------------------------------- a run built by your code


def test_the_probes_of_a_factory_run_need_the_same_factories(user):
    run_dir = train_run(user)
    needs = ["--model", f"{user}:make", "--data", f"{user}:load"]
    probes = [["whatif", run_dir, "--to", "0.001", "--steps", 4],
              ["landscape", run_dir, "--kind", "line", "--steps", 3, "--samples", 16, "--out", "l.png"],
              ["sharpness", run_dir, "--samples", 16, "--out", "s.png"]]
    for args in probes:
        err = one_line_error(*run(*args)[::2])
        assert f"run's model was built by {user}:make and its data by {user}:load (your code); lrscope never " \
               f"imports code named by a run directory: pass --model {user}:make --data {user}:load" in err
        code, stdout, err = run(*args, *needs, "--json")
        assert code == 0, err
        json.loads(stdout)
    assert (run_dir / "probes" / "landscape-line.json").is_file() and (run_dir / "probes" / "sharpness.json").is_file()


EVIL = textwrap.dedent("""
    import pathlib
    pathlib.Path(__file__).with_name("IMPORTED").write_text("the run directory made lrscope import me")
    def make(input_shape, num_classes):
        raise SystemExit("never")
""")


def _name_in_run(run_dir: Path, model: str) -> None:
    """Make a run's config.json and every checkpoint's config say ``model`` (as a shared run could)."""
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "model": model}))
    for path in (run_dir / "checkpoints").glob("*.pt"):
        state = torch.load(path, weights_only=True)
        state["config"]["model"] = model
        torch.save(state, path)


def test_a_run_directory_naming_a_module_never_gets_it_imported(user, tmp_path):
    run_dir = train_run(user)
    evil = f"evil_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{evil}.py").write_text(EVIL)
    _name_in_run(run_dir, f"{evil}:make")
    before = files_of(run_dir)
    attempts = [["whatif", run_dir, "--to", "0.001", "--steps", 4, "--data", f"{user}:load"],
                ["landscape", run_dir, "--kind", "trajectory", "--steps", 3, "--samples", 16, "--out", "l.png",
                 "--data", f"{user}:load"],
                ["landscape", run_dir, "--kind", "interp", "--steps", 3, "--samples", 16, "--out", "l.png",
                 "--data", f"{user}:load"],
                ["sharpness", run_dir, "--all", "--samples", 16, "--out", "s.png", "--data", f"{user}:load"],
                ["train", "--out", run_dir, "--resume", "--epochs", 3, "--data", f"{user}:load"]]
    for args in attempts:
        err = one_line_error(*run(*args)[::2])
        assert f"was built by {evil}:make (your code); lrscope never imports code named by a run directory" in err
        err = one_line_error(*run(*args, "--model", f"{user}:make")[::2])
        assert f"was built by {evil}:make (your code), but --model says {user}:make" in err
    assert not (tmp_path / "IMPORTED").exists() and evil not in sys.modules
    assert files_of(run_dir) == before


# ---------------------------------------------------------------- your own checkpoint


@pytest.fixture
def weights(user, tmp_path):
    """A state_dict of the user's model saved to weights.pt (any weights will do)."""
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__(user)
    finally:
        sys.path.remove(str(tmp_path))
    torch.manual_seed(1)
    torch.save(module.make((6,), 3).state_dict(), tmp_path / "weights.pt")
    return tmp_path / "weights.pt"


def test_sharpness_landscape_and_whatif_of_your_checkpoint(user, weights, tmp_path):
    given = ["--checkpoint", weights, "--model", f"{user}:make", "--data", f"{user}:load"]
    before = files_of(weights)
    code, stdout, err = run("sharpness", *given, "--lr", 0.1, "--samples", 32, "--out", "s.png", "--json")
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["checkpoint"] == str(weights) and doc["checkpoints"][0]["eos_2_over_lr"] == pytest.approx(20.0)
    assert doc["checkpoints"][0]["sharpness"] > 0 and "--momentum 0.9 (the default" in err
    assert json.loads(Path("s.json").read_text())["checkpoints"] == doc["checkpoints"] and Path("s.npz").is_file()
    code, stdout, err = run("landscape", *given, "--kind", "line", "--steps", 3, "--samples", 16, "--out", "l.png")
    assert code == 0, err
    assert json.loads(Path("l.json").read_text())["provenance"]["checkpoint"] == str(weights)
    torch.manual_seed(2)
    other = tmp_path / "other.pt"
    torch.save({"model_state_dict": sys.modules[user].make((6,), 3).state_dict()}, other)
    code, _, err = run("landscape", *given, "--checkpoint-b", other, "--kind", "interp", "--steps", 3, "--samples",
                       16, "--out", "i.png")
    assert code == 0, err
    code, stdout, err = run("whatif", *given, "--lr", 0.1, "--to", 0.01, "--steps", 4, "--out", "w.json")
    assert code == 0, err
    result = json.loads(Path("w.json").read_text())
    assert result["lr_from"] == 0.1 and result["lr_to"] == 0.01 and result["checkpoint"] == str(weights)
    assert len(result["old_rate_losses"]) == 4 and result["predicted_drop"] is None
    assert files_of(weights) == before


@pytest.mark.parametrize("args, match", [
    (["sharpness", "RUN", "--checkpoint", "weights.pt", "--out", "s.png"], "give RUN or --checkpoint PATH, not both"),
    (["sharpness", "--out", "s.png"], "needs RUN (a run directory written by lrscope train) or --checkpoint"),
    (["sharpness", "--checkpoint", "weights.pt", "--model", "{m}:make", "--out", "s.png"], "--checkpoint needs --data"),
    (["sharpness", "--checkpoint", "weights.pt", "--model", "{m}:make", "--data", "{m}:load", "--all", "--out",
      "s.png"], "--all is for a run directory"),
    (["sharpness", "--checkpoint", "weights.pt", "--model", "{m}:make", "--data", "{m}:load", "--out", "s.png"],
     "give --lr, the learning rate the checkpoint trains at"),
    (["whatif", "RUN", "--to", "0.01", "--lr", "0.1"], "--lr goes with --checkpoint"),
    (["landscape", "--checkpoint", "weights.pt", "--model", "{m}:make", "--data", "{m}:load", "--kind",
      "trajectory", "--out", "l.png"], "--kind trajectory needs a run directory"),
    (["landscape", "--checkpoint", "weights.pt", "--model", "{m}:make", "--data", "{m}:load", "--kind", "interp",
      "--out", "l.png"], "needs --checkpoint-b PATH"),
    (["landscape", "--checkpoint", "weights.pt", "--model", "{m}:make", "--data", "{m}:load", "--out",
      "weights.json"], "cannot write .json"),
])
def test_what_does_not_go_together_is_one_line(user, weights, tmp_path, args, match):
    (tmp_path / "RUN").mkdir()
    code, _, err = run(*[a.format(m=user) for a in args])
    assert match in one_line_error(code, err)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["RUN", f"{user}.py", "weights.pt"]
