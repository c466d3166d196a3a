"""Hugging Face Trainer logs: ``trainer_state.json`` and the dicts the Trainer prints.

``trainer_state.json`` is one JSON document whose ``log_history`` is a list of records, in the order logged:

- training records: ``step``, ``epoch``, ``learning_rate``, ``loss``, often ``grad_norm``;
- evaluation records: ``eval_loss``, ``eval_<metric>`` (``eval_accuracy``, ``eval_wer``...), ``eval_runtime``,
  ``eval_samples_per_second``...; ``test_*`` records from ``predict`` likewise;
- at the end a summary (``train_loss`` averaged over the whole run, ``train_runtime``, ``total_flos``): not a
  row, only a note.

Printed logs hold the same records as Python dict reprs, one a line (``{'loss': 1.2734, 'grad_norm': 3.1,
'learning_rate': 4.9e-05, 'epoch': 0.04}``), among progress bars and warnings; they have no step, so x is the
(fractional) epoch.

One row per record, numeric fields only; timings and throughputs (``*_runtime``, ``*_per_second``, flos) are
left out.  Roles: ``learning_rate`` the rate, ``loss`` the training loss, ``eval_loss`` the validation loss,
an ``eval_*accuracy`` the validation accuracy, else an ``eval_wer``/``eval_cer``/error the validation error
(lower is better).
"""

from __future__ import annotations

import ast
import json
import math
import re

import numpy as np

from ...errors import UserError
from . import Parsed

_STATE_HEAD = re.compile(r"\s*\{")
_STATE_KEY = '"log_history"'
_HEAD_BYTES = 65536
_SNIFF_BYTES = 2_000_000
_LONGEST_DICT_LINE = 10_000
# a printed record: after optional progress-bar junk (no brace), a dict of 'name': value
_DICT_LINE = re.compile(r"^[^\n{]{0,400}(\{'[^\n]*\})[^\n}]*$", re.MULTILINE)
_RECORD_KEY = re.compile(r"'(?:eval_)?loss'|'learning_rate'")
_PAIR = re.compile(r"'([^'\n]{1,200})':\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf)")
_LEFT_OUT = re.compile(r"(runtime|_per_second|flos|_mem_|memory)", re.IGNORECASE)
_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos")
_ACC = re.compile(r"^eval_(?:.*_)?(?:accuracy|acc|top1|top_1|acc1)$")
_ERR = re.compile(r"^eval_(?:.*_)?(?:wer|cer|error|err|error_rate)$")
_VAL_LOSS = re.compile(r"^eval_(?:.*_)?loss$")


def sniff(text: str) -> bool:
    """A JSON document with "log_history" in its first 64 kB, or printed records ({'loss': ...} lines)."""
    if _STATE_HEAD.match(text) and _STATE_KEY in text[:_HEAD_BYTES]:
        return True
    head = text[:_SNIFF_BYTES]
    return "{'" in head and _count_dict_lines(head, 2) >= 2


def hint(text: str) -> str | None:
    head = text[:_HEAD_BYTES]
    if _STATE_HEAD.match(head) and ('"global_step"' in head or '"best_metric"' in head):
        return 'a Hugging Face trainer_state.json? no "log_history" list found'
    if "{'loss'" in head or "{'eval_loss'" in head:
        return "a Hugging Face Trainer log? no lines holding a whole {'loss': ..., 'epoch': ...} record found"
    return None


def read(text: str, label: str, notes: list[str]) -> Parsed:
    if _STATE_HEAD.match(text):
        document = _json(text)
        if isinstance(document, dict):
            return _read_state(document, label, notes)
        if document is not None:
            raise UserError(
                f'{label} is not a Hugging Face trainer_state.json: a JSON document with no "log_history" list'
            )
    return _read_printed(text, label, notes)


