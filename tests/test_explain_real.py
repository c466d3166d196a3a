"""explain on the real logs in ../shared/data/real-logs, through the command line as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run_json(cli, path, *extra):
    proc = cli("explain", path, "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_bearpaw_logged_events_and_attributed_drops(cli, real_logs):
    d = run_json(cli, real_logs / "bearpaw-cifar10-resnet110.tsv")
    assert d["schema"] == "lrscope.explain/1"
    assert [e["row"] for e in d["events"]] == [81, 122]
    assert all(e["source"] == "logged" for e in d["events"])
    for k, row in enumerate((81, 122)):
        tl = [x for x in d["drops"] if x["metric"] == "train_loss" and x["event"] == k]
        assert tl and tl[0]["row"] == row and tl[0]["relative"] > 0.1
    first = next(x for x in d["drops"] if x["metric"] == "train_loss" and x["event"] == 0)
    assert first["before"] == pytest.approx(0.162, abs=0.002) and first["after"] == pytest.approx(
        0.081, abs=0.002
    )
    assert any(f["kind"] == "overfitting" for f in d["findings"])


def test_bearpaw_without_lr_column_infers_decays(cli, real_logs, tmp_path):
    src = (real_logs / "bearpaw-cifar10-resnet110.tsv").read_text().splitlines()
    p = tmp_path / "nolr.tsv"
    p.write_text("\n".join("\t".join(line.split("\t")[1:]) for line in src) + "\n")
    d = run_json(cli, p)
    rows = [e["row"] for e in d["events"]]
    assert all(e["source"] == "inferred" for e in d["events"])
    for truth in (81, 122):
        assert any(abs(r - truth) <= 2 for r in rows), rows
    assert len(rows) <= 3


def test_json_stats_wrn(cli, real_logs):
    d = run_json(cli, real_logs / "szagoruyko-cifar10-wrn40-4-json_stats.log")
    assert [e["row"] for e in d["events"]] == [59, 119, 159]
    assert d["events"][0]["lr_after"] == pytest.approx(0.02)
    assert d["source"]["columns"]["lr"] == "lr"
    for k in range(3):
        assert any(
            x["metric"] == "train_loss" and x["event"] == k and x["relative"] > 0.2 for x in d["drops"]
        )


def test_cosine_tensorboard_gets_no_step_attribution(cli, real_logs):
    d = run_json(cli, real_logs / "simpleclassification-resnet18-cosine.tfevents")
    assert d["events"] == []
    assert all(x["event"] is None for x in d["drops"])
    assert any(f["kind"] == "smooth_schedule" for f in d["findings"])


def test_truncated_run_says_no_decay_yet(cli, real_logs):
    d = run_json(cli, real_logs / "bearpaw-cifar100-preresnet110-truncated.tsv")
    assert d["events"] == []
    texts = [f["text"] for f in d["findings"] if f["kind"] == "no_decay"]
    assert texts and "no learning-rate decay has happened yet" in texts[0].lower()


def test_header_only_is_a_clear_no_data_error(cli, real_logs):
    proc = cli("explain", real_logs / "bearpaw-cifar100-resnet1202-header-only.tsv")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no data" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_per_batch_lr_lists(cli, real_logs):
    proc = cli("explain", real_logs / "bearpaw-cifar10-resnet110-geolr-perbatch-lr-list.tsv", "--json")
    assert proc.returncode == 0
    d = json.loads(proc.stdout)
    assert any("lists" in n for n in d["notes"])
    assert any(abs(e["row"] - 81) <= 1 for e in d["events"])


def test_plain_words_and_plot(cli, real_logs, tmp_path):
    png = tmp_path / "x.png"
    proc = cli("explain", real_logs / "bearpaw-cifar10-resnet110.tsv", "--plot", png)
    assert proc.returncode == 0, proc.stderr
    assert "fell 50%" in proc.stdout and "0.1 to 0.01 at epoch 82" in proc.stdout.replace("\n", " ")
    assert png.read_bytes()[:4] == b"\x89PNG"


BAD = {
    "empty.csv": b"",
    "header-only.csv": b"epoch,lr,loss\n",
    "garbage.bin": bytes(range(256)) * 16,
    "text-cells.csv": b"epoch,lr,loss\n1,0.1,abc\n2,0.1,def\n",
    "weird.tsv": b"a\tb\tc\n",
    "noloss.csv": b"epoch,lr,foo\n1,0.1,3\n2,0.1,4\n3,0.1,5\n",
    "events.out.tfevents.1.host": b"\x17\x00\x00\x00\x00\x00\x00\x00garbage-record" * 5,
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_line_exit_2(cli, tmp_path, name):
    p = tmp_path / name
    p.write_bytes(BAD[name])
    proc = cli("explain", p)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_missing_path_and_empty_dir(cli, tmp_path):
    for p in (tmp_path / "nope.csv", tmp_path):
        proc = cli("explain", p)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_torn_json_and_nan_cells_give_result(cli, tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text(
        "".join(json.dumps({"epoch": i, "lr": 0.1, "loss": 1 / i}) + "\n" for i in range(1, 9))
        + '{"epoch": 9, "lr": 0.1, "lo'
    )
    assert cli("explain", p, "--json").returncode == 0
    q = tmp_path / "nan.csv"
    q.write_text(
        "epoch,lr,loss\n"
        + "".join(f"{i},0.1,{'nan' if i % 3 == 0 else 'inf' if i == 5 else 1 / i}\n" for i in range(1, 12))
    )
    proc = cli("explain", q, "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr


def test_explain_path_imports_neither_torch_nor_matplotlib(real_logs):
    code = (
        "import sys; from lrscope.cli import main\n"
        "from lrscope.jobs.explain import explain_path\n"
        f"explain_path({str(real_logs / 'bearpaw-cifar10-resnet110.tsv')!r})\n"
        "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_run_dir_writes_explain_json(tmp_path):
    from lrscope.jobs.explain import explain_run
    from lrscope.logs.recorder import Recorder

    rec = Recorder(tmp_path / "run", config={"model": "x"})
    for ep in range(1, 31):
        lr = 0.1 if ep <= 15 else 0.01
        loss = (0.6 if ep <= 15 else 0.25) + 1.5 * 2.718 ** (-ep / 4)
        rec.epoch(epoch=ep, lr=lr, train_loss=loss, val_loss=loss * 1.1, val_acc=1 - loss / 3)
    rec.close()
    result = explain_run(tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "explain.json").read_text())
    assert doc["schema"] == "lrscope.explain/1" and doc["events"][0]["row"] == 15
    assert result.events[0].x == 16


def test_schedule_spec_places_events_when_lr_is_missing(cli, real_logs, tmp_path):
    src = (real_logs / "bearpaw-cifar10-resnet110.tsv").read_text().splitlines()
    p = tmp_path / "nolr.tsv"
    p.write_text("\n".join("\t".join(line.split("\t")[1:]) for line in src) + "\n")
    d = run_json(cli, p, "--schedule", "multistep(0.1, [81, 122])")
    assert [(e["row"], e["source"]) for e in d["events"]] == [(81, "schedule"), (122, "schedule")]
    assert any(x["metric"] == "train_loss" and x["event"] == 0 and x["row"] == 81 for x in d["drops"])
