"""Record anyone's training loop into an lrscope run directory (no torch needed).

>>> rec = Recorder("runs/exp1", config={"model": "resnet20", "seed": 0})
>>> rec.step(step=1, lr=0.1, loss=2.30)
>>> rec.epoch(epoch=1, lr=0.1, train_loss=2.1, val_loss=2.0, val_acc=0.31)
>>> rec.close()

Each record is one JSON line in ``metrics.jsonl`` with ``"kind": "step"`` or ``"kind": "epoch"``.  Step
records are buffered and written in blocks (cheap); an epoch record flushes the buffer to the operating system
before ``epoch()`` returns (a killed process loses nothing) and is then fsynced, by default on a background
thread so the loop does not wait for the disk (``sync="wait"`` fsyncs before returning; ``close()`` always
waits).  Non-finite numbers are stored as null (JSON has no NaN).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..errors import UserError
from .rundir import CONFIG, METRICS


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", getattr(value, "dim", lambda: 1)) in (0,):
        return _clean(value.item())
    if hasattr(value, "item") and callable(getattr(value, "numel", None)) and value.numel() == 1:
        return _clean(value.item())
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    try:
        return _clean(float(value))
    except (TypeError, ValueError):
        return str(value)


def _dumps(record: dict) -> str:
    """One JSON line; the fast path takes plain finite numbers, anything else goes through _clean."""
    try:
        return json.dumps(record, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_clean(record), allow_nan=False)


_PLAIN = frozenset({int, float, str, bool, type(None)})


def _step_line(entry: tuple) -> str:
    step, lr, loss, extra = entry
    return _dumps({"kind": "step", "step": step, "lr": lr, "loss": loss, **extra})


def versions() -> dict[str, str]:
    """Versions of what produced a run (torch only if it is already imported)."""
    from .. import __version__

    out = {"lrscope": __version__, "python": platform.python_version()}
    for name in ("torch", "numpy"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "?")
    return out


class Recorder:
    """Append step and epoch records to ``run_dir/metrics.jsonl``; write ``config.json``.

    ``mode="new"`` refuses a directory that already holds metrics (nothing the user owns is overwritten);
    ``mode="append"`` continues one (a resumed run), first cutting off a torn last line so that the next
    record starts on a line of its own.  ``buffer_steps`` step records are buffered before a write.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike,
        config: dict | None = None,
        *,
        mode: str = "new",
        buffer_steps: int = 256,
        enabled: bool = True,
        sync: str = "background",
    ):
        if mode not in ("new", "append"):
            raise UserError(f"Recorder mode must be 'new' or 'append', got {mode!r}")
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        # epoch records as JSON lines; step records as (step, lr, loss, extra), serialised at the next write:
        # a JSON encode between two training steps runs with cold caches and cost ~8x one in a batch
        self._buffer: list = []
        self._buffer_steps = max(1, int(buffer_steps))
        self._file = None
        self._fsyncer: ThreadPoolExecutor | None = None  # one long-lived thread: starting one per epoch cost ~0.3 ms
        self._synced: Future | None = None
        if sync not in ("background", "wait"):
            raise UserError(f"Recorder sync must be 'background' or 'wait', got {sync!r}")
        self._sync = sync
        if not enabled:
            return
        metrics = self.run_dir / METRICS
        if mode == "new" and metrics.exists() and metrics.stat().st_size > 0:
            raise UserError(f"{self.run_dir} already holds a run ({METRICS} exists); choose a new directory")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot create run directory {self.run_dir}: {error.strerror}") from None
        if config is not None:
            self.write_config(config)
        if mode == "append":
            repair_torn_tail(metrics)
        self._file = open(metrics, "ab")  # noqa: SIM115 - held open across calls, closed by close()

    def write_config(self, config: dict) -> None:
        document = dict(config)
        document.setdefault("versions", versions())
        document.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        write_json(self.run_dir / CONFIG, _clean(document))

    def step(self, *, step: int, lr: float, loss: float, **extra: Any) -> None:
        """One optimizer step: its global count, the rate used, the batch loss, anything else."""
        if not self.enabled:
            return
        if not (type(lr) in _PLAIN and type(loss) in _PLAIN and all(type(v) in _PLAIN for v in extra.values())):
            # tensors, NumPy scalars...: converted now, before the caller can change them in place
            lr, loss, extra = _clean(lr), _clean(loss), _clean(extra)
        self._buffer.append((int(step), lr, loss, extra))
        if len(self._buffer) >= self._buffer_steps:
            self._write_buffer()

    def epoch(
        self,
        *,
        epoch: int,
        lr: float,
        train_loss: float | None = None,
        val_loss: float | None = None,
        val_acc: float | None = None,
        **extra: Any,
    ) -> None:
        """One completed epoch (1-based): written to the OS before this returns (a killed process loses
        nothing), then fsynced (on a background thread unless ``sync="wait"``; the next epoch or ``close``
        waits for it)."""
        if not self.enabled:
            return
        record = {
            "kind": "epoch",
            "epoch": int(epoch),
            "lr": lr,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_acc": val_acc,
            **extra,
        }
        self._buffer.append(_dumps(record))
        if self._sync == "wait":
            self.flush(sync=True)
        else:
            self.flush()
            self._sync_in_background()

    def _sync_in_background(self) -> None:
        """fsync off the training thread: os.fsync releases the GIL, and takes milliseconds on many disks."""
        self.wait_synced()
        if self._fsyncer is None:
            self._fsyncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lrscope-fsync")
        self._synced = self._fsyncer.submit(os.fsync, self._file.fileno())

    def wait_synced(self) -> None:
        """Block until the last epoch's fsync has finished."""
        if self._synced is not None:
            synced, self._synced = self._synced, None
            synced.result()

    def flush(self, sync: bool = False) -> None:
        if self._file is None:
            return
        self._write_buffer()
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def _write_buffer(self) -> None:
        if self._buffer and self._file is not None:
            self._file.write(self._encoded_buffer())
            self._buffer.clear()

    def _encoded_buffer(self) -> bytes:
        """The buffered records as the bytes of their JSON lines."""
        lines = [entry if isinstance(entry, str) else _step_line(entry) for entry in self._buffer]
        return ("\n".join(lines) + "\n").encode("utf-8")

    def close(self) -> None:
        self.wait_synced()
        if self._fsyncer is not None:
            self._fsyncer.shutdown(wait=True)
            self._fsyncer = None
        if self._file is not None:
            self.flush(sync=True)
            self._file.close()
            self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def repair_torn_tail(path: str | os.PathLike) -> bool:
    """Cut a last line that has no newline (a write killed half-way) off ``path``; True when one was cut."""
    path = Path(path)
    if not path.exists():
        return False
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return False
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return False
        # walk back to the previous newline in blocks
        end = size
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            block = f.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                f.truncate(start + cut + 1)
                break
            end = start
        else:
            f.truncate(0)
        f.flush()
        os.fsync(f.fileno())
    return True


def trim_metrics(run_dir: str | os.PathLike, *, epoch: int, step: int) -> None:
    """Keep only the records of a run up to a checkpoint (epoch records <= ``epoch``, step records <=
    ``step``).

    A resumed run calls this before appending, so records written after the checkpoint it resumes from (and a
    torn last line) are dropped and redone, never duplicated.  The file is rewritten atomically.
    """
    path = Path(run_dir) / METRICS
    if not path.exists():
        return
    kept = []
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # torn last line
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            kind = record.get("kind")
            if kind == "epoch" and (record.get("epoch") or 0) > epoch:
                continue
            if kind == "step" and (record.get("step") or 0) > step:
                continue
            kept.append(raw)
    from ..atomic import write_bytes

    write_bytes(path, b"".join(kept))
