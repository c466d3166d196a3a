"""What the log readers accept as input: regular files, directories and ``-`` (standard input), at most
``max_bytes`` of text, in the format forced when one is; everything else is one clean refusal.

A hostile or careless user points lrscope at ``/dev/zero`` (it used to read until 23 GB), ``/dev/urandom``, a
named pipe with no writer (it used to block forever), a socket; forces ``--format run`` on a CSV (it used to
read it anyway); hands it random bytes, one endless line, NUL bytes, JSON lists, 1e999, 10^5 column names.
Every case ends in exit 2 and one line on stderr (or a RunLog, for what is a log), never a traceback, a hang or
an "internal error".  The subprocess timeouts are hang guards, not timed assertions.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety import assert_clean_refusal, fingerprint, refuses, run_cli

from lrscope.errors import UserError
from lrscope.logs import read as read_mod
from lrscope.logs.read import DEFAULT_MAX_BYTES, read_log
from lrscope.logs.runlog import RunLog

HANG_GUARD = 60  # seconds: far over what a refusal takes; only there so that a hang fails instead of blocking

CSV = "epoch,lr,train_loss,val_loss\n" + "".join(
    f"{e},{0.1 if e <= 6 else 0.01},{2.0 / e + (0.5 if e <= 6 else 0.1):.4f},{2.2 / e + 0.6:.4f}\n"
    for e in range(1, 13)
)


@pytest.fixture
def csv_log(tmp_path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text(CSV)
    return path


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A small lrscope run directory written by the library's Recorder (no torch)."""
    from lrscope.logs.recorder import Recorder

    rec = Recorder(tmp_path / "run", config={"schedule": "multistep(0.1, milestones=[6])", "epochs": 12})
    for e in range(1, 13):
        rec.epoch(epoch=e, lr=0.1 if e <= 6 else 0.01, train_loss=2.0 / e + 0.3, val_loss=2.2 / e + 0.4,
                  val_acc=0.5 + e / 40)
    rec.close()
    return tmp_path / "run"


# ------------------------------------------------------------------------------------------ what a path is


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
@pytest.mark.parametrize("command", ["explain", "plot"])
def test_character_devices_are_refused_before_reading(device, command, tmp_path):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    extra = ["--out", tmp_path / "out.png"] if command == "plot" else []
    line = refuses(command, device, *extra, expect="is not a regular file (a character device)",
                   timeout=HANG_GUARD)
    assert "directories or - for standard input" in line
    assert not (tmp_path / "out.png").exists()


def test_a_fifo_with_no_writer_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "log.csv"
    os.mkfifo(fifo)
    refuses("explain", fifo, expect="is not a regular file (a FIFO)", timeout=HANG_GUARD)
    refuses("plot", fifo, "--out", tmp_path / "x.png", expect="not a regular file (a FIFO)", timeout=HANG_GUARD)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still there, never opened


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "log.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
    except OSError as error:  # a tmp path over the 108 bytes a socket address holds
        pytest.skip(f"cannot bind a unix socket here: {error}")
    try:
        refuses("explain", path, expect="is not a regular file (a socket)", timeout=HANG_GUARD)
    finally:
        sock.close()


def test_a_run_whose_metrics_are_a_fifo_or_a_device_is_refused(run_dir, tmp_path):
    metrics = run_dir / "metrics.jsonl"
    metrics.unlink()
    os.mkfifo(metrics)
    for args in (["explain", run_dir], ["plot", run_dir, "--out", tmp_path / "x.png"],
                 ["report", run_dir, "--out", tmp_path / "x.html"]):
        refuses(*args, inputs=[run_dir / "config.json"], expect="metrics.jsonl is not a regular file (a FIFO)",
                timeout=HANG_GUARD)
    metrics.unlink()
    metrics.symlink_to("/dev/zero")
    refuses("explain", run_dir, expect="(a character device)", timeout=HANG_GUARD)


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "metrics.csv"
    link.symlink_to("/dev/zero")
    refuses("explain", link, expect="(a character device)", timeout=HANG_GUARD)
    # in a directory searched for a log, a device under a log's name is not a log
    refuses("explain", tmp_path, expect="a directory with no training log", timeout=HANG_GUARD)


def test_missing_and_unreadable_paths():
    refuses("explain", "/nonexistent/log.csv", expect="does not exist")
    with pytest.raises(UserError, match="does not exist"):
        read_log(Path("/nonexistent/log.csv"))


