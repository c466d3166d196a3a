"""MXNet / gluoncv text logs (Python ``logging`` output, with or without ``INFO:root:`` or time prefixes).

Epoch records (one row per epoch, x = ``epoch`` = N as printed, from 0)::

    [Epoch N] train=ACC val=ACC loss=L time: T             gluoncv CIFAR scripts (accuracies, training loss)
    [Epoch N] training: err-top1=E [err-top5=..|loss=..]   gluoncv ImageNet scripts: columns train/NAME,
    [Epoch N] validation: err-top1=E err-top5=E5           val/NAME (errors, lower is better)
    Epoch[N] Train-accuracy=A / Validation-accuracy=A      MXNet Module.fit (also Train-cross-entropy=...)
    [Epoch N] Set learning rate to Y                       gluoncv detection scripts

Batch records carry the rate and a running metric that restarts every epoch (a saw-tooth)::

    Epoch[N] Batch [B]  Speed: S samples/sec  top1-err=E  lr=Y     (also accuracy=, loss=, Batch [A-B])
    [Epoch N][Batch B], LR: Y, Speed: ..., ObjLoss=...
    Update[U]: Change learning rate to Y                           (MXNet's lr schedulers)

Each epoch row's ``lr`` is the rate of that epoch's first batch record (the rate used during the epoch).  With
no epoch records the batch records are the rows, x = ``step`` = N * (largest B + 1) + B.  The ``Namespace(...)``
line becomes a note; speeds, times and MXNet's own warnings are skipped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice

import numpy as np

from ...errors import UserError
from . import Parsed

_NUM = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?))"

_RECORD = re.compile(
    r"(?:\[Epoch (?P<a>\d+)\]|Epoch\[(?P<b>\d+)\])(?P<rest>[^\n]*)"
    rf"|Change learning rate to (?P<change>{_NUM})"
    r"|Namespace\((?P<ns>[^\n]*)\)"
)
_SNIFF = re.compile(r"\[Epoch \d+\]|Epoch\[\d+\]")
_BATCH = re.compile(r"\s*\[?Batch\s*\[?\s*(?:\d+\s*-\s*)?(\d+)\b\]?")
_PHASE_WORD = re.compile(r"\s*(training|train|validation|valid|val|test|testing|eval)\s*:", re.IGNORECASE)
# key=value (a key without spaces) or key: value (a key of words: "training accuracy: 0.5", "time cost: 12")
_PAIR = re.compile(
    rf"(?<![\w\-@/.])(?:([A-Za-z][\w\-@/.]*)\s*=|([A-Za-z][A-Za-z0-9_\-@/. ]*?)\s*:)\s*({_NUM})(?![\w.])"
)
_LR = re.compile(rf"\b(?:learning[ _-]?rate|lr)\b[^=:\n\d]{{0,12}}?(?:=|:|\bto\b)\s*({_NUM})", re.IGNORECASE)
_IGNORED = re.compile(r"time|cost|speed|sample|\bsec\b|\beta\b|elapsed|throughput|batch|epoch|^iter", re.IGNORECASE)
_LR_KEY = re.compile(r"^(?:lr|learning[ _-]?rate)$", re.IGNORECASE)
_PHASE = re.compile(r"^(training|train|trn|validation|valid|val|test|eval)(?:[-_/ ]+|$)", re.IGNORECASE)
_TOP_K = re.compile(r"top[-_ ]?[2-9k]|[2-9]$|@[2-9]", re.IGNORECASE)
_HEAD = 200_000

MISSING = "no `[Epoch N]` or `Epoch[N]` lines found"


def sniff(text: str) -> bool:
    """At least two ``[Epoch N]`` or ``Epoch[N]`` lines in the first 200 kB."""
    return len(list(islice(_SNIFF.finditer(text[:_HEAD]), 2))) == 2


def hint(text: str) -> str | None:
    if "Namespace(" in text[:_HEAD] and _SNIFF.search(text) is None:
        return f"a gluoncv/MXNet log? {MISSING}"
    return None


def read(text: str, label: str, notes: list[str]) -> Parsed:
    """The epoch table (or the batch table when the log has no epoch records); UserError when neither."""
    epochs: list[dict] = []
    batches: list[tuple[int, int, str, float | None]] = []
    namespace = None
    changes = "Change learning rate to" in text
    current_lr = None  # the rate in force, from batch lines and lr-scheduler messages
    batch_epoch = None  # epoch of the last batch line (a new value starts an epoch segment)
    segment_lr: tuple[int, float | None] | None = None  # (epoch, rate at its first batch line)
    cut = _cut_last(text)

    for m in _RECORD.finditer(text):
        if cut is not None and m.start() >= cut:
            break
        if m.group("ns") is not None:
            if namespace is None:
                namespace = _namespace(m.group("ns"))
                if changes and current_lr is None and "lr" in namespace:
                    current_lr = _float(namespace["lr"])
            continue
        if m.group("change") is not None:
            current_lr = float(m.group("change"))
            continue
        epoch = int(m.group("a") if m.group("a") is not None else m.group("b"))
        rest = m.group("rest")
        batch = _BATCH.match(rest)
        if batch is not None:
            # kept raw: parsed in full only when the log has no epoch records (batch lines can be millions)
            batches.append((epoch, int(batch.group(1)), rest[batch.end() :], current_lr))
            if epoch != batch_epoch:
                lr = _pairs(rest[batch.end() :], "")[1]
                if lr is not None:
                    current_lr = lr
                batch_epoch, segment_lr = epoch, (epoch, current_lr)
            continue
        phase = _PHASE_WORD.match(rest)
        prefix = ""
        if phase is not None:
            prefix = "train/" if phase.group(1).lower().startswith("tr") else "val/"
            rest = rest[phase.end() :]
        values, lr = _pairs(rest, prefix)
        if lr is not None:
            current_lr = lr
            values["lr"] = lr
        if not values:
            continue
        if "lr" not in values:
            if segment_lr is not None and segment_lr[0] == epoch:
                if segment_lr[1] is not None:
                    values["lr"] = segment_lr[1]
            elif current_lr is not None and batch_epoch != epoch:
                values["lr"] = current_lr
        _put(epochs, epoch, values)

    if namespace:
        said = _namespace_note(namespace)
        if said:
            notes.append(said)
    if cut is not None:
        notes.append("the last line is cut off (no line end): ignored it")
    has_metrics = any(len(row) > 2 or (len(row) == 2 and "lr" not in row) for row in epochs)
    if has_metrics:
        columns = _columns(epochs)
        said = f"MXNet/gluoncv log: {len(epochs)} epoch records"
        if batches:
            rate = "give each epoch's rate (its first batch line's); their" if "lr" in columns else "are not used:"
            said += f"; the {len(batches)} per-batch lines {rate} running metrics restart every epoch (not used)"
        notes.append(said)
        return Parsed(columns=columns, x="epoch", roles=_roles(columns))
    if batches:
        per_epoch = max(b for _, b, _, _ in batches) + 1
        rows = []
        for epoch, b, rest, lr_in_force in batches:
            values, lr = _pairs(rest, "")
            row = {"step": epoch * per_epoch + b, "epoch": epoch, **values}
            if lr is not None or lr_in_force is not None:
                row["lr"] = lr if lr is not None else lr_in_force
            rows.append(row)
        columns = _columns(rows)
        notes.append(
            f"MXNet/gluoncv log: no epoch records, so the rows are the {len(batches)} per-batch lines, x = step ="
            f" epoch * {per_epoch} + batch ({per_epoch} = largest batch index + 1); their running metrics restart"
            " every epoch"
        )
        return Parsed(columns=columns, x="step", roles=_roles(columns))
    raise UserError(f"{label} is not a gluoncv/MXNet log: {MISSING} with metrics (such as `[Epoch 0] train=0.5`)")


def _put(rows: list[dict], epoch: int, values: dict) -> None:
    """Join the last row when it is the same epoch and does not hold these values yet (file order kept)."""
    last = rows[-1] if rows else None
    if last is not None and last["epoch"] == epoch and not (values.keys() - {"lr"}) & last.keys():
        for k, v in values.items():
            last.setdefault(k, v)
    else:
        rows.append({"epoch": epoch, **values})


def _pairs(rest: str, prefix: str) -> tuple[dict[str, float], float | None]:
    """``key=value`` and ``key: value`` pairs of one record, less speeds and times; the rate separately."""
    values: dict[str, float] = {}
    lr = None
    for eq_key, colon_key, value in _PAIR.findall(rest):
        key = (eq_key or colon_key).strip()
        kind = _key_kind(key)
        if kind == "metric":
            values.setdefault(prefix + key, float(value))
        elif kind == "lr" and lr is None:
            lr = float(value)
    if lr is None and "rate" in rest:  # "Set learning rate to 0.001", "learning rate = 0.1"
        found = _LR.search(rest)
        if found is not None:
            lr = float(found.group(1))
    return values, lr


@lru_cache(maxsize=1024)
def _key_kind(key: str) -> str:
    """'lr', 'skip' (speeds, times, counters) or 'metric'; cached: a log repeats a handful of keys."""
    if _LR_KEY.match(key) or key.lower().endswith(("learning rate", " lr")):
        return "lr"
    return "skip" if _IGNORED.search(key) else "metric"


def _cut_last(text: str) -> int | None:
    """Offset of a last line without a line end whose final value may be cut, or None."""
    if not text or text.endswith("\n"):
        return None
    start = text.rfind("\n") + 1
    tail = text[start:].rstrip()
    last = None
    for pattern in (_PAIR, _LR):
        for m in pattern.finditer(tail):
            if m.end() == len(tail):
                last = m
    if last is None:
        return None
    return start if last.re is _LR or _key_kind((last.group(1) or last.group(2)).strip()) != "skip" else None


def _columns(rows: list[dict]) -> dict[str, np.ndarray]:
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    nan = float("nan")
    return {k: np.array([row.get(k, nan) for row in rows], dtype=np.float64) for k in keys}


def _classify(name: str) -> tuple[str, str] | None:
    """(phase, kind) of a metric column: phase train|val, kind acc|err|loss; None for other columns.

    gluoncv's bare ``train=``/``val=`` are accuracies; an unprefixed metric is a training one (the CIFAR
    ``loss=``, a batch line's ``top1-err=``)."""
    found = _PHASE.match(name)
    phase = "train"
    metric = name
    if found is not None:
        phase = "train" if found.group(1).lower().startswith(("tr",)) else "val"
        metric = name[found.end() :]
    low = metric.lower()
    if not low:
        return phase, "acc"
    if _TOP_K.search(low):
        return None
    if "err" in low:
        return phase, "err"
    if "acc" in low or re.search(r"top[-_ ]?1|prec", low):
        return phase, "acc"
    if re.search(r"loss|cross[-_ ]?entropy|^ce$|nll", low):
        return phase, "loss"
    return None


