"""The Caffe glog reader and the MXNet/gluoncv reader: the real logs' truths (README), and small logs in the
shapes those tools write (appended runs, cut last lines, several test nets, Module.fit, batch-only logs)."""

from __future__ import annotations

import numpy as np
import pytest

from lrscope.errors import UserError
from lrscope.logs.formats import caffe, gluoncv, sniff
from lrscope.logs.read import read_runs

CAFFE_STEP = "caffe-superconv-cifar10-resnet20-multistep.log"
CAFFE_CLR = "caffe-superconv-cifar10-resnet56-clr-triangular.log"
GLUON_CIFAR = "gluoncv-cifar10-resnet56v1-step.log"
GLUON_IMAGENET = "gluoncv-imagenet-vgg19-step-perbatch-lr.log"


def glog(n: int, where: str, message: str) -> str:
    return f"I0412 10:{n // 60 % 60:02d}:{n % 60:02d}.123456 17350 {where}] {message}\n"


def caffe_block(it: int, loss: float, lr: float | None, acc: float | None = None, test_loss: float = 1.0) -> str:
    """One test pass, display record and lr line as Caffe's solver writes them at a display iteration."""
    out = ""
    if acc is not None:
        out += glog(it, "solver.cpp:337", f"Iteration {it}, Testing net (#0)")
        out += glog(it, "solver.cpp:404", f"    Test net output #0: accuracy = {acc}")
        out += glog(it, "solver.cpp:404", f"    Test net output #1: loss = {test_loss} (* 1 = {test_loss} loss)")
    out += glog(it, "solver.cpp:228", f"Iteration {it}, loss = {loss}")
    out += glog(it, "solver.cpp:244", f"    Train net output #0: loss = {loss} (* 1 = {loss} loss)")
    if lr is not None:
        out += glog(it, "sgd_solver.cpp:106", f"Iteration {it}, lr = {lr}")
    return out


SOLVER_DUMP = (
    glog(0, "solver.cpp:48", "Initializing solver from parameters: ")
    + 'test_iter: 100\nbase_lr: 0.1\ndisplay: 100\nmax_iter: 400\nlr_policy: "step"\ngamma: 0.1\nstepsize: 200\n'
    + "train_state {\n  level: 0\n}\n"
    + glog(0, "net.cpp:58", "Initializing net from parameters: ")
    + 'name: "LeNet"\nlayer {\n  name: "mnist"\n  type: "Data"\n  top: "da'  # glog cut the dump mid-line
    + "\n"
    + glog(0, "solver.cpp:279", "Solving LeNet")
)


def caffe_run(start: int = 0, n: int = 5, step_at: int = 200) -> str:
    out = ""
    for k in range(n):
        it = start + 100 * k
        out += caffe_block(it, round(2.0 / (k + 1), 4), 0.1 if it < step_at else 0.01, acc=0.1 * (k + 1))
    return out


# ------------------------------------------------------------------------------------------------ Caffe


def test_caffe_real_multistep_rows_and_rate(real_logs):
    text = (real_logs / CAFFE_STEP).read_text()
    assert caffe.sniff(text) and sniff(text).name == "caffe"
    notes: list[str] = []
    p = caffe.read(text, CAFFE_STEP, notes)
    it, lr = p.columns["iteration"], p.columns["lr"]
    assert p.x == "iteration" and len(it) == 801
    assert np.array_equal(it, np.arange(0, 80001, 100))
    assert it[np.flatnonzero(lr == 0.035)[0]] == 50000 and it[np.flatnonzero(lr == 0.0035)[0]] == 70000
    assert np.isnan(lr[-1]) and np.isfinite(lr[:-1]).all()  # no lr line after the final display record
    assert p.roles == {"train_loss": "loss", "lr": "lr", "val_loss": "test/loss", "val_acc": "test/accuracy"}
    # the test at iteration 50000 is written before that display record and joins its row (row 501)
    assert p.columns["test/accuracy"][500] == 0.78084 and p.columns["test/loss"][500] == 1.11415
    assert p.columns["train/loss"][500] == 0.0732308 and p.columns["loss"][501] == 0.0138086
    # the final test (iteration 80000) is written after its display record
    assert p.columns["test/accuracy"][-1] == 0.88636 and p.columns["loss"][-1] == 0.000942314
    assert "solver: base_lr 0.35, lr_policy multistep, stepvalue 50000 70000, gamma 0.1, max_iter 80000" in notes


