"""Logs that hold several runs: appended files split where x starts again, resumed runs folded in, directories
of runs (Lightning versions, TensorBoard runs, HF checkpoints), several paths in one call."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrscope.errors import UserError
from lrscope.logs.read import read_log, read_runs
from lrscope.logs.rundir import is_run_dir


def staircase(epochs, cut=None, start=0, scale=1.0):
    rows = []
    for k, ep in enumerate(range(start, start + epochs)):
        lr = 0.1 if cut is None or ep < cut else 0.01
        loss = scale * (1.0 + 1.0 / (k + 1)) * (0.5 if cut is not None and ep >= cut else 1.0)
        rows.append(f"{ep},{lr},{loss:.5f},{loss * 1.1:.5f}")
    return rows


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("epoch,lr,loss,val_loss\n" + "\n".join(rows) + "\n")
    return path


def test_appended_runs_are_split_where_the_counter_starts_again(tmp_path):
    p = write_csv(tmp_path / "log.csv", staircase(20, cut=10) + staircase(30, cut=20))
    runs = read_runs(p)
    assert [r.records for r in runs] == [(1, 20), (21, 50)]
    assert [r.rows for r in runs] == [20, 30]
    assert any("2 runs appended" in n for n in runs[0].notes)
    # the restart (0.01 -> 0.1 at record 21) is no rate change inside either run
    assert all(np.all(np.diff(r.x) > 0) for r in runs)
    single = read_log(p)
    assert single.records == (21, 50) and any("last of its 2 runs" in n for n in single.notes)


def test_a_resumed_run_keeps_the_later_records_where_they_overlap(tmp_path):
    rows = staircase(12, cut=10)[:8] + staircase(6, cut=10, start=5, scale=0.9)
    runs = read_runs(write_csv(tmp_path / "log.csv", rows))
    assert len(runs) == 1
    (log,) = runs
    assert list(log.x) == list(range(11))
    assert log.columns["loss"][5] == pytest.approx(0.9 * (1 + 1 / 1), rel=1e-4)  # epoch 5 from the resumed part
    assert any("resumed" in n for n in log.notes)


def test_sparse_rows_sharing_a_step_stay_one_run(tmp_path):
    # Lightning's CSVLogger: training and validation rows at the same step log different fields
    lines = ["step,train_loss,val_loss,lr-SGD"]
    for step in range(0, 200, 10):
        lines.append(f"{step},{1 / (step + 1):.5f},,0.1")
        if step % 50 == 40:
            lines.append(f"{step},,{1.2 / (step + 1):.5f},")
    p = tmp_path / "metrics.csv"
    p.write_text("\n".join(lines) + "\n")
    runs = read_runs(p)
    assert len(runs) == 1 and runs[0].rows == 20


def openmmlab_log(epochs=12, steps=(8, 11), per_epoch=500, every=50, first_iter=None, val_iter=132):
    """An MMDetection-style ``*.log.json``: a metadata line, then per epoch train lines whose ``iter`` counts
    within the epoch and one val line at the epoch's end (its ``iter`` the validation loop's length, as MMCV
    writes it; None: the epoch's last train iter); lr 0.02, cut 10x after each epoch in ``steps``."""
    lines = [json.dumps({"env_info": "sys.platform: linux", "seed": 0})]
    start = every if first_iter is None else first_iter
    for ep in range(1, epochs + 1):
        lr = 0.02 * 0.1 ** sum(ep > s for s in steps)
        for it in range(start, per_epoch + (start == every), every):
            loss = 0.5 + 1.5 * np.exp(-(ep + it / per_epoch) / 3) - 0.2 * (ep > steps[0]) - 0.05 * (ep > steps[1])
            lines.append(json.dumps({"mode": "train", "epoch": ep, "iter": it, "lr": lr, "loss": round(loss, 5)}))
        lines.append(json.dumps({"mode": "val", "epoch": ep, "iter": it if val_iter is None else val_iter, "lr": lr,
                                 "bbox_mAP": 0.3 + ep / 100}))
    return lines


