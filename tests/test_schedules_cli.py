"""`lrscope schedule`: table, --json, --plot, bad input, and no torch import."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lrscope.schedules import parse_schedule


def test_json_is_the_exact_rates(cli):
    spec = "warmup(3, multistep(0.1, milestones=[5, 8], gamma=0.5))"
    r = cli("schedule", spec, "--steps", "15", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert isinstance(got, list) and len(got) == 15
    assert got == parse_schedule(spec)(np.arange(15)).tolist()  # bit-exact through JSON


def test_json_matches_torch_onecycle(cli):
    torch = pytest.importorskip("torch")
    r = cli("schedule", "onecycle(0.4, total=300)", "--steps", "300", "--json")
    assert r.returncode == 0, r.stderr
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.4, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.4, total_steps=300)
    ref = []
    for _ in range(300):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(json.loads(r.stdout), ref, rtol=1e-12, atol=0)


def test_table_shows_samples_and_jumps(cli):
    r = cli("schedule", "multistep(0.1, milestones=[30, 45])", "--steps", "60")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "multistep(0.1, milestones=[30, 45])" in out
    lines = out.splitlines()
    assert any(line.split()[:3] == ["30", "0.01", "x0.1"] for line in lines if line.strip())
    assert any(line.split()[:2] == ["29", "0.1"] for line in lines if line.strip())
    assert "2 jump(s)" in out
    r = cli("schedule", "onecycle(0.4, total=100)", "--steps", "100")
    assert "momentum" in r.stdout and "0.95" in r.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["cosin(0.1, total=10)", "--steps", "5"], "did you mean cosine"),
        (["step(0.1, step_sz=3)", "--steps", "5"], "step(lr, step_size, gamma=0.1)"),
        (["cosine(0.1, total=10)", "--steps", "0"], "--steps"),
        (["exponential(0.1, gamma=1e300)", "--steps", "5"], "not finite"),
        (["cosine(0.1, total=10)", "--steps", "5", "--plot", "/nonexistent-dir/x.png"], "does not exist"),
        (["cosine(0.1, total=10)", "--steps", "5", "--plot", "out.gif"], ".png"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli, tmp_path, args, expected):
    r = cli("schedule", *args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_missing_steps_is_a_usage_error(cli):
    r = cli("schedule", "constant(0.1)")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--steps" in r.stderr


def test_plot_writes_png(cli, tmp_path):
    out = tmp_path / "oc.png"
    r = cli("schedule", "onecycle(0.4, total=200)", "--steps", "200", "--plot", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 200  # --json keeps stdout to the one document
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = tmp_path / "w.png"
    r = cli(
        "schedule", "warmup(5, sgdr(0.1, period=10, mult=2))", "--steps", "80", "--plot", str(log), "--log-y"
    )
    assert r.returncode == 0, r.stderr
    assert log.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".*tmp"))


def test_schedule_command_never_imports_torch(tmp_path):
    code = (
        "import sys\n"
        "import lrscope, lrscope.schedules\n"
        "from lrscope.cli import main\n"
        "plot = ['--plot', sys.argv[1]]\n"
        "for args in (['schedule', 'onecycle(0.4, total=50)', '--steps', '50', '--json', *plot],\n"
        "             ['schedule', 'multistep(0.1, [3])', '--steps', '9']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p.png")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "TORCH=False" in r.stderr