def test_caffe_real_triangular_reads_past_a_cut_net_dump(real_logs):
    text = (real_logs / CAFFE_CLR).read_text()
    assert caffe.sniff(text)  # the net dump fills the first 200 kB: glog's solver.cpp lines say Caffe
    notes: list[str] = []
    p = caffe.read(text, CAFFE_CLR, notes)
    lr = p.columns["lr"]
    assert len(lr) == 101 and p.columns["iteration"][-1] == 10000
    assert lr[0] == 0.1 and lr[50] == 3.0 and lr[99] == 0.158
    assert np.allclose(np.abs(np.diff(lr[:100])), 0.058)
    assert p.columns["test/accuracy"][-1] == 0.9244
    assert any("lr_policy triangular" in n and "max_lr 3" in n for n in notes)


def test_caffe_small_log_skips_the_dumps(tmp_path):
    text = SOLVER_DUMP + caffe_run()
    notes: list[str] = []
    p = caffe.read(text, "small.log", notes)
    assert list(p.columns["iteration"]) == [0, 100, 200, 300, 400]
    assert list(p.columns["lr"]) == [0.1, 0.1, 0.01, 0.01, 0.01]
    assert set(p.columns) == {"iteration", "test/accuracy", "test/loss", "loss", "train/loss", "lr"}
    assert "solver: base_lr 0.1, lr_policy step, stepsize 200, gamma 0.1, max_iter 400" in notes
    path = tmp_path / "small.log"
    path.write_text(text)
    (log,) = read_runs(path)
    assert log.format == "caffe" and log.x_name == "iteration" and log.rows == 5
    assert log.roles["lr"] == "lr" and log.roles["train_loss"] == "loss" and log.roles["val_acc"] == "test/accuracy"


def test_caffe_two_test_nets_and_newer_display_lines():
    text = glog(0, "solver.cpp:279", "Solving Net")
    for it in (0, 100):
        text += glog(it, "solver.cpp:337", f"Iteration {it}, Testing net (#0)")
        text += glog(it, "solver.cpp:404", "    Test net output #0: accuracy = 0.5")
        text += glog(it, "solver.cpp:404", "    Test net output #1: loss = 1.5 (* 1 = 1.5 loss)")
        text += glog(it, "solver.cpp:337", f"Iteration {it}, Testing net (#1)")
        text += glog(it, "solver.cpp:404", "    Test net output #0: accuracy = 0.25")
        text += glog(it, "solver.cpp:218", f"Iteration {it} (3.2 iter/s, 31.2s/100 iters), loss = 2.5")
        text += glog(it, "sgd_solver.cpp:105", f"Iteration {it}, lr = 0.01, m = 0.9, wd = 0.0005, gs = 1")
    p = caffe.read(text, "two.log", [])
    assert list(p.columns["iteration"]) == [0, 100]
    assert list(p.columns["test1/accuracy"]) == [0.25, 0.25] and list(p.columns["test/accuracy"]) == [0.5, 0.5]
    assert list(p.columns["loss"]) == [2.5, 2.5] and list(p.columns["lr"]) == [0.01, 0.01]
    assert p.roles["val_acc"] == "test/accuracy" and p.roles["val_loss"] == "test/loss"


def test_caffe_error_outputs_and_auxiliary_heads():
    text = ""
    for it in (0, 100, 200):
        text += glog(it, "solver.cpp:337", f"Iteration {it}, Testing net (#0)")
        for k, (name, value, weight) in enumerate(
            [
                ("loss1/loss1", 6.9, 0.3),
                ("loss1/top-1", 0.01, None),
                ("loss3/loss3", 6.8, 1),
                ("loss3/top-1", 0.02, None),
                ("loss3/top-5", 0.05, None),
                ("top-1 error", 0.98, None),
            ]
        ):
            tail = f" (* {weight} = {value * weight:g} loss)" if weight else ""
            text += glog(it, "solver.cpp:404", f"    Test net output #{k}: {name} = {value}{tail}")
        text += glog(it, "solver.cpp:228", f"Iteration {it}, loss = 7")
    p = caffe.read(text, "googlenet.log", [])
    assert p.roles["val_loss"] == "test/loss3/loss3" and p.roles["val_acc"] == "test/loss3/top-1"
    only_error = text.replace("loss3/top-1", "loss3/top-1 error").replace("loss1/top-1", "loss1/top-1 error")
    q = caffe.read(only_error, "err.log", [])
    assert q.roles["val_err"] == "test/loss3/top-1 error" and "val_acc" not in q.roles