@pytest.mark.parametrize("first_iter, val_iter", [(None, 132), (0, 132), (None, None), (0, 7)])
def test_an_iter_counted_within_each_epoch_is_one_run_with_its_decays_between_epochs(tmp_path, first_iter, val_iter):
    # iter logged as 50, 100 .. 500 or as 0, 50 .. 450; the val line's iter the val loop's length or the last one
    p = tmp_path / "20260101_120000.log.json"
    p.write_text("\n".join(openmmlab_log(first_iter=first_iter, val_iter=val_iter)) + "\n")
    runs = read_runs(p)
    assert len(runs) == 1
    (log,) = runs
    assert np.all(np.diff(log.x) > 0)
    assert log.x[0] == (50 if first_iter is None else 0)
    assert log.x[-1] == (12 * 500 if first_iter is None else 11 * 500 + 450)  # (epoch - 1) x 500 + iter
    assert any("counts within the epoch" in n and "x 500 + iter" in n for n in log.notes)
    rates = log.columns[log.roles["lr"]]
    cuts = np.flatnonzero(np.diff(rates) < 0) + 1
    assert [int(log.columns["epoch"][i]) for i in cuts] == [9, 12]  # the first iterations of epochs 9 and 12
    # each epoch's mAP lands on its last training row, not inside the next epoch
    maps = log.columns["bbox_mAP"]
    at = np.flatnonzero(np.isfinite(maps))
    assert len(at) == 12 and list(maps[at]) == pytest.approx([0.3 + ep / 100 for ep in range(1, 13)])
    assert [float(log.x[i]) for i in at] == [float(ep * 500 - (50 if first_iter == 0 else 0)) for ep in range(1, 13)]


def test_an_appended_openmmlab_log_is_still_two_runs(tmp_path):
    p = tmp_path / "appended.log.json"
    p.write_text("\n".join(openmmlab_log() + openmmlab_log(epochs=6)) + "\n")
    runs = read_runs(p)
    assert [int(r.columns["epoch"][-1]) for r in runs] == [12, 6]
    assert all(np.all(np.diff(r.x) > 0) for r in runs)


def test_an_openmmlab_work_dir_gives_one_run_per_launch_in_time_order(tmp_path):
    work = tmp_path / "work_dirs" / "faster_rcnn"
    work.mkdir(parents=True)
    for stamp, epochs in (("20260102_090000", 6), ("20260101_120000", 12)):
        (work / f"{stamp}.log.json").write_text("\n".join(openmmlab_log(epochs=epochs)) + "\n")
        (work / f"{stamp}.log").write_text("2026-01-01 12:00:00,000 - mmdet - INFO - Epoch [1][50/500]\n")
    runs = read_runs(work)
    assert [int(r.columns["epoch"][-1]) for r in runs] == [12, 6]
    assert runs[0].run.endswith("20260101_120000.log.json")


def test_a_step_that_goes_back_inside_an_epoch_is_not_taken_for_nesting(tmp_path):
    # a global step that is resumed from an earlier checkpoint within the same epoch: a resume, as before
    lines = [json.dumps({"epoch": e, "step": st, "loss": 1.0 / (st + 1)})
             for e, st in [(0, 10), (0, 20), (1, 30), (1, 40), (1, 30), (1, 40), (2, 50), (2, 60)]]
    p = tmp_path / "metrics.jsonl"
    p.write_text("\n".join(lines) + "\n")
    (log,) = read_runs(p)
    assert not any("counts within" in n for n in log.notes)
    assert any("resumed" in n for n in log.notes)


def test_a_record_written_twice_at_the_same_x_starts_a_new_run(tmp_path):
    lines = [json.dumps({"iteration": 9, "total_loss": 2.0, "lr": 1e-5})]
    for it in range(9, 200, 10):
        lines.append(json.dumps({"iteration": it, "total_loss": 2.0 - it / 200, "lr": 1e-4}))
    p = tmp_path / "metrics.json"
    p.write_text("\n".join(lines) + "\n")
    runs = read_runs(p)
    assert [r.records for r in runs] == [(2, 21)]  # record 1 alone is too short to explain, and said so
    assert any("too short" in n for n in runs[0].notes)


def test_lightning_versions_are_runs_in_natural_order(tmp_path):
    base = tmp_path / "lightning_logs"
    for v, scale in ((10, 3.0), (2, 2.0), (0, 1.0)):
        write_csv(base / f"version_{v}" / "metrics.csv", staircase(12, cut=6, scale=scale))
    runs = read_runs(base)
    assert [r.run.split("/")[-1] for r in runs] == ["version_0", "version_2", "version_10"]
    assert [round(float(r.columns["loss"][0]), 2) for r in runs] == [2.0, 4.0, 6.0]


def test_a_resumed_lightning_version_is_stitched_to_the_one_before(tmp_path):
    base = tmp_path / "lightning_logs"
    write_csv(base / "version_0" / "metrics.csv", staircase(10, cut=6))
    write_csv(base / "version_1" / "metrics.csv", staircase(8, cut=6, start=10))
    runs = read_runs(base)
    assert len(runs) == 1 and runs[0].rows == 18
    assert any("continues" in n and "stitched" in n for n in runs[0].notes)


