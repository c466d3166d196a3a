"""Class 2 of the safety audit: an output (--out, --plot) never replaces an input of the command or a run's own
records, a figure's suffix is one lrscope writes, and nothing is written through a symlinked RUN/probes."""

from __future__ import annotations

import shutil

import pytest
from safety import fingerprint, refuses, run_main

LOG = "epoch,lr,loss\n1,0.1,2.0\n2,0.1,1.9\n3,0.01,1.0\n4,0.01,0.9\n5,0.01,0.85\n"


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(LOG)
    return path


@pytest.fixture
def run(trained_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy


def test_explain_plot_onto_its_own_log_is_refused(log):
    refuses("explain", log, "--plot", log, inputs=[log], expect="is an input of this command")


def test_plot_onto_a_log_it_reads_is_refused(tmp_path, log):
    png_named_log = tmp_path / "curve.png"  # a log whose name happens to end in .png is still the input
    shutil.copy(log, png_named_log)
    refuses("explain", png_named_log, "--format", "delimited", "--plot", png_named_log, inputs=[png_named_log],
            expect="input")


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (["plot", "{run}", "--out"], "metrics.jsonl"),
        (["plot", "{run}", "--out"], "config.json"),
        (["sharpness", "{run}", "--samples", "16", "--out"], "config.json"),
        (["landscape", "{run}", "--kind", "line", "--steps", "3", "--samples", "16", "--out"],
         "checkpoints/epoch-0001.pt"),
        (["report", "{run}", "--out"], "metrics.jsonl"),
        (["explain", "{run}", "--plot"], "checkpoints/epoch-0002.pt"),
    ],
)
def test_outputs_never_replace_a_runs_records(run, command, target):
    args = [part.format(run=run) for part in command] + [run / target]
    refuses(*args, inputs=[run], expect="never replaces a run's records")


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["explain", "{log}", "--plot"], "out.txt"),
        (["explain", "{log}", "--plot"], "out"),
        (["plot", "{log}", "--out"], "out.jpeg"),
        (["schedule", "cosine(0.1, total=10)", "--steps", "10", "--plot"], "s.csv"),
        (["report", "{log}", "--out"], "r.htm"),
        (["toy", "quadratic", "--out"], "t.avi"),
        (["nqm", "--steps", "50", "--out"], "n.json"),
    ],
)
def test_an_unsupported_suffix_names_the_supported_ones(tmp_path, log, command, name):
    args = [part.format(log=log) for part in command] + [tmp_path / name]
    line = refuses(*args, inputs=[tmp_path], expect="give a file ending in")
    assert ".png" in line or ".html" in line or ".gif" in line


def test_derived_outputs_may_be_replaced(run, tmp_path):
    """report.html and probes/* are lrscope's own derived files: writing them again is allowed."""
    first = run_main("report", run)
    assert first.returncode == 0, first.stderr
    again = run_main("report", run, "--out", run / "report.html")
    assert again.returncode == 0, again.stderr
    assert (run / "report.html").stat().st_size > 0


def test_no_write_through_a_symlinked_probes_folder(run, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "sharpness.json").write_text("theirs")
    (run / "probes").mkdir(exist_ok=True)
    shutil.rmtree(run / "probes")
    (run / "probes").symlink_to(elsewhere)
    before = fingerprint(elsewhere)
    for args in (["sharpness", run, "--samples", "16", "--out", tmp_path / "s.png"],
                 ["landscape", run, "--kind", "line", "--steps", "3", "--samples", "16", "--out", tmp_path / "l.png"],
                 ["whatif", run, "--to", "0.01", "--steps", "2"]):
        refuses(*args, inputs=[run], expect="symlink")
    assert fingerprint(elsewhere) == before
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "l.png").exists()


def test_find_out_that_is_a_file_is_refused(tmp_path, log):
    refuses("find", "--data", "digits", "--model", "mlp", "--out", log, inputs=[log], expect="not a directory")
