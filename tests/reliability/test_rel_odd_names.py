"""Odd names and odd sizes: ``report`` and ``plot`` on run directories whose names are not UTF-8 (b"run-\\xff"),
hold spaces, newlines, ``<script>`` or Matplotlib's ``$`` markup, and on a run whose config.json plans 10^7
epochs.

Each case ends in exit 0 with the file written, the name shown as text (bytes that are not UTF-8 as ``\\xff``,
HTML-escaped in the page), never an "internal error".  The subprocess timeouts are hang guards only.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from pathlib import Path

import faultlib
import pytest

CMD = faultlib.command_for("test_rel_odd_names.py")
HANG_GUARD = 300
NAMES = [b"run-\xff", b"run with spaces", b"run\nwith a newline", b"<script>alert(1)</script>", b"run-$x^$ {"]
NAMES = [n.replace(b"/", b"\xe2\x88\x95") for n in NAMES]  # a '/' is not allowed in one name: U+2215


def lrscope(*args, timeout: float = HANG_GUARD) -> subprocess.CompletedProcess:
    """Run the console script with bytes arguments; stdout and stderr come back as bytes."""
    env = dict(os.environ)
    env.pop("LRSCOPE_DEBUG", None)
    return subprocess.run([os.fsencode(faultlib.LRSCOPE), *map(os.fsencode, args)], capture_output=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def _ok(done: subprocess.CompletedProcess) -> None:
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A 12-epoch run with a multistep schedule, written by the library's Recorder (no torch needed)."""
    from lrscope.logs.recorder import Recorder

    run = tmp_path_factory.mktemp("tiny") / "run"
    rec = Recorder(run, config={"schedule": "multistep(0.1, milestones=[6])", "epochs": 12, "data": "digits",
                                "model": "mlp", "step_unit": "epoch"})
    for e in range(1, 13):
        for k in range(4):
            rec.step(step=(e - 1) * 4 + k + 1, lr=0.1 if e <= 6 else 0.01, loss=2.0 / e + 0.3)
        rec.epoch(epoch=e, lr=0.1 if e <= 6 else 0.01, train_loss=2.0 / e + 0.3, val_loss=2.2 / e + 0.4,
                  val_acc=0.5 + e / 40)
    rec.close()
    return run


def _copy(run: Path, parent: Path, name: bytes) -> bytes:
    target = os.path.join(os.fsencode(parent), name)
    shutil.copytree(os.fsencode(run), target)
    return target


def _shown(name: bytes) -> str:
    """How the page shows a name: its UTF-8 text, bytes that are not UTF-8 as \\xff, control characters as \\n."""
    from lrscope.logs.runlog import path_label

    return path_label(name)


@pytest.mark.parametrize("name", NAMES, ids=lambda n: repr(n)[2:-1])
def test_report_and_plot_on_an_oddly_named_run(tiny_run, tmp_path, name):
    with faultlib.trial("Odd names: report, plot and explain --plot on a run named oddly", CMD):
        run = _copy(tiny_run, tmp_path, name)
        page = tmp_path / "report.html"
        _ok(lrscope("report", run, "--out", page))
        text = page.read_text(encoding="utf-8")  # valid UTF-8, whatever the name
        assert html.escape(_shown(name)) in text
        assert "<script>alert" not in text
        png = tmp_path / "plot.png"
        _ok(lrscope("plot", run, "--out", png))
        assert png.read_bytes()[:4] == b"\x89PNG"
        explained = tmp_path / "explained.png"
        _ok(lrscope("explain", run, "--plot", explained))
        assert explained.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", NAMES[:1] + NAMES[3:4], ids=["non-utf8", "script"])
def test_report_into_the_oddly_named_run_itself(tiny_run, tmp_path, name):
    """The default --out (RUN/report.html) inside a directory whose name is not UTF-8, through the library."""
    from lrscope.report.html import build_report

    run = _copy(tiny_run, tmp_path, name)
    out = build_report(os.fsdecode(run))
    assert os.fsencode(out) == os.path.join(run, b"report.html")
    assert html.escape(_shown(name)) in Path(out).read_text(encoding="utf-8")


def test_a_demo_like_directory_of_oddly_named_runs(tiny_run, tmp_path):
    parent = tmp_path / "runs"
    parent.mkdir()
    for name in NAMES:
        _copy(tiny_run, parent, name)
    page = tmp_path / "all.html"
    _ok(lrscope("report", parent, "--out", page))
    text = page.read_text(encoding="utf-8")
    assert f"{len(NAMES)} runs:" in text and "run-\\xff" in text and "&lt;script&gt;" in text


def test_a_log_file_with_an_odd_name(tmp_path):
    name = b"log-\xff $x$ <b>.csv"
    path = os.path.join(os.fsencode(tmp_path), name)
    with open(path, "w") as f:
        f.write("epoch,lr,loss\n" + "".join(f"{e},{0.1 if e <= 5 else 0.01},{1 / e + 0.2}\n" for e in range(1, 11)))
    _ok(lrscope("plot", path, "--out", tmp_path / "p.png"))
    _ok(lrscope("explain", path, "--plot", tmp_path / "e.png"))
    done = lrscope("explain", path, "--json")
    _ok(done)
    assert json.loads(done.stdout)["source"]["rows"] == 10


def test_a_config_that_plans_ten_million_epochs(tiny_run, tmp_path):
    with faultlib.trial("Odd sizes: report, explain and plot on a run whose config.json says 10^7 epochs", CMD):
        run = tmp_path / "long"
        shutil.copytree(tiny_run, run)
        config = json.loads((run / "config.json").read_text())
        config["epochs"] = 10_000_000
        (run / "config.json").write_text(json.dumps(config))
        page = tmp_path / "long.html"
        _ok(lrscope("report", run, "--out", page, timeout=120))
        text = page.read_text(encoding="utf-8")
        assert "the 12 epochs with records (of 10,000,000 planned)" in text
        _ok(lrscope("explain", run, "--json", timeout=120))
        _ok(lrscope("plot", run, "--out", tmp_path / "long.png", timeout=120))


def test_a_schedule_longer_than_its_records_is_decimated(tiny_run, tmp_path):
    """Records up to step 10^9 (a hand-edited log): the schedule figure is drawn from 20,000 values of t."""
    from lrscope.report import html as report_html

    run = tmp_path / "steps"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config.update(step_unit="step", epochs=3)
    (run / "config.json").write_text(json.dumps(config))
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"kind": "epoch", "epoch": 13, "step": 10**9, "lr": 0.01, "train_loss": 0.4}) + "\n")
    out = report_html.build_report(run, tmp_path / "steps.html")
    text = out.read_text(encoding="utf-8")
    assert "of 1,000,000,000 planned" not in text  # the records reach that far: all of it is drawn, decimated
    assert "over 1,000,000,000 steps" in text
