"""``train --resume`` on a damaged run directory never loses data, and readers of damaged records never crash.

Resume reads everything before it touches anything: a config.json it cannot read (not JSON, not an object,
a setting of the wrong type), a metrics.jsonl line that is not a record, or a checkpoint that does not load is
refused with exit 2 and one line naming the file, and every file of the run stays byte for byte.  A finished run
is left alone (exit 0, "nothing to do").  A torn last line of metrics.jsonl stays tolerated (test_rel_kill_resume).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))  # the shared refusal helpers
from safety import assert_clean_refusal, fingerprint, refuses, run_main  # noqa: E402


@pytest.fixture
def run(tiny_reference, tmp_path) -> Path:
    """A copy of the finished 4-epoch tiny run (see runcheck.py) to damage."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_reference[0], copy)
    return copy


def _edit_config(run: Path, **changes) -> None:
    document = json.loads((run / "config.json").read_text())
    document.update(changes)
    (run / "config.json").write_text(json.dumps(document))


def _edit_metrics(run: Path, change) -> None:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join(change(lines)) + "\n")


def _list_in_first_record(lines):
    first = json.loads(lines[0])
    first["loss"] = [first["loss"]]
    return [json.dumps(first), *lines[1:]]


DAMAGE = {
    "config not JSON": (lambda r: (r / "config.json").write_text("[1, 2\n"), "config.json is not readable JSON"),
    "config a list": (lambda r: (r / "config.json").write_text("[1, 2]\n"), "config.json must hold a JSON object"),
    "config epochs text": (lambda r: _edit_config(r, epochs="abc"), "'epochs' must be an integer"),
    "config model number": (lambda r: _edit_config(r, model=3), "'model' must be a string"),
    "metrics garbage": (lambda r: (r / "metrics.jsonl").write_bytes(b"\x00\xff garbage\n" * 40),
                        "metrics.jsonl line 1 is not an lrscope record"),
    "metrics record with a list": (lambda r: _edit_metrics(r, _list_in_first_record), "its 'loss' is a list"),
    "metrics line not an object": (lambda r: _edit_metrics(r, lambda lines: [*lines[:3], "[1, 2]", *lines[3:]]),
                                   "line 4 is not an lrscope record"),
    "last checkpoint truncated": (
        lambda r: (r / "checkpoints" / "epoch-0004.pt").write_bytes(
            (r / "checkpoints" / "epoch-0004.pt").read_bytes()[:5000]), "epoch-0004.pt"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_resume_refuses_a_damaged_run_and_changes_no_file(run, kind):
    """--epochs 6 asks for more epochs, so a resume that went ahead would rewrite config.json and metrics.jsonl."""
    damage, expect = DAMAGE[kind]
    damage(run)
    line = refuses("train", "--resume", "--out", run, "--epochs", "6", inputs=[run], expect=expect)
    assert str(run) in line


def test_resume_of_a_finished_run_touches_no_file(run):
    before = fingerprint(run)
    result = run_main("train", "--resume", "--out", run)
    assert result.returncode == 0, result.stderr
    assert "the run already has all 4 epochs; nothing to do" in result.stderr + result.stdout
    assert fingerprint(run) == before  # config.json included: it is not rewritten


def test_resume_of_a_finished_run_keeps_a_torn_last_line_as_it_is(run):
    """Nothing to do means nothing is done: not even the torn-tail repair a continuing resume makes."""
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"kind": "step", "st')
    before = fingerprint(run)
    result = run_main("train", "--resume", "--out", run)
    assert result.returncode == 0, result.stderr
    assert fingerprint(run) == before


def test_resume_still_continues_a_run_with_a_torn_last_line(run):
    """The allowed damage: a torn tail is cut off and the run goes on (here: two more epochs)."""
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"kind": "step", "st')
    result = run_main("train", "--resume", "--out", run, "--epochs", "5")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3, 4, 5]
    assert (run / "checkpoints" / "epoch-0005.pt").is_file()


# ---------------------------------------------------------------- readers of damaged records


def _wrong_types(lines):
    out = []
    for line in lines:
        record = json.loads(line)
        if record["kind"] == "epoch" and record["epoch"] == 2:
            record["epoch"] = [2]  # unhashable: read_metrics keyed epochs by it
        if record["kind"] == "epoch" and record["epoch"] == 3:
            record["lr"] = "fast"
        out.append(json.dumps(record))
    return [*out, "[1, 2]", '"text"', '{"kind": 7, "step": 1}', '{"kind": "step", "step": "x", "loss": 1.0}']


def test_read_metrics_skips_records_of_the_wrong_shape(run):
    from lrscope.logs.rundir import read_metrics

    _edit_metrics(run, _wrong_types)
    epochs = read_metrics(run, "epoch")
    assert [r["epoch"] for r in epochs] == [1, 4]
    steps = read_metrics(run, "step")
    assert steps and all(isinstance(r["step"], int) and isinstance(r["loss"], float) for r in steps)


READERS = [
    ("explain", "{run}"),
    ("predict", "{run}", "--to", "0.001"),
    ("report", "{run}", "--out", "{tmp}/r.html"),
    ("plot", "{run}", "--out", "{tmp}/p.png"),
    ("whatif", "{run}", "--to", "0.001", "--steps", "2"),
]


@pytest.mark.parametrize("command", READERS, ids=[c[0] for c in READERS])
@pytest.mark.parametrize("damage", ["records of the wrong shape", "config a list", "config wrong types"])
def test_readers_of_a_damaged_run_give_a_result_or_one_line(run, tmp_path, command, damage):
    if damage == "records of the wrong shape":
        _edit_metrics(run, _wrong_types)
    elif damage == "config a list":
        (run / "config.json").write_text("[1, 2]\n")
    else:
        _edit_config(run, batch_size="abc", momentum=[0.9], model=3)
    before = fingerprint(run)
    result = run_main(*[part.format(run=run, tmp=tmp_path) for part in command])
    if result.returncode != 0:
        line = assert_clean_refusal(result)
        if damage == "config a list":
            assert "config.json" in line
    else:
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    after = fingerprint(run)  # a reader may add its own results (explain.json, probes/); it changes nothing there
    assert {path: after.get(path) for path in before} == before
