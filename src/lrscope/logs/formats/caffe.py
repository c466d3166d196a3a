"""Caffe's glog text log (``caffe train ... 2>&1 | tee log``).

Each line carries a glog prefix (``I0412 10:33:00.123456 17350 solver.cpp:228] ...``); the records read are::

    Iteration N, Testing net (#k)                      a test pass of test net k at iteration N, then
        Test net output #j: NAME = V (* W = L loss)    one line per output (accuracy, loss, ...)
    Iteration N, loss = X                              display record: the training loss, averaged over the
                                                       solver's ``average_loss`` iterations (newer Caffe writes
                                                       ``Iteration N (S iter/s, ...), loss = X``)
        Train net output #j: NAME = V (* W = L loss)   the last batch's outputs
    Iteration N, lr = Y                                (sgd_solver.cpp) the rate used from iteration N

One row per iteration that has a record, in file order (a test at iteration N, written before or after the
display record of N, joins N's row; appended runs and resumed solvers keep their order, so x may go back).
Columns: ``iteration``, ``loss`` (display loss), ``lr``, ``train/NAME``, ``test/NAME`` (test net #0) and
``testK/NAME`` (test net #K).  The solver and net dumps at the start (protobuf text that glog may cut mid-line)
are skipped; the solver's rate settings become a note.
"""

from __future__ import annotations

import re
from itertools import islice

import numpy as np

from ...errors import UserError
from . import Parsed

_NUM = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?))"

# Each record kind has its own pattern with a literal start (re then skips ahead fast); the events are merged
# back into file order by offset.  The lazy [^\n]*? stays on the record's own line.
_HEADER = re.compile(rf"Iteration (\d+)[^\n]*?, (?:(loss|lr) = ({_NUM})|Testing net \(#(\d+)\))")
_OUTPUT = re.compile(rf"net output #\d+: ([^\n=]+?) = ({_NUM})(?: \(\* ({_NUM}) = )?")
_SOLVING = re.compile(r"\] Solving ")
_GLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\] ", re.MULTILINE)
_GLOG_CAFFE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ (?:solver|sgd_solver|net|caffe)\.cpp:\d+\] ", re.MULTILINE
)
_SNIFF = re.compile(r"Iteration \d+[^\n]*?, (?:loss = |Testing net)")
_SOLVER = re.compile(r"Initializing solver from parameters: *\n((?:(?![IWEF]\d{4} )[^\n]*\n)*)")
_SOLVER_KEYS = ("base_lr", "lr_policy", "stepsize", "stepvalue", "gamma", "power", "max_lr", "max_iter")
_HEAD = 200_000

_TOP_K = re.compile(r"top[-_ ]?[2-9]|@[2-9]|acc(?:uracy)?[-_ ]?[2-9]\b|top[-_ ]?k", re.IGNORECASE)
_ERR = re.compile(r"err", re.IGNORECASE)
_ACC = re.compile(r"acc|top[-_ ]?1|prec|map\b|auc|iou", re.IGNORECASE)

MISSING = "no `Iteration N, loss = X` lines found"


def sniff(text: str) -> bool:
    """At least two display or test records in the first 200 kB, or a glog line from Caffe's solver/net."""
    head = text[:_HEAD]
    if len(list(islice(_SNIFF.finditer(head), 2))) == 2:
        return True
    return _GLOG_CAFFE.search(head) is not None


def hint(text: str) -> str | None:
    head = text[:_HEAD]
    caffe_like = "solver.cpp" in head or "Solving " in head or _GLOG.search(head) is not None
    if caffe_like and _SNIFF.search(text) is None:
        return f"a Caffe log? {MISSING}"
    return None