def test_caffe_appended_runs_keep_file_order(tmp_path):
    text = SOLVER_DUMP + caffe_run(n=4) + SOLVER_DUMP + caffe_run(n=6)
    notes: list[str] = []
    p = caffe.read(text, "two-runs.log", notes)
    assert list(p.columns["iteration"]) == [0, 100, 200, 300, 0, 100, 200, 300, 400, 500]
    assert any("2 solver runs" in n for n in notes)
    path = tmp_path / "two-runs.log"
    path.write_text(text)
    runs = read_runs(path)
    assert [r.rows for r in runs] == [4, 6]


def test_caffe_resumed_solver_is_said():
    text = caffe_run(n=3) + glog(9, "solver.cpp:512", "Restoring previous solver status from snap_iter_200.solverstate")
    text += caffe_run(start=200, n=3)
    notes: list[str] = []
    p = caffe.read(text, "resumed.log", notes)
    assert list(p.columns["iteration"]) == [0, 100, 200, 200, 300, 400]
    assert any("restored from a snapshot 1 time" in n for n in notes)


def test_caffe_cut_last_line_is_dropped_and_said():
    whole = caffe_run(n=3)
    cut = whole + glog(300, "solver.cpp:228", "Iteration 300, loss = 0.12").rstrip("\n")[:-1]
    notes: list[str] = []
    p = caffe.read(cut, "cut.log", notes)
    assert list(p.columns["iteration"]) == [0, 100, 200]
    assert any("cut off" in n for n in notes)
    # a last line without a line end that holds no number (glog's last words) loses nothing
    q_notes: list[str] = []
    q = caffe.read(whole + glog(300, "caffe.cpp:254", "Optimization Done.").rstrip("\n"), "done.log", q_notes)
    assert len(q.columns["iteration"]) == 3 and not any("cut off" in n for n in q_notes)


def test_caffe_test_between_display_records_gets_its_own_row():
    text = caffe_block(0, 2.0, 0.1, acc=0.1) + caffe_block(100, 1.5, 0.1)
    text += glog(1, "solver.cpp:337", "Iteration 150, Testing net (#0)")
    text += glog(1, "solver.cpp:404", "    Test net output #0: accuracy = 0.4")
    text += caffe_block(200, 1.0, 0.1)
    p = caffe.read(text, "odd.log", [])
    assert list(p.columns["iteration"]) == [0, 100, 150, 200]
    assert np.isnan(p.columns["loss"][2]) and p.columns["test/accuracy"][2] == 0.4


def test_caffe_sniff_hint_and_refusal():
    csv = "epoch,loss,lr\n" + "".join(f"{i},{1 / (i + 1)},0.1\n" for i in range(20))
    assert not caffe.sniff(csv) and caffe.hint(csv) is None
    with pytest.raises(UserError, match=r"not a Caffe log: no `Iteration N, loss = X` lines found"):
        caffe.read(csv, "log.csv", [])
    crashed = glog(0, "caffe.cpp:217", "Using GPUs 0") + glog(1, "net.cpp:58", "Initializing net from parameters: ")
    assert caffe.sniff(crashed)  # a Caffe log (glog lines from net.cpp) that never reached training
    with pytest.raises(UserError, match="no `Iteration N, loss = X`"):
        caffe.read(crashed, "crashed.log", [])
    assert caffe.hint("Solving the net\nnothing else\n") == "a Caffe log? no `Iteration N, loss = X` lines found"


# ------------------------------------------------------------------------------------------------ gluoncv


def test_gluoncv_real_cifar_epochs_are_accuracies(real_logs):
    text = (real_logs / GLUON_CIFAR).read_text()
    assert gluoncv.sniff(text) and sniff(text).name == "gluoncv"
    notes: list[str] = []
    p = gluoncv.read(text, GLUON_CIFAR, notes)
    assert p.x == "epoch" and np.array_equal(p.columns["epoch"], np.arange(200))
    assert p.roles == {"train_acc": "train", "val_acc": "val", "train_loss": "loss"}
    assert "lr" not in p.columns  # the CIFAR script logs no rate: the Namespace is a note, not a column
    assert p.columns["loss"][99] == 0.151922 and p.columns["loss"][100] == 0.077477
    assert p.columns["val"][100] == 0.9227 and p.columns["train"][150] == 0.999139
    assert "Namespace: lr 0.1, lr_decay 0.1 at epochs 100,150, num_epochs 200" in notes