# ------------------------------------------------------------------------------------------ standard input


def test_dash_reads_a_small_csv_from_standard_input(csv_log):
    with open(csv_log, "rb") as stdin:
        done = run_cli("explain", "-", "--json", stdin=stdin, timeout=HANG_GUARD)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["source"]["rows"] == 12 and doc["source"]["path"] == "<stdin>"
    assert any(e["row"] == 6 for e in doc["events"])


def test_dash_with_plot_reads_standard_input_once(csv_log, tmp_path):
    png = tmp_path / "explained.png"
    with open(csv_log, "rb") as stdin:
        done = run_cli("explain", "-", "--plot", png, stdin=stdin, timeout=HANG_GUARD)
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_standard_input_is_refused():
    assert_clean_refusal(run_cli("explain", "-", timeout=HANG_GUARD), expect="standard input is empty")


def _stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_standard_input_is_read_up_to_the_cap(monkeypatch):
    _stdin(monkeypatch, CSV.encode() * 40)
    with pytest.raises(UserError, match=r"standard input holds over 1000 bytes.*pass --max-bytes"):
        read_log("-", max_bytes=1000)
    _stdin(monkeypatch, CSV.encode())
    assert read_log("-", max_bytes=1000).rows == 12


def test_standard_input_is_never_a_run_or_an_event_file(monkeypatch):
    _stdin(monkeypatch, CSV.encode())
    with pytest.raises(UserError, match="<stdin> is not a run log"):
        read_log("-", format="run")
    _stdin(monkeypatch, CSV.encode())
    with pytest.raises(UserError, match="<stdin> is not a tensorboard log"):
        read_log("-", format="tensorboard")


def test_a_file_named_dash_is_read_as_dot_slash_dash(tmp_path, monkeypatch):
    (tmp_path / "-").write_text(CSV)
    monkeypatch.chdir(tmp_path)
    assert read_log("./-").rows == 12


# ------------------------------------------------------------------------------------------ the size cap


def test_a_log_over_max_bytes_is_refused_with_the_flag_to_pass(csv_log):
    size = csv_log.stat().st_size
    assert size > 100
    with pytest.raises(UserError) as caught:
        read_log(csv_log, max_bytes=100)
    message = str(caught.value)
    assert message == (f"{csv_log} is {read_mod.size_text(size)}, over the 100 bytes limit for a text log; "
                       f"pass --max-bytes to read it anyway")
    assert read_log(csv_log, max_bytes=size).rows == 12  # at the limit is fine
    assert read_log(csv_log, max_bytes=None).rows == 12  # None: no limit


def test_max_bytes_reaches_explain_and_plot(csv_log, run_dir, tmp_path):
    from lrscope.jobs.explain import explain_path
    from lrscope.jobs.plot import plot_run

    with pytest.raises(UserError, match="over the 100 bytes limit for a text log"):
        explain_path(csv_log, max_bytes=100)
    with pytest.raises(UserError, match="metrics.jsonl is .* over the 100 bytes limit for a metrics file"):
        explain_path(run_dir, max_bytes=100)
    with pytest.raises(UserError, match="over the 100 bytes limit"):
        plot_run(run_dir, tmp_path / "x.png", max_bytes=100)
    assert explain_path(csv_log).source["rows"] == 12


def test_report_takes_max_bytes(run_dir, tmp_path):
    from lrscope.report.html import build_report

    with pytest.raises(UserError, match="over the 100 bytes limit for a metrics file"):
        build_report(run_dir, tmp_path / "r.html", max_bytes=100)
    assert build_report(run_dir, tmp_path / "r.html").exists()


def test_max_bytes_is_checked(csv_log):
    for bad in (0, -5, 1.5, "big", True):
        with pytest.raises(UserError, match="--max-bytes must be an integer >= 1"):
            read_log(csv_log, max_bytes=bad)


def test_the_default_cap_and_its_message():
    assert DEFAULT_MAX_BYTES == 2 * 1024**3
    with pytest.raises(UserError, match=r"^big.log is 3.1 GB, over the 2 GB limit for a text log; pass --max-bytes"):
        read_mod.check_size("big.log", int(3.1 * 1024**3), DEFAULT_MAX_BYTES)


def test_a_sparse_file_over_the_cap_is_refused_from_its_size(tmp_path):
    """A 3 GiB file with no blocks on disk: refused from os.stat, nothing read (the hang guard would see it)."""
    big = tmp_path / "huge.csv"
    with open(big, "wb") as f:
        f.truncate(3 * 1024**3)
    refuses("explain", big, inputs=[], expect="is 3 GB, over the 2 GB limit for a text log", timeout=HANG_GUARD)