def read(text: str, label: str, notes: list[str]) -> Parsed:
    """The log's records as columns; UserError when it holds no display or test record."""
    rows: list[dict] = []
    weights: dict[str, float] = {}
    counts = {"display": 0, "test": 0, "lr": 0, "solving": 0, "restore": text.count("Restoring previous solver status")}
    cut = _cut_last(text)
    end = len(text) if cut is None else cut
    events = [(m.start(), 0, m.groups()) for m in _HEADER.finditer(text, 0, end)]
    events += [(m.start(), 1, m.groups()) for m in _OUTPUT.finditer(text, 0, end)]
    events += [(m.start(), 2, None) for m in _SOLVING.finditer(text, 0, end)]
    events.sort()
    display_it = test_it = None
    test_prefix = "test"
    last: dict | None = None
    for pos, code, groups in events:
        if code == 0:
            it = int(groups[0])
            kind = groups[1]
            if kind is None:  # Testing net (#k)
                net = int(groups[3])
                test_it, test_prefix = it, ("test" if net == 0 else f"test{net}")
                counts["test"] += net == 0
                continue
            if kind == "loss":
                display_it, test_it = it, None
                key = "loss"
            else:
                key = "lr"
            counts["display" if kind == "loss" else "lr"] += 1
            value = float(groups[2])
        elif code == 1:
            if text.startswith("Train ", pos - 6):
                if display_it is None:
                    continue
                key, it = f"train/{groups[0].strip()}", display_it
            elif text.startswith("Test ", pos - 5):
                if test_it is None:
                    continue
                key, it = f"{test_prefix}/{groups[0].strip()}", test_it
            else:
                continue
            value = float(groups[1])
            if groups[2] is not None and key not in weights:
                weights[key] = float(groups[2])
        else:
            counts["solving"] += 1
            display_it = test_it = None
            continue
        # a record joins the last row when it is the same iteration and the row lacks this value
        if last is not None and last["iteration"] == it and key not in last:
            last[key] = value
        else:
            last = {"iteration": it, key: value}
            rows.append(last)

    if not rows:
        raise UserError(f"{label} is not a Caffe log: {MISSING} (nor `Iteration N, Testing net` blocks)")
    if cut is not None:
        notes.append("the last line is cut off (no line end): ignored it")
    columns = _columns(rows)
    _describe(text, counts, columns, notes)
    return Parsed(columns=columns, x="iteration", roles=_roles(columns, weights))


def _cut_last(text: str) -> int | None:
    """Offset where a last line without a line end starts (its number may be cut), or None."""
    if not text or text.endswith("\n"):
        return None
    start = text.rfind("\n") + 1
    return start if re.search(rf"{_NUM}\s*$", text[start:]) else None


def _columns(rows: list[dict]) -> dict[str, np.ndarray]:
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    nan = float("nan")
    return {k: np.array([row.get(k, nan) for row in rows], dtype=np.float64) for k in keys}


def _roles(columns: dict[str, np.ndarray], weights: dict[str, float]) -> dict[str, str]:
    """The display loss trains, the rate is ``lr``; the first test net's outputs are chosen by name: the loss
    with the largest loss weight, then an accuracy (or error) of the same head (GoogLeNet's loss3/top-1)."""
    roles: dict[str, str] = {}
    if "loss" in columns:
        roles["train_loss"] = "loss"
    if "lr" in columns:
        roles["lr"] = "lr"
    tests = [k for k in columns if k.startswith("test/")]
    names = {k: k[len("test/") :] for k in tests}
    losses = [
        k for k in tests if "loss" in names[k].lower() and not _ACC.search(names[k]) and not _ERR.search(names[k])
    ]
    head = ""
    if losses:
        best = max(losses, key=lambda k: (weights.get(k, 0.0), names[k].lower() == "loss"))
        roles["val_loss"] = best
        head = names[best].rsplit("/", 1)[0] + "/" if "/" in names[best] else ""
    single = [k for k in tests if k not in losses and not _TOP_K.search(names[k])]
    for role, pattern in (("val_acc", _ACC), ("val_err", _ERR)):
        found = [k for k in single if pattern.search(names[k]) and (role == "val_err" or not _ERR.search(names[k]))]
        if found:
            roles[role] = next((k for k in found if names[k].startswith(head)), found[0]) if head else found[0]
            break
    return roles


def _describe(text: str, counts: dict, columns: dict, notes: list[str]) -> None:
    tests = ", ".join(k for k in columns if k.startswith("test"))
    parts = [f"{counts['display']} display records"]
    if counts["test"]:
        parts.append(f"{counts['test']} test passes ({tests})")
    if counts["lr"]:
        parts.append(f"{counts['lr']} lr lines")
    notes.append("Caffe log: " + ", ".join(parts) + "; loss is the display loss, train/* the last batch's outputs")
    seen: list[str] = []
    for m in _SOLVER.finditer(text):
        said = _solver_note(m.group(1))
        if said and said not in seen:
            seen.append(said)
    notes.extend(seen[:3])
    if counts["solving"] > 1:
        notes.append(f"the log holds {counts['solving']} solver runs (`Solving` lines), appended in file order")
    if counts["restore"]:
        notes.append(f"the solver was restored from a snapshot {counts['restore']} time(s) (a resumed run)")


def _solver_note(block: str) -> str | None:
    """'solver: base_lr 0.35, lr_policy multistep, stepvalue 50000 70000, gamma 0.1, max_iter 80000'."""
    values: dict[str, list[str]] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in _SOLVER_KEYS + ("average_loss",):  # top level only: nested lines are indented
            values.setdefault(key, []).append(value.strip().strip('"'))
    said = [f"{k} {' '.join(values[k])}" for k in _SOLVER_KEYS if k in values]
    if values.get("average_loss", ["1"])[0] not in ("1", ""):
        said.append(f"average_loss {values['average_loss'][0]} (the display loss is that running mean)")
    return "solver: " + ", ".join(said) if said else None
