"""Record anyone's training loop into an lrscope run directory (no torch needed).

>>> rec = Recorder("runs/exp1", config={"model": "resnet20", "seed": 0})
>>> rec.step(step=1, lr=0.1, loss=2.30)
>>> rec.epoch(epoch=1, lr=0.1, train_loss=2.1, val_loss=2.0, val_acc=0.31)
>>> rec.close()

Each record is one JSON line in ``metrics.jsonl`` with ``"kind": "step"`` or ``"kind": "epoch"``.  Step records are
buffered and written in blocks (cheap); epoch records flush the buffer and fsync, so an acknowledged epoch survives
a crash.  Non-finite numbers are stored as null (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
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
    ``mode="append"`` continues one (a resumed run).  ``buffer_steps`` step records are buffered before a write.
    """

    def __init__(self, run_dir: str | os.PathLike, config: dict | None = None, *, mode: str = "new",
                 buffer_steps: int = 256, enabled: bool = True):
        if mode not in ("new", "append"):
            raise UserError(f"Recorder mode must be 'new' or 'append', got {mode!r}")
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self._buffer: list[str] = []
        self._buffer_steps = max(1, int(buffer_steps))
        self._file = None
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
        self._file = open(metrics, "ab")

    def write_config(self, config: dict) -> None:
        document = dict(config)
        document.setdefault("versions", versions())
        document.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        write_json(self.run_dir / CONFIG, _clean(document))

    def step(self, *, step: int, lr: float, loss: float, **extra: Any) -> None:
        """One optimizer step: its global count, the rate used, the batch loss, anything else."""
        if not self.enabled:
            return
        record = {"kind": "step", "step": int(step), "lr": lr, "loss": loss, **extra}
        self._buffer.append(json.dumps(_clean(record), allow_nan=False))
        if len(self._buffer) >= self._buffer_steps:
            self._write_buffer()

    def epoch(self, *, epoch: int, lr: float, train_loss: float | None = None, val_loss: float | None = None,
              val_acc: float | None = None, **extra: Any) -> None:
        """One completed epoch (1-based); flushed and fsynced before this returns."""
        if not self.enabled:
            return
        record = {"kind": "epoch", "epoch": int(epoch), "lr": lr, "train_loss": train_loss,
                  "val_loss": val_loss, "val_acc": val_acc, **extra}
        self._buffer.append(json.dumps(_clean(record), allow_nan=False))
        self.flush(sync=True)

    def flush(self, sync: bool = False) -> None:
        if self._file is None:
            return
        self._write_buffer()
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def _write_buffer(self) -> None:
        if self._buffer and self._file is not None:
            self._file.write(("\n".join(self._buffer) + "\n").encode("utf-8"))
            self._buffer.clear()

    def close(self) -> None:
        if self._file is not None:
            self.flush(sync=True)
            self._file.close()
            self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