def test_gluoncv_real_imagenet_rate_of_each_epochs_first_batch(real_logs):
    text = (real_logs / GLUON_IMAGENET).read_text()
    notes: list[str] = []
    p = gluoncv.read(text, GLUON_IMAGENET, notes)
    epoch, lr = p.columns["epoch"], p.columns["lr"]
    assert p.x == "epoch" and np.array_equal(epoch, np.arange(100))  # the 10000 batch lines are not rows
    assert lr[49] == 0.01 and lr[50] == 0.001 and lr[79] == 0.001 and lr[80] == 0.0001
    assert p.roles == {"lr": "lr", "train_err": "train/err-top1", "val_err": "val/err-top1"}
    assert p.columns["val/err-top5"][50] == 0.098217 and p.columns["train/err-top1"][50] == 0.359234
    assert any("lr_mode step" in n and "at epochs 50,80" in n for n in notes)
    assert any("10000 per-batch lines" in n for n in notes)


def test_gluoncv_module_fit_with_scheduler_messages(tmp_path):
    lines = ["INFO:root:Namespace(lr=0.1, lr_factor=0.1, lr_step_epochs='2', num_epochs=4)"]
    for e in range(4):
        if e == 2:
            lines.append("INFO:root:Update[61]: Change learning rate to 1.00000e-02")
        for b in (10, 20):
            lines.append(f"INFO:root:Epoch[{e}] Batch [{b}]\tSpeed: 4000.5 samples/sec\taccuracy={0.5 + e / 10:f}")
        lines.append(f"INFO:root:Epoch[{e}] Train-accuracy={0.6 + e / 10:f}")
        lines.append(f"INFO:root:Epoch[{e}] Train-cross-entropy={1.0 - e / 10:f}")
        lines.append(f"INFO:root:Epoch[{e}] Time cost=12.345")
        lines.append(f'INFO:root:Saved checkpoint to "model-{e + 1:04d}.params"')
        lines.append(f"INFO:root:Epoch[{e}] Validation-accuracy={0.55 + e / 10:f}")
    text = "\n".join(lines) + "\n"
    notes: list[str] = []
    p = gluoncv.read(text, "fit.log", notes)
    assert list(p.columns["epoch"]) == [0, 1, 2, 3]
    assert list(p.columns["lr"]) == [0.1, 0.1, 0.01, 0.01]
    assert p.roles == {
        "lr": "lr",
        "train_acc": "Train-accuracy",
        "train_loss": "Train-cross-entropy",
        "val_acc": "Validation-accuracy",
    }
    assert not any("cost" in c.lower() or "time" in c.lower() for c in p.columns)
    assert "Namespace: lr 0.1, lr_factor 0.1 at epochs 2, num_epochs 4" in notes
    path = tmp_path / "fit.log"
    path.write_text(text)
    (log,) = read_runs(path)
    assert log.format == "gluoncv" and log.rows == 4 and log.roles["val_acc"] == "Validation-accuracy"


def test_gluoncv_batch_lines_alone_become_the_rows():
    lines = []
    for e in range(3):
        for b in (49, 99, 149, 199):
            lr = 0.1 if e < 2 else 0.01
            lines.append(f"Epoch[{e}] Batch [{b}]\tSpeed: 700.1 samples/sec\ttop1-err={0.9 - e / 10:f}\tlr={lr:f}")
    notes: list[str] = []
    p = gluoncv.read("\n".join(lines) + "\n", "batches.log", notes)
    assert p.x == "step"
    assert list(p.columns["step"][:5]) == [49, 99, 149, 199, 249]  # epoch * 200 + batch
    assert p.columns["lr"][8] == 0.01 and p.columns["lr"][7] == 0.1
    assert p.roles == {"lr": "lr", "train_err": "top1-err"}
    assert any("x = step = epoch * 200 + batch" in n for n in notes)


def test_gluoncv_appended_runs_and_prefixes(tmp_path):
    def run(n, stamp):
        return "".join(
            f"{stamp} - root - INFO - [Epoch {e}] train={0.5 + e / 100:f} val={0.4 + e / 100:f} "
            f"loss={1.0 / (e + 1):f} time: 30.1\n"
            for e in range(n)
        )

    text = run(5, "2019-03-01 10:00:00,001") + run(8, "2019-03-02 11:00:00,002")
    p = gluoncv.read(text, "two.log", [])
    assert list(p.columns["epoch"]) == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6, 7]
    path = tmp_path / "two.log"
    path.write_text(text)
    assert [r.rows for r in read_runs(path)] == [5, 8]


