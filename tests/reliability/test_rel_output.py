"""Output faults: a full disk, a read-only directory, an output path that is a directory or lies under a file.

For every command that writes (explain --plot, explain on a run directory -> explain.json, schedule --plot,
toy --out, report --out, train --out) the command must end with exit code 2 and one line on stderr, leave nothing
half-written (no file under the target name that is not the old one, no temporary file beside it), and leave the
previous good file byte for byte as it was.

A full disk and a read-only directory are real: a small tmpfs is mounted for each trial (we run as root in the
project's containers), filled up with a filler file or remounted read-only.  Where mounting is not allowed the
disk-full trials fall back to ``RLIMIT_FSIZE`` (writes past 512 bytes fail with EFBIG; SIGXFSZ ignored) and the
read-only trials to ``chmod 555`` (skipped as root, who ignores permissions).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from pathlib import Path

import faultlib
import pytest

CMD = faultlib.command_for("test_rel_output.py")
REAL = Path(os.environ.get("LRSCOPE_REAL_LOGS", faultlib.ROOT.parent / "shared" / "data" / "real-logs"))
LOG = REAL / "bearpaw-cifar10-resnet110.tsv"


class Place:
    """A directory on which faults can be switched on: ``fill()`` (disk full) and ``read_only()``."""

    def __init__(self, root: Path):
        self.root = root
        self.mounted = False
        self.limit_bytes: int | None = None  # RLIMIT_FSIZE fallback for a full disk
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(root)], capture_output=True
            )
            self.mounted = done.returncode == 0

    def fill(self) -> None:
        if not self.mounted:
            self.limit_bytes = 512
            return
        with open(self.root / ".filler", "wb") as f:
            block = b"\0" * 65536
            with contextlib.suppress(OSError):
                while True:
                    f.write(block)
                    f.flush()
        with contextlib.suppress(OSError), open(self.root / ".filler2", "wb") as f:  # the last partial block
            while True:
                f.write(b"\0" * 512)
                f.flush()

    def grow(self) -> None:
        """Free the space again (remove the filler, give the tmpfs room)."""
        for name in (".filler", ".filler2"):
            with contextlib.suppress(OSError):
                (self.root / name).unlink()
        self.limit_bytes = None
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", str(self.root)], check=True)

    def read_only(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.root)], check=True)
        elif os.geteuid() != 0:
            for d in [self.root, *[p for p in self.root.rglob("*") if p.is_dir()]]:
                d.chmod(0o555)
        else:
            pytest.skip("root without mount: a read-only directory cannot be made here")

    def close(self) -> None:
        if self.mounted:
            done = subprocess.run(["umount", str(self.root)], capture_output=True)
            if done.returncode:
                subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
        else:
            for d in [self.root, *[p for p in self.root.rglob("*") if p.is_dir()]]:
                with contextlib.suppress(OSError):
                    d.chmod(0o755)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        limit = self.limit_bytes

        def limits():
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        env = {k: v for k, v in os.environ.items() if k != "LRSCOPE_DEBUG"}
        return subprocess.run(
            [str(faultlib.LRSCOPE), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            preexec_fn=limits,
        )


@pytest.fixture
def place(tmp_path):
    p = Place(tmp_path / "fs")
    try:
        yield p
    finally:
        p.close()


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.startswith(".filler")
    }


def _run_dir(root: Path) -> Path:
    """A small lrscope run directory (metrics only): 12 epochs, a tenfold decay at epoch 7."""
    import json

    run = root / "run"
    run.mkdir()
    lines = []
    for e in range(1, 13):
        lr = 0.1 if e <= 6 else 0.01
        loss = 1.0 / e if e <= 6 else 0.5 / e
        lines.append(
            json.dumps(
                {
                    "kind": "epoch",
                    "epoch": e,
                    "step": 10 * e,
                    "lr": lr,
                    "train_loss": loss,
                    "val_loss": loss * 1.1,
                    "val_acc": 1 - loss / 2,
                }
            )
        )
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run / "config.json").write_text('{"model": "mlp", "seed": 0}\n')
    return run


# (name, target file relative to the place, how to make the previous good file, the command writing it)
def _commands(place: Path) -> dict[str, tuple[Path, list[str]]]:
    plot = place / "plot.png"
    return {
        "explain --plot": (plot, ["explain", LOG, "--plot", plot]),
        "explain RUN (explain.json)": (place / "run" / "explain.json", ["explain", place / "run"]),
        "schedule --plot": (plot, ["schedule", "multistep(0.1, milestones=[30, 60])", "--steps", "90", "--plot", plot]),
        "toy --out": (plot, ["toy", "quadratic", "--lrs", "0.1", "--out", plot, "--steps", "20", "--frames", "3"]),
        "report --out": (place / "report.html", ["report", place / "run", "--out", place / "report.html"]),
    }


NAMES = list(_commands(Path("x")))
REDUCED = {
    "disk full": NAMES,
    "read-only": ["explain --plot", "explain RUN (explain.json)"],
    "path is a directory": ["explain --plot", "schedule --plot"],
    "under a file": ["toy --out"],
}
# "under a file" needs the output path on the command line; explain RUN derives it from the run
CASES = [
    (fault, name)
    for fault in REDUCED
    for name in (NAMES if faultlib.FULL else REDUCED[fault])
    if not (fault == "under a file" and name.startswith("explain RUN"))
]


def _expect_clean_failure(done: subprocess.CompletedProcess, what: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, f"{what}: exit {done.returncode}, stderr {done.stderr!r}"
    assert faultlib.one_line_error(done.stderr), f"{what}: not one line: {done.stderr!r}"


@pytest.mark.parametrize("fault,name", CASES, ids=[f"{f}-{n}" for f, n in CASES])
def test_output_fault(fault, name, place):
    if not LOG.exists():
        pytest.skip("real logs not found")
    _run_dir(place.root)
    target, args = _commands(place.root)[name]
    label = {
        "disk full": "Output: disk full",
        "read-only": "Output: read-only directory",
        "path is a directory": "Output: output path is a directory",
        "under a file": "Output: output path under a file",
    }[fault]
    with faultlib.trial(
        label + " (explain, schedule, toy, report)", CMD + f" -k 'output_fault and {fault.split()[0]}'"
    ):
        first = place.run(*args)
        assert first.returncode == 0, f"the good write failed: {first.stderr}"
        assert target.is_file()
        if fault == "path is a directory":
            target.unlink()
            target.mkdir()
            (target / "keep.txt").write_text("mine")
        elif fault == "under a file":
            blocker = place.root / "blocker"
            blocker.write_text("a file, not a directory")
            args = [a if a != target else blocker / target.name for a in args]
        before = _snapshot(place.root)
        if fault == "disk full":
            place.fill()
        elif fault == "read-only":
            place.read_only()
        done = place.run(*args)
        _expect_clean_failure(done, f"{name} on {fault}")
        assert _snapshot(place.root) == before, "a file changed, appeared or vanished"
        hidden = [p.name for p in place.root.rglob(".*") if not p.name.startswith(".filler")]
        assert not hidden, f"temporary files left behind: {hidden}"


@pytest.fixture
def train_place(tmp_path):
    p = Place(tmp_path / "fs")
    if not p.mounted:
        p.close()
        pytest.skip("needs a tmpfs (root with mount) to fill the disk in the middle of a run")
    subprocess.run(["mount", "-o", "remount,size=600k", str(p.root)], check=True)
    try:
        yield p
    finally:
        p.close()


def test_train_on_a_disk_that_fills_up(train_place, tiny_reference):
    """The disk fills in the middle of `lrscope train`: exit 2, one line; every acknowledged epoch and every
    checkpoint on disk intact; after space is freed, --resume finishes the run exactly as an uninterrupted one."""
    import runcheck as rc

    ref, _ = tiny_reference
    run = train_place.root / "run"
    with faultlib.trial("Output: disk fills during train --out, then --resume", CMD + " -k train"):
        done = train_place.run("train", *rc.ARGS, "--out", run)
        _expect_clean_failure(done, "train on a 600 kB disk")
        assert "No space left on device" in done.stderr
        for epoch, path in rc.checkpoints(run).items():
            assert int(rc.load(path)["epoch"]) == epoch
        whole = [line for line in rc.lines(run) if line.endswith(b"\n")]
        want = rc.records(ref)
        import json

        got = [{k: v for k, v in json.loads(line).items() if not k.endswith("_time_s")} for line in whole]
        assert got == want[: len(got)], "the records written before the disk filled differ from the reference"
        train_place.grow()
        resumed = train_place.run("train", *rc.ARGS, "--out", run, "--resume")
        assert resumed.returncode == 0, resumed.stderr
        rc.same_run(run, ref)


def test_train_into_a_read_only_place(place):
    import runcheck as rc

    with faultlib.trial("Output: read-only directory (train --out)", CMD + " -k read_only_place"):
        place.read_only()
        done = place.run("train", *rc.ARGS, "--out", place.root / "run")
        _expect_clean_failure(done, "train into a read-only directory")
        assert not (place.root / "run").exists()


def test_output_error_is_an_oserror_and_a_user_error(tmp_path):
    """A failed write keeps its errno and file name for Python callers and is one line for the command line."""
    import errno

    from lrscope.atomic import OutputError, write_text
    from lrscope.errors import UserError

    target = tmp_path / "out.txt"
    write_text(target, "old")

    class Full:
        def write(self, _):
            raise OSError(errno.ENOSPC, "No space left on device")

    from lrscope import atomic

    with pytest.raises(OutputError) as caught:
        atomic.write_with(target, lambda f: Full().write(b"x"))
    error = caught.value
    assert isinstance(error, OSError) and isinstance(error, UserError)
    assert error.errno == errno.ENOSPC and error.filename == str(target)
    assert str(error) == f"no space left while writing {target} (No space left on device)"
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_closed_stdout_ends_quietly():
    """`lrscope schedule ... --json | head -c 1` (4 MB of JSON): the reader leaves early; no traceback, no error."""
    spec = "cosine(0.1, total=200000)"
    done = subprocess.run(
        f"'{faultlib.LRSCOPE}' schedule '{spec}' --steps 200000 --json | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == "["
    assert "Traceback" not in done.stderr and "error" not in done.stderr, done.stderr