# ------------------------------------------------------------------------------------------ forced formats


def test_a_forced_format_that_does_not_match_is_an_error(csv_log, run_dir, tmp_path):
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text("".join(json.dumps({"epoch": e, "lr": 0.1, "loss": 1 / e}) + "\n" for e in range(1, 9)))
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("nothing here\n")
    cases = [
        (["--format", "run", csv_log], f"{csv_log} is not a run log"),
        (["--format", "tensorboard", csv_log], f"{csv_log} is not a tensorboard log"),
        (["--format", "jsonlines", csv_log], f"{csv_log} is not a jsonlines log"),
        (["--format", "delimited", jsonl], f"{jsonl} is not a delimited log"),
        (["--format", "csv", jsonl], "its lines are JSON objects (try --format jsonlines)"),
        (["--format", "run", plain], f"{plain} is not a run log"),
        (["--format", "tensorboard", run_dir], f"{run_dir} is not a tensorboard log"),
        (["--format", "parquet", csv_log], "unknown --format 'parquet'"),
    ]
    for args, expect in cases:
        refuses("explain", *args, inputs=[csv_log, jsonl, run_dir], expect=expect, timeout=HANG_GUARD)


def test_a_forced_format_that_matches_still_reads(csv_log, run_dir, tmp_path):
    assert read_log(csv_log, format="csv").format == "delimited"
    assert read_log(run_dir, format="run").format == "run"
    assert read_log(run_dir / "metrics.jsonl", format="jsonlines").format == "jsonlines"


def test_binary_forced_as_text_names_the_format(tmp_path):
    path = tmp_path / "blob.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(UserError, match="is not a delimited log: binary data"):
        read_log(path, format="csv")


def test_the_tfrecord_header_check_is_tensorboards(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    rng = __import__("random").Random(3)
    for _ in range(200):
        length = rng.randrange(1, 1 << 20).to_bytes(8, "little")
        good = length + masked_crc32c(length).to_bytes(4, "little")
        assert read_mod.looks_like_tfrecord(good)
        assert not read_mod.looks_like_tfrecord(good[:8] + bytes([good[8] ^ 1]) + good[9:])


# ------------------------------------------------------------------------------------------ hostile contents


def test_one_endless_line_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    monkeypatch.setattr(read_mod, "_LONGEST_LINE", 1000)
    path = tmp_path / "a.csv"
    path.write_bytes(b"a" * 5000)
    with pytest.raises(UserError, match="one line of 5,000 bytes and no line break"):
        read_log(path)


def test_one_endless_line_through_the_cli(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"a" * (17 * 1024**2))  # over the 16 MiB longest line
    refuses("explain", path, inputs=[path], expect="no line break: not a training log", timeout=HANG_GUARD)


def test_lines_of_text_without_a_number_give_up_early(tmp_path, monkeypatch):
    from lrscope.logs import delimited

    monkeypatch.setattr(delimited, "_GIVE_UP_CELLS", 1000)
    monkeypatch.setattr(delimited, "_BLOCK_CELLS", 500)
    path = tmp_path / "words.csv"
    path.write_text("a\n" + "word\n" * 5000)
    with pytest.raises(UserError, match="not one number in its first 1,000 rows"):
        read_log(path)


def test_nul_bytes_in_a_csv(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(CSV.encode().replace(b"\n3,", b"\n3\x00,", 1))
    log = read_log(path)
    assert log.rows >= 11


def test_json_lines_that_are_lists_strings_or_deeply_nested(tmp_path):
    path = tmp_path / "odd.jsonl"
    lines = ["[1, 2, 3]", '"a string"', "[" * 100_000, '{"a": ' * 500 + "1" + "}" * 500]
    lines += [json.dumps({"epoch": e, "lr": 0.1, "loss": 1.0 / e}) for e in range(1, 6)]
    path.write_text("\n".join(lines) + "\n")
    log = read_log(path)
    assert log.rows == 5 and log.roles["train_loss"] == "loss"
    refuses("explain", path, "--format", "tensorboard", inputs=[path], expect="is not a tensorboard log")


def test_numbers_beyond_float(tmp_path):
    path = tmp_path / "big.jsonl"
    huge = "9" * 4000  # an integer JSON parses and float() cannot hold
    path.write_text(
        '{"epoch": 1, "lr": 1e999, "loss": 1e999}\n'
        f'{{"epoch": 2, "lr": 0.1, "loss": {huge}}}\n'
        '{"epoch": 3, "lr": 0.1, "loss": [1e999, -1e999]}\n'
        '{"epoch": 4, "lr": 0.1, "loss": 2.0}\n'
    )
    log = read_log(path)
    assert log.rows >= 3 and log.columns["loss"][-1] == 2.0
    csv = tmp_path / "big.csv"
    csv.write_text(f"epoch,lr,loss\n1,0.1,1e999\n2,0.1,{huge}\n3,0.01,-1e999\n4,0.01,0.5\n")
    assert read_log(csv).rows >= 3
    done = run_cli("explain", path, "--json", timeout=HANG_GUARD)
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_a_run_with_hostile_records(run_dir):
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"kind": "epoch", "epoch": [3], "lr": 0.1, "train_loss": 1}\n')
        f.write('{"kind": "epoch", "epoch": 13, "lr": %s, "train_loss": 1e999}\n' % ("9" * 4000))
        f.write('{"kind": "epoch", "epoch": "x", "train_loss": {"a": 1}}\n[1, 2]\n"text"\n')
    log = read_log(run_dir)
    assert log.rows >= 12
    before = fingerprint(run_dir / "metrics.jsonl")
    done = run_cli("explain", run_dir, "--json", timeout=HANG_GUARD)
    assert done.returncode == 0, done.stderr
    assert fingerprint(run_dir / "metrics.jsonl") == before


def test_a_run_line_nested_too_deep_is_one_line(run_dir):
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"kind": "epoch", "a": ' + "[" * 100_000 + "\n")
    done = run_cli("explain", run_dir, timeout=HANG_GUARD)
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 2:
        assert_clean_refusal(done)


def test_a_hundred_thousand_columns(tmp_path):
    n = 100_000
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(n)) + ",loss\n"
                    + "\n".join(",".join(["1"] * n + [str(1.0 / r)]) for r in range(1, 4)) + "\n")
    log = read_log(path)
    assert log.rows == 3 and len(log.columns) >= n
    with pytest.raises(UserError) as caught:
        read_log(path, lr="nope")
    assert len(str(caught.value)) < 600 and "in all)" in str(caught.value)


