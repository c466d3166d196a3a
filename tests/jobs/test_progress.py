"""Progress: the library layers call their ``progress(done, total, status)`` callback as the work goes (and
never draw), and the commands show one Rich bar on stderr when it is a terminal, none when it is not (no escape
codes; --json stdout stays one JSON document)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess

import pytest
import torch
from tests.conftest import LRSCOPE
from tests.train.tiny import TINY
from torch import nn

from lrscope.probes.curvature import top_eigenvalues
from lrscope.probes.finder import find_lr
from lrscope.probes.landscape import interpolate, line, plane
from lrscope.probes.whatif import whatif
from lrscope.train.config import TrainConfig
from lrscope.train.loop import train

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FIND = ("find", "--data", "synthetic:n=240,dim=8,classes=3", "--model", "mlp", "--num-iter", "20")


class Calls:
    """A progress callback that keeps what it was told."""

    def __init__(self):
        self.seen: list[tuple[int, int, str]] = []

    def __call__(self, done, total=None, status=""):
        self.seen.append((done, total, status))

    def check(self, total: int) -> None:
        assert self.seen, "progress was never called"
        done = [d for d, _, _ in self.seen]
        assert done == sorted(done), "progress went backwards"
        assert all(t == total for _, t, _ in self.seen)
        assert done[-1] == total


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def tiny_data(n=64):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


# ---------------------------------------------------------------- the library calls its callback


def test_the_range_test_reports_every_step_of_every_repeat():
    net = tiny_net()
    x, y = tiny_data()
    loader = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    calls = Calls()
    find_lr(net, torch.optim.SGD(net.parameters(), lr=1e-3), nn.CrossEntropyLoss(), loader, num_iter=12, end_lr=1.0,
            repeats=2, seed=0, progress=calls)
    calls.check(total=24)
    assert any(status.startswith("lr ") for _, _, status in calls.seen)


@pytest.mark.parametrize("kind", ["plane", "line", "interp"])
def test_a_landscape_slice_counts_its_points(kind):
    net, data, calls = tiny_net(), tiny_data(), Calls()
    if kind == "plane":
        plane(net, nn.CrossEntropyLoss(), data, steps=4, progress=calls)
        calls.check(total=16)
    elif kind == "line":
        line(net, nn.CrossEntropyLoss(), data, steps=5, mode="vmap", progress=calls)
        calls.check(total=5)
    else:
        interpolate(net, tiny_net(1), nn.CrossEntropyLoss(), data, steps=6, progress=calls)
        calls.check(total=6)


def test_the_eigenvalue_search_reports_each_hessian_vector_product():
    calls = Calls()
    eig = top_eigenvalues(tiny_net(), nn.CrossEntropyLoss(), tiny_data(), max_iter=20, progress=calls)
    assert [d for d, _, _ in calls.seen] == list(range(1, eig.hvp_count + 1))
    assert all(t == 20 for _, t, _ in calls.seen)


def test_the_train_loop_and_the_whatif_report_their_steps(tmp_path):
    calls = Calls()
    run = train(TrainConfig(**TINY), tmp_path / "run", progress=calls)
    steps = 3 * (192 // 32)  # 3 epochs of 192 training examples (240, a fifth held out) in batches of 32
    calls.check(total=steps)
    assert calls.seen[0][0] == 0 and calls.seen[-1][2].startswith("loss ")
    cut = Calls()
    whatif(run, 0.01, 2, steps=4, progress=cut)
    cut.check(total=8)  # 4 steps at the old rate, 4 at the new one


# ---------------------------------------------------------------- the commands draw it, on a terminal only


def run_with_stderr_on_a_terminal(args, cwd, width=100) -> tuple[int, str, str]:
    """Run lrscope with stderr on a pseudo-terminal (stdout a pipe); returns (exit code, stdout, stderr)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("LRSCOPE_DEBUG", "NO_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([str(LRSCOPE), *args], stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                            cwd=cwd, env=env)
    os.close(slave)
    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            err += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read().decode()
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, out, err.decode(errors="replace")


def test_find_draws_a_bar_with_a_labelled_time_on_a_terminal(tmp_path):
    code, out, err = run_with_stderr_on_a_terminal([*FIND, "--out", "f"], cwd=tmp_path)
    assert code == 0, err
    assert ESCAPE.search(err)  # a live display
    plain = ESCAPE.sub("", err)
    assert "find" in plain and "20/20" in plain and "took 0:" in plain
    assert not ESCAPE.search(out) and "suggested lr" in out  # results stay on stdout, unstyled on a pipe


def test_no_bar_and_one_json_document_when_nothing_is_a_terminal(tmp_path):
    done = subprocess.run([str(LRSCOPE), *FIND, "--out", "f", "--json"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env={k: v for k, v in os.environ.items()
                                                          if k not in ("LRSCOPE_DEBUG", "FORCE_COLOR")})
    assert done.returncode == 0, done.stderr
    assert not ESCAPE.search(done.stderr) and "20/20" not in done.stderr and "elapsed" not in done.stderr
    assert json.loads(done.stdout)["schema"].startswith("lrscope.finder/")
