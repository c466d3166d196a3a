"""A tiny training run and the checks made on what it leaves: used by the kill/resume and output-fault tests.

The run: an MLP on digits, 4 epochs of 45 steps, 5 checkpoints (epoch 0 to 4), CPU, one thread, fixed seed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import faultlib

ARGS = [
    "--data",
    "digits",
    "--model",
    "mlp",
    "--schedule",
    "multistep(0.1, milestones=[2, 3])",
    "--epochs",
    "4",
    "--batch-size",
    "32",
    "--seed",
    "0",
    "--threads",
    "1",
]
EPOCHS = 4
STEPS_PER_EPOCH = 45  # 1437 training examples of digits / 32


def train(out: Path, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(faultlib.LRSCOPE), "train", *ARGS, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def driver(fault: str, n: int, fraction: float, ack: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        str(faultlib.PY),
        str(faultlib.HERE / "killdriver.py"),
        fault,
        str(n),
        f"{fraction:.4f}",
        str(ack),
        "--",
        "train",
        *ARGS,
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------- what the runs leave


def lines(run: Path) -> list[bytes]:
    return (run / "metrics.jsonl").read_bytes().splitlines(keepends=True) if (run / "metrics.jsonl").exists() else []


def records(run: Path) -> list[dict]:
    """Every record of metrics.jsonl, timing fields removed; every line must be whole and parse."""
    out = []
    for raw in lines(run):
        assert raw.endswith(b"\n"), f"torn line left in {run}/metrics.jsonl: {raw[:80]!r}"
        record = json.loads(raw)
        out.append({k: v for k, v in record.items() if not k.endswith("_time_s")})
    return out


def acknowledged(ack: Path) -> set[int]:
    return {int(line) for line in ack.read_text().split()} if ack.exists() else set()


def epochs_on_disk(run: Path) -> set[int]:
    """Epoch records in metrics.jsonl that parse (a torn tail is allowed here: the kill may have cut it)."""
    found = set()
    for raw in lines(run):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if record.get("kind") == "epoch":
            found.add(int(record["epoch"]))
    return found


def checkpoints(run: Path) -> dict[int, Path]:
    folder = run / "checkpoints"
    if not folder.is_dir():
        return {}
    return {int(p.name[6:10]): p for p in folder.glob("epoch-*.pt")}


def load(path: Path) -> dict:
    return _torch().load(path, map_location="cpu", weights_only=False)


def bitwise_equal(a, b, where: str) -> None:
    if isinstance(a, _torch().Tensor):
        assert isinstance(b, _torch().Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert a.contiguous().view(_torch().uint8).equal(b.contiguous().view(_torch().uint8)), f"{where} differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for key in a:
            bitwise_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            bitwise_equal(x, y, f"{where}[{i}]")
    elif hasattr(a, "dtype") and hasattr(a, "tobytes"):  # numpy arrays inside the RNG state
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"{where} differs"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def same_run(run: Path, ref: Path) -> None:
    got, want = records(run), records(ref)
    for kind in ("epoch", "step"):
        numbers = [r[kind] for r in got if r["kind"] == kind]
        assert len(numbers) == len(set(numbers)), f"duplicated {kind} records in {run}"
    assert len(got) == len(want), f"{len(got)} records after resume, {len(want)} in the uninterrupted run"
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == b, f"record {i + 1} differs:\n  resumed: {a}\n  uninterrupted: {b}"
    mine, theirs = checkpoints(run), checkpoints(ref)
    assert sorted(mine) == sorted(theirs) == list(range(EPOCHS + 1))
    for epoch in theirs:
        a, b = load(mine[epoch]), load(theirs[epoch])
        for key in ("epoch", "step", "model", "optimizer", "rng"):
            bitwise_equal(a[key], b[key], f"epoch-{epoch:04d}.pt[{key}]")


def after_kill(run: Path, ack: Path) -> None:
    """Nothing acknowledged is lost, nothing half-written sits under a final name."""
    lost = acknowledged(ack) - epochs_on_disk(run)
    assert not lost, f"acknowledged epochs {sorted(lost)} are missing from metrics.jsonl after the kill"
    for epoch, path in checkpoints(run).items():
        assert int(load(path)["epoch"]) == epoch, path


def _torch():
    import torch

    return torch


def make_reference(out: Path) -> tuple[Path, float]:
    """The uninterrupted run, and how long its training part took (from metrics.jsonl's creation to exit)."""
    import time

    started = time.monotonic()
    process = subprocess.Popen(
        [str(faultlib.LRSCOPE), "train", *ARGS, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = None
    while process.poll() is None:
        if seen is None and (out / "metrics.jsonl").exists():
            seen = time.monotonic()
        time.sleep(0.01)
    assert process.returncode == 0, process.stderr.read()
    training = time.monotonic() - (seen or started)
    found = records(out)
    assert sum(r["kind"] == "epoch" for r in found) == EPOCHS
    assert sum(r["kind"] == "step" for r in found) == EPOCHS * STEPS_PER_EPOCH
    return out, max(training, 0.2)