def _event_dir(path, scale):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    w = EventFileWriter(str(path))
    for step in range(12):
        vals = [
            summary_pb2.Summary.Value(tag="loss", simple_value=scale / (step + 1)),
            summary_pb2.Summary.Value(tag="lr", simple_value=0.1 if step < 6 else 0.01),
        ]
        w.add_event(event_pb2.Event(step=step, summary=summary_pb2.Summary(value=vals)))
    w.close()


def test_a_tensorboard_directory_of_runs_gives_one_run_each(tmp_path):
    for name, scale in (("adam", 1.0), ("sgd", 2.0)):
        _event_dir(tmp_path / "runs" / name, scale)
    runs = read_runs(tmp_path / "runs")
    assert [r.run.split("/")[-1] for r in runs] == ["adam", "sgd"]
    assert all(r.format == "tensorboard" and r.rows == 12 and r.roles["lr"] == "lr" for r in runs)


def test_an_hf_output_directory_is_not_an_lrscope_run(tmp_path):
    out = tmp_path / "whisper"
    (out / "checkpoint-500").mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({"model_type": "whisper", "architectures": ["X"]}))
    history = [{"step": s, "epoch": s / 100, "learning_rate": 1e-5, "loss": 1.0 / s} for s in range(25, 1025, 25)]
    for where in (out / "checkpoint-500", out):
        (where / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    (out / "checkpoint-500" / "trainer_state.json").write_text(json.dumps({"log_history": history[:20]}))
    assert not is_run_dir(out) and not is_run_dir(out / "checkpoint-500")
    (log,) = read_runs(out)
    assert log.rows == 20 and log.x_name == "step"


def test_several_paths_give_the_runs_document(cli, tmp_path):
    a = write_csv(tmp_path / "a.csv", staircase(30, cut=15))
    b = write_csv(tmp_path / "b.csv", staircase(40, cut=20) + staircase(20, cut=10))
    done = cli("explain", a, b, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "lrscope.explain-runs/1" and len(doc["runs"]) == 3
    assert [r["source"]["records"] for r in doc["runs"]] == [[1, 30], [1, 40], [41, 60]]
    assert all(r["schema"] == "lrscope.explain/1" and r["run"] for r in doc["runs"])
    assert [e["x"] for e in doc["runs"][0]["events"]] == [15.0]
    one = json.loads(cli("explain", a, "--json").stdout)
    assert one["schema"] == "lrscope.explain/1"


def test_several_runs_get_one_plot_each(cli, tmp_path):
    a = write_csv(tmp_path / "a.csv", staircase(30, cut=15) + staircase(30, cut=15))
    done = cli("explain", a, "--plot", tmp_path / "x.png")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x-1.png").stat().st_size > 0 and (tmp_path / "x-2.png").stat().st_size > 0
    assert not (tmp_path / "x.png").exists()


def test_no_role_names_the_columns_and_the_flags(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("epoch,foo,bar\n1,2,3\n2,3,4\n3,4,5\n")
    with pytest.raises(UserError) as err:
        read_log(p)
    text = str(err.value)
    assert "'foo', 'bar'" in text and "--loss" in text and "--acc" in text and "--lr" in text and "--x" in text
    log = read_log(p, acc="foo")
    assert log.roles["val_acc"] == "foo"
    log = read_log(p, val_loss="bar")
    assert log.roles["val_loss"] == "bar"


def test_an_mlruns_tree_gives_one_run_per_mlflow_run(tmp_path):
    for run, name, scale in (("a1b2", "baseline", 1.0), ("c3d4", "longer", 2.0)):
        metrics = tmp_path / "mlruns" / "0" / run / "metrics"
        metrics.mkdir(parents=True)
        (tmp_path / "mlruns" / "0" / run / "meta.yaml").write_text(f"run_id: {run}\n")
        (tmp_path / "mlruns" / "0" / run / "tags").mkdir()
        (tmp_path / "mlruns" / "0" / run / "tags" / "mlflow.runName").write_text(name)
        (metrics / "loss").write_text("".join(f"{1700000000000 + s} {scale / (s + 1):.5f} {s}\n" for s in range(20)))
        (metrics / "lr").write_text("".join(f"{1700000000000 + s} {0.1 if s < 10 else 0.01} {s}\n" for s in range(20)))
    runs = read_runs(tmp_path / "mlruns")
    assert [r.run.endswith(f"({n})") for r, n in zip(runs, ("baseline", "longer"), strict=True)] == [True, True]
    assert all(r.rows == 20 and r.roles["lr"] == "lr" and r.roles["train_loss"] == "loss" for r in runs)