def _roles(columns: dict[str, np.ndarray]) -> dict[str, str]:
    roles: dict[str, str] = {}
    if "lr" in columns:
        roles["lr"] = "lr"
    for name in columns:
        kind = _classify(name)
        if kind is None:
            continue
        phase, what = kind
        if what == "loss":
            roles.setdefault(f"{phase}_loss", name)
        elif f"{phase}_acc" not in roles and f"{phase}_err" not in roles:
            roles[f"{phase}_{what}"] = name
    # an accuracy outranks an error column of the same phase (both fill one role)
    for phase in ("train", "val"):
        acc = next((n for n in columns if _classify(n) == (phase, "acc")), None)
        if acc is not None and f"{phase}_err" in roles:
            del roles[f"{phase}_err"]
            roles[f"{phase}_acc"] = acc
    return roles


def _float(text: str) -> float | None:
    try:
        return float(text.strip().strip("'\""))
    except ValueError:
        return None


def _namespace(body: str) -> dict[str, str]:
    """``Namespace(a=1, b='x,y', c=None)`` as name -> value text (quotes kept off)."""
    return {k: v.strip("'\"") for k, v in re.findall(r"(\w+)=('[^']*'|\"[^\"]*\"|[^,]*)", body)}


def _namespace_note(ns: dict[str, str]) -> str | None:
    """'Namespace: lr 0.1, lr_decay 0.1 at epochs 100,150, num_epochs 200' (gluoncv and MXNet fit.py names)."""
    lr = ns.get("lr")
    if lr is None:
        return None
    said = [f"lr {lr}"]
    mode = ns.get("lr_mode")
    if mode:
        said.append(f"lr_mode {mode}")
    decay = ns.get("lr_decay") or ns.get("lr_factor")
    at = ns.get("lr_decay_epoch") or ns.get("lr_step_epochs")
    period = _float(ns.get("lr_decay_period", "0")) or 0
    if mode in (None, "step") and decay:
        name = "lr_decay" if "lr_decay" in ns else "lr_factor"
        if period > 0:
            said.append(f"{name} {decay} every {ns['lr_decay_period']} epochs")
        elif at:
            said.append(f"{name} {decay} at epochs {at}")
    warm = ns.get("warmup_epochs")
    if warm and (_float(warm) or 0) > 0:
        said.append(f"warmup_epochs {warm}")
    epochs = ns.get("num_epochs")
    if epochs:
        said.append(f"num_epochs {epochs}")
    return "Namespace: " + ", ".join(said)
