"""Run the ``lrscope`` command line in this process with one injected fault that ends it with SIGKILL.

    python killdriver.py FAULT N FRACTION ACK_FILE -- train --data digits ... --out RUN [--resume]

The fault fires at the N-th occurrence (1-based) of its point; FRACTION (0..1) says how much of an interrupted
write reaches the disk before the kill.  Faults:

``step``      die right after optimizer step N (its record still in the recorder's buffer)
``write``     the N-th write of metrics.jsonl stops after FRACTION of its bytes: a torn line
``ckpt``      the N-th checkpoint's write puts FRACTION of its bytes in the temporary file, then dies
``pre-ckpt``  die after the N-th checkpoint's epoch record is acknowledged, before the checkpoint is written
``config``    die half-way through writing config.json (N is ignored)
``trim``      (with --resume) die half-way through the resume's rewrite of metrics.jsonl
``none``      no fault (a plain run through the same entry point)

After every acknowledged epoch record (``Recorder.epoch`` returned: flushed and fsynced) the driver appends
``EPOCH\\n`` to ACK_FILE, so the test can check that no acknowledged epoch is lost.  SIGKILL gives the process no
chance to clean up: whatever is on disk when it fires is what a power-cut-free crash leaves.
"""

from __future__ import annotations

import io
import os
import signal
import sys


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def cut(data: bytes, fraction: float) -> bytes:
    """A prefix of ``data``: at least one byte short of all of it unless fraction is 1."""
    if fraction >= 1.0:
        return data
    n = int(len(data) * fraction)
    return data[: max(0, min(n, len(data) - 1))]


def install(fault: str, n: int, fraction: float, ack_file: str) -> None:
    import lrscope.atomic as atomic
    import lrscope.logs.recorder as recorder
    import lrscope.train.checkpoint as checkpoint

    counts = {"n": 0}

    def hit() -> bool:
        counts["n"] += 1
        return counts["n"] == n

    original_epoch = recorder.Recorder.epoch

    def epoch(self, **kwargs):
        original_epoch(self, **kwargs)
        with open(ack_file, "a") as f:
            f.write(f"{int(kwargs['epoch'])}\n")
            f.flush()
            os.fsync(f.fileno())

    recorder.Recorder.epoch = epoch

    if fault == "step":
        original_step = recorder.Recorder.step

        def step(self, **kwargs):
            original_step(self, **kwargs)
            if int(kwargs["step"]) == n:
                die()

        recorder.Recorder.step = step
    elif fault == "write":

        def write_buffer(self):
            if self._buffer and self._file is not None:
                data = self._encoded_buffer()
                if hit():
                    self._file.write(cut(data, fraction))
                    self._file.flush()
                    die()
                self._file.write(data)
                self._buffer.clear()

        recorder.Recorder._write_buffer = write_buffer
    elif fault == "ckpt":
        from lrscope.atomic import atomic_path

        real_write = checkpoint.write_bytes

        def write_bytes(path, data):
            if not hit():
                return real_write(path, data)
            with atomic_path(path) as tmp, open(tmp, "wb") as out:  # the temporary file atomic writes use
                out.write(cut(bytes(data), fraction))
                out.flush()
                die()

        checkpoint.write_bytes = write_bytes
    elif fault == "pre-ckpt":
        real_checkpoint = checkpoint.save_checkpoint

        def save_checkpoint(*args, **kwargs):
            if hit():
                die()
            return real_checkpoint(*args, **kwargs)

        checkpoint.save_checkpoint = save_checkpoint
    elif fault in ("config", "trim"):
        name = "config.json" if fault == "config" else "metrics.jsonl"
        real_with = atomic.write_with

        def write_with(target, writer):
            if os.path.basename(os.fspath(target)) != name:
                return real_with(target, writer)
            buffer = io.BytesIO()
            writer(buffer)
            with atomic.atomic_path(target) as tmp, open(tmp, "wb") as out:
                out.write(cut(buffer.getvalue(), fraction))
                out.flush()
                die()

        atomic.write_with = write_with
    elif fault != "none":
        raise SystemExit(f"unknown fault {fault!r}")


def main() -> None:
    fault, n, fraction, ack_file = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    assert sys.argv[5] == "--", sys.argv
    install(fault, n, fraction, ack_file)
    from lrscope.cli import main as lrscope_main

    lrscope_main(sys.argv[6:])


if __name__ == "__main__":
    main()