def _json(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# ------------------------------------------------------------------------------------------------ trainer_state


def _read_state(document: dict, label: str, notes: list[str]) -> Parsed:
    history = document.get("log_history")
    if not isinstance(history, list):
        raise UserError(
            f'{label} is not a Hugging Face trainer_state.json: a JSON document with no "log_history" list '
            f"(keys: {', '.join(list(document)[:8]) or 'none'})"
        )
    records = [r for r in history if isinstance(r, dict)]
    if not records:
        raise UserError(f'{label}: trainer_state.json\'s "log_history" holds no records (nothing was logged yet)')
    rows = _rows(records, notes)
    about = _state_note(document)
    if about:
        notes.append(about)
    return _parsed(rows, label, x="step" if "step" in rows else None)


def _state_note(document: dict) -> str | None:
    """What the document says beside its records: the best metric and where, the step counts."""
    parts = []
    best = document.get("best_metric")
    if _is_number(best):
        where = document.get("best_model_checkpoint")
        at = f" ({str(where).rstrip('/').rsplit('/', 1)[-1]})" if isinstance(where, str) and where else ""
        parts.append(f"best_metric {best:.4g}{at}")
    for key in ("global_step", "max_steps", "num_train_epochs"):
        if _is_number(document.get(key)):
            parts.append(f"{key} {document[key]:g}")
    return "trainer_state.json: " + ", ".join(parts) if parts else None


# ------------------------------------------------------------------------------------------------ printed dicts


def _count_dict_lines(text: str, enough: int) -> int:
    found = 0
    for m in _DICT_LINE.finditer(text):
        if len(m.group(1)) <= _LONGEST_DICT_LINE and _RECORD_KEY.search(m.group(1)):
            found += 1
            if found >= enough:
                break
    return found


def _read_printed(text: str, label: str, notes: list[str]) -> Parsed:
    records = []
    for m in _DICT_LINE.finditer(text):
        body = m.group(1)
        if len(body) > _LONGEST_DICT_LINE:
            continue
        record = _literal(body)
        if record:
            records.append(record)
    if not any(_is_record(r) for r in records):
        raise UserError(
            f'{label} is not a hf log: expected a trainer_state.json (a JSON document with "log_history") or '
            f"the Trainer's printed {{'loss': ..., 'learning_rate': ..., 'epoch': ...}} lines"
        )
    rows = _rows(records, notes)
    if "epoch" in rows:
        rows["epoch"] = _filled(rows["epoch"])
        x = "epoch"
    else:
        rows["record"] = np.arange(1, len(next(iter(rows.values()))) + 1, dtype=np.float64)
        x = "record"
        notes.append("the printed records hold no epoch: took record N as x")
    return _parsed(rows, label, x=x)


def _literal(body: str) -> dict | None:
    """A printed record as {name: float}: ast.literal_eval, or the 'name': number pairs when it holds more
    than literals (nan, tensor(...))."""
    try:
        value = ast.literal_eval(body)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        pairs = _PAIR.findall(body)
        return {k: float(v) for k, v in pairs} or None
    if not isinstance(value, dict):
        return None
    return {k: _float(v) for k, v in value.items() if isinstance(k, str) and _is_number(v)} or None


def _filled(epoch: np.ndarray) -> np.ndarray:
    """A record without an epoch takes the one before it (0 before the first)."""
    ok = np.isfinite(epoch)
    if ok.all():
        return epoch
    index = np.where(ok, np.arange(len(epoch)), -1)
    last = np.maximum.accumulate(index)
    return np.where(last >= 0, epoch[np.clip(last, 0, None)], 0.0)


# ------------------------------------------------------------------------------------------------ records to rows


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_record(record: dict) -> bool:
    """A training or evaluation record of the Trainer (not some other dict a script printed)."""
    return any(k in ("loss", "learning_rate") or k.startswith("eval_") for k in record)


def _is_summary(record: dict, last: bool) -> bool:
    """The end-of-training summary (average train_loss, runtimes, flos), not a training record: it holds a
    runtime or flos key, or, as the last record, train_* keys only."""
    if any(k in record for k in _SUMMARY_KEYS):
        return True
    keys = [k for k in record if k not in ("epoch", "step")]
    return last and bool(keys) and all(k.startswith("train_") for k in keys)


def _rows(records: list[dict], notes: list[str]) -> dict[str, np.ndarray]:
    """One row per record (summaries skipped and noted), numeric fields only."""
    kept = []
    for i, record in enumerate(records):
        if _is_summary(record, i == len(records) - 1):
            _note_summary(record, notes)
        else:
            kept.append(record)
    if not kept:
        raise UserError("the log holds only the Trainer's end-of-training summary: no training records")
    names: dict[str, None] = {}
    for record in kept:
        for key, value in record.items():
            if _is_number(value) and not _LEFT_OUT.search(key):
                names.setdefault(key, None)
    rows = {}
    for name in names:
        values = (record.get(name) for record in kept)
        rows[name] = np.fromiter(
            (_float(v) for v in values),
            dtype=np.float64,
            count=len(kept),
        )
    return rows


def _float(value) -> float:
    if not _is_number(value):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.nan


def _note_summary(record: dict, notes: list[str]) -> None:
    said = []
    if _is_number(record.get("train_loss")):
        said.append(f"train_loss {record['train_loss']:.4g}, the average over the run")
    if _is_number(record.get("train_runtime")):
        said.append(f"train_runtime {record['train_runtime']:.0f} s")
    at = f" at step {record['step']:g}" if _is_number(record.get("step")) else ""
    detail = f" ({'; '.join(said)})" if said else ""
    notes.append(f"left out the end-of-training summary record{at}{detail}: it is not a training step")


def _parsed(rows: dict[str, np.ndarray], label: str, x: str | None) -> Parsed:
    roles = {}
    if "learning_rate" in rows:
        roles["lr"] = "learning_rate"
    if "loss" in rows:
        roles["train_loss"] = "loss"
    val_loss = "eval_loss" if "eval_loss" in rows else next((k for k in rows if _VAL_LOSS.match(k)), None)
    if val_loss:
        roles["val_loss"] = val_loss
    acc = next((k for k in rows if _ACC.match(k)), None)
    err = next((k for k in rows if _ERR.match(k)), None)
    if acc:
        roles["val_acc"] = acc
    elif err:
        roles["val_err"] = err
    if x is None:
        x = "epoch" if "epoch" in rows else None
    return Parsed(columns=rows, x=x, roles=roles)