def test_gluoncv_cut_last_line():
    text = "".join(f"[Epoch {e}] train=0.5 val=0.4 loss=1.2 time: 30.5\n" for e in range(3))
    notes: list[str] = []
    p = gluoncv.read(text + "[Epoch 3] train=0.6 val=0.5 loss=1.", "cut.log", notes)
    assert list(p.columns["epoch"]) == [0, 1, 2] and any("cut off" in n for n in notes)
    # without a line end but whole (its last number is a time): kept
    q_notes: list[str] = []
    q = gluoncv.read(text.rstrip("\n"), "whole.log", q_notes)
    assert list(q.columns["epoch"]) == [0, 1, 2] and not any("cut off" in n for n in q_notes)


def test_gluoncv_detection_and_estimator_lines():
    lines = []
    for e in range(3):
        if e == 2:
            lines.append(f"INFO:root:[Epoch {e}] Set learning rate to 0.0001")
        lr = "1.0E-03" if e < 2 else "1.0E-04"
        lines.append(f"INFO:root:[Epoch {e}][Batch 99], LR: {lr}, Speed: 12.3 samples/sec, CrossEntropy=3.2")
        lines.append(f"INFO:root:[Epoch {e}] Training cost: 123.4, CrossEntropy={3.0 - e:.1f}, SmoothL1=1.0")
    p = gluoncv.read("\n".join(lines) + "\n", "ssd.log", [])
    assert list(p.columns["epoch"]) == [0, 1, 2] and list(p.columns["lr"]) == [0.001, 0.001, 0.0001]
    assert p.roles["train_loss"] == "CrossEntropy" and "SmoothL1" in p.columns
    est = "".join(
        f"[Epoch {e}] Finished in 2.345s, training accuracy: {0.5 + e / 10:.4f}, training softmaxcrossentropyloss:"
        f" {1.5 - e / 10:.4f}, validation accuracy: {0.45 + e / 10:.4f}\n"
        for e in range(3)
    )
    q = gluoncv.read(est, "estimator.log", [])
    assert q.roles == {
        "train_acc": "training accuracy",
        "train_loss": "training softmaxcrossentropyloss",
        "val_acc": "validation accuracy",
    }
    assert q.columns["validation accuracy"][2] == 0.65


def test_gluoncv_sniff_hint_and_refusal():
    csv = "epoch,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(10))
    assert not gluoncv.sniff(csv) and gluoncv.hint(csv) is None
    with pytest.raises(UserError, match=r"not a gluoncv/MXNet log: no `\[Epoch N\]` or `Epoch\[N\]` lines"):
        gluoncv.read(csv, "log.csv", [])
    ns = "INFO:root:Namespace(lr=0.1, num_epochs=10)\n[05:57:48] src/operator/nn/cudnn.h:107: Running tests\n"
    assert gluoncv.hint(ns) == "a gluoncv/MXNet log? no `[Epoch N]` or `Epoch[N]` lines found"
    assert (
        not caffe.sniff(ns)
        and not gluoncv.sniff(SOLVER_DUMP + caffe_run())
        and not caffe.sniff("[Epoch 0] train=0.1 val=0.1 loss=2\n[Epoch 1] train=0.2 val=0.2 loss=1\n")
    )


# ------------------------------------------------------------------------------------------------ command line


@pytest.mark.parametrize("name", [CAFFE_STEP, CAFFE_CLR, GLUON_CIFAR, GLUON_IMAGENET])
def test_explain_reads_the_real_logs(cli, real_logs, name):
    done = cli("explain", real_logs / name)
    assert done.returncode == 0, done.stderr
    fmt = "caffe" if name.startswith("caffe") else "gluoncv"
    assert f"({fmt}, x = {'iteration' if fmt == 'caffe' else 'epoch'})" in " ".join(done.stdout.split())


@pytest.mark.parametrize("fmt", ["caffe", "gluoncv"])
def test_forced_format_on_a_csv_is_a_one_line_refusal(cli, tmp_path, fmt):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(10)))
    done = cli("explain", "--format", fmt, path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "is not a" in done.stderr