def test_records_that_each_bring_new_fields_are_refused(tmp_path, monkeypatch):
    from lrscope.logs import jsonlines

    monkeypatch.setattr(jsonlines, "MIN_CELLS", 10_000)
    path = tmp_path / "sparse.jsonl"
    path.write_text("".join(json.dumps({f"k{i}": 1, "loss": 1.0}) + "\n" for i in range(2000)))
    with pytest.raises(UserError, match="different fields over 2,000 records"):
        read_log(path)


def test_a_directory_too_large_to_search(tmp_path, monkeypatch):
    for i in range(40):
        (tmp_path / f"f{i}.txt").write_text("x")
    from lrscope.logs import paths

    monkeypatch.setattr(paths, "MAX_ENTRIES", 10)
    with pytest.raises(UserError, match="holds over 10 files and directories"):
        read_log(tmp_path)


def test_long_column_names_stay_out_of_messages(tmp_path):
    path = tmp_path / "names.csv"
    name = "x" * 70_000
    path.write_text(f"{name}\tother\n")
    with pytest.raises(UserError) as caught:
        read_log(path)
    assert len(str(caught.value)) < 400


SUFFIXES = [".csv", ".tsv", ".jsonl", ".log", "", ".tfevents"]
FORMATS = [None, "delimited", "jsonlines", "tensorboard", "run"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=4000),
                      st.lists(st.sampled_from([b"epoch", b",", b"\t", b"lr", b"loss", b"0.1", b"1e999", b"\n",
                                                b"{", b"}", b'"', b"[", b"]", b":", b"\x00", b"nan", b"-", b"%",
                                                b"\xff", b"\r", b" "]), max_size=400).map(b"".join)),
       suffix=st.sampled_from(SUFFIXES), fmt=st.sampled_from(FORMATS))
def test_random_bytes_give_a_runlog_or_a_user_error(tmp_path, data, suffix, fmt):
    path = tmp_path / f"case{suffix}"
    path.write_bytes(data)
    try:
        log = read_log(path, format=fmt, max_bytes=1 << 20)
    except UserError as error:
        assert str(error)
        return
    assert isinstance(log, RunLog) and log.rows > 0
