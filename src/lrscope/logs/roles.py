"""Recognise what each column of a training log is: learning rate, losses, accuracies or error rates, epoch,
step.

Names are normalised first ("Train Loss", "train_loss", "train/loss", "run-3 - train/loss" all become
``train loss``), then matched against common spellings.  Among several candidates for one role the most
specific
name wins, except that a learning-rate column that never changes (an option such as an initial
``learningRate``
repeated on every line) loses to one that changes.
"""

from __future__ import annotations

import re

import numpy as np

_SPLIT = re.compile(r"[^a-z0-9@]+")

_VAL = {"val", "valid", "validation", "test", "eval", "evaluation", "dev", "holdout", "te", "vl"}
_TRAIN = {"train", "training", "trn", "tr"}
_IGNORE = {
    "time",
    "runtime",
    "timestamp",
    "walltime",
    "wall",
    "duration",
    "seconds",
    "sec",
    "memory",
    "mem",
    "min",
    "max",
    "params",
    "parameters",
    "n",
    "speed",
    "throughput",
    "samples",
    "eta",
    "gpu",
    "data",
    "std",
    "var",
    "count",
    "size",
    "grad",
    "norm",
    "momentum",
    "wd",
    "decay",
    "ratio",
    "factor",
}
_STEP_WORDS = {
    "step",
    "steps",
    "global step",
    "globalstep",
    "iteration",
    "iterations",
    "iter",
    "iters",
    "it",
    "batch",
    "batches",
    "update",
    "updates",
    "trainer global step",
    "global_step",
}


def normalise(name: str) -> list[str]:
    """Lower-case word list of a column name, without W&B run prefixes ("run - metric") or __MIN/__MAX."""
    text = name.strip().strip('"').strip("'")
    if " - " in text:  # W&B export: "<run name> - <metric>"
        text = text.rsplit(" - ", 1)[1]
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # camelCase -> camel Case
    words = [w for w in _SPLIT.split(text.lower()) if w]
    return words


def is_summary_column(name: str) -> bool:
    """W&B exports add NAME__MIN / NAME__MAX beside each metric: never take those for a role."""
    return bool(re.search(r"__(min|max|step)$", name.strip(), re.IGNORECASE))


def _score_lr(words: list[str]) -> int:
    joined = " ".join(words)
    if not words:
        return 0
    if words in (["lr"], ["learning", "rate"], ["learningrate"], ["eta"]):
        return 10
    if "initial" in words or "init" in words or "base" in words or "max" in words or "min" in words:
        return 2
    if words[0] == "lr" or words[-1] == "lr" or "lr" in words:
        return 8 if not (set(words) & {"scale", "mult", "multiplier", "factor", "decay", "ratio", "step"}) else 1
    if "learning rate" in joined or "learningrate" in joined or ("learning" in words and "rate" in words):
        return 7 if not (set(words) & {"decay", "ratio", "factor"}) else 1
    return 0


def _kind(words: list[str]) -> str | None:
    """'loss', 'acc', 'err' or None."""
    ws = set(words)
    if ws & {
        "loss",
        "nll",
        "ce",
        "xent",
        "cost",
        "objective",
        "mse",
        "perplexity",
        "ppl",
        "bpd",
    } and not ws & {"scale", "scaler", "weight"}:
        return "loss"
    if ws & {"err", "error", "errors", "err1", "err5", "top1err", "top5err"}:
        return "err"
    if ws & {
        "acc",
        "accuracy",
        "top1",
        "top5",
        "acc1",
        "acc5",
        "acc@1",
        "acc@5",
        "prec1",
        "prec",
        "precision1",
        "correct",
        "score",
    }:
        return "acc"
    if any(w.startswith("acc") for w in words):
        return "acc"
    return None


def _side(words: list[str]) -> str:
    ws = set(words)
    if ws & _VAL:
        return "val"
    if ws & _TRAIN:
        return "train"
    return "plain"


def _metric_score(words: list[str]) -> int:
    """Higher for plainer, more canonical names (epoch-level over step-level)."""
    score = 10 - len(words)
    ws = set(words)
    if "epoch" in ws:
        score += 3
    if "step" in ws or "batch" in ws:
        score -= 3
    if ws & {"top5", "acc5", "err5", "top5err", "5"}:
        score -= 4
    if ws & {"avg", "mean", "average"}:
        score += 1
    if ws & {"smoothed", "smooth", "ema", "running"}:
        score -= 1
    return score


def choose_x(columns: dict[str, np.ndarray]) -> str:
    """The x axis: an epoch column for epoch-level logs, a step column for step-level ones, else 'row'."""
    epoch = step = None
    for name in columns:
        if is_summary_column(name):
            continue
        words = normalise(name)
        joined = " ".join(words)
        if epoch is None and joined in (
            "epoch",
            "epochs",
            "ep",
            "trainer epoch",
            "epoch num",
            "epoch number",
        ):
            epoch = name
        elif step is None and (joined in _STEP_WORDS or joined.replace(" ", "") in _STEP_WORDS):
            step = name
    if epoch is None and step is None:
        return "row"
    if epoch is None:
        return step
    if step is None:
        return epoch
    e = columns[epoch]
    groups = len(np.unique(e[np.isfinite(e)]))
    # epoch-level table (each column logged at most about once per epoch, maybe on separate lines, as PyTorch
    # Lightning does): use epoch
    if groups:
        most = max((np.isfinite(v).sum() for k, v in columns.items() if k not in (epoch, step)), default=0)
        if most / groups <= 1.5:
            return epoch
    # step-level table with fractional epochs: use step
    return step


def assign_roles(
    columns: dict[str, np.ndarray],
    *,
    lr: str | None = None,
    loss: str | None = None,
    x: str = "row",
    acc: str | None = None,
    val_loss: str | None = None,
    fixed: dict[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, bool], dict[str, bool], list[str]]:
    """Return (roles, lower_is_better, percent, notes).

    ``lr``, ``loss``, ``acc``, ``val_loss``: columns the user named (flags); ``fixed``: role -> column that a
    format reader knows (roles ``train_err``/``val_err`` are accuracy roles whose column is an error rate).
    The user's names win over ``fixed``, which wins over recognition by name.
    """
    roles: dict[str, str] = {}
    lower: dict[str, bool] = {}
    percent: dict[str, bool] = {}
    notes: list[str] = []
    candidates: dict[str, list[tuple[int, str]]] = {
        r: [] for r in ("lr", "train_loss", "val_loss", "train_acc", "val_acc")
    }
    error_cols: set[str] = set()
    for name in columns:
        if name == x or is_summary_column(name):
            continue
        words = normalise(name)
        if not words:
            continue
        joined = " ".join(words)
        if joined in ("epoch", "epochs") or joined in _STEP_WORDS:
            continue
        s = _score_lr(words)
        if s:
            candidates["lr"].append((s, name))
            continue
        kind = _kind(words)
        if kind is None:
            continue
        if set(words) & _IGNORE and kind != "loss" and not set(words) & {"acc", "accuracy", "err", "error"}:
            continue
        side = _side(words)
        score = _metric_score(words)
        if kind == "loss":
            role = "val_loss" if side == "val" else "train_loss"
            if side == "plain":
                score -= 1  # "loss" is usually the training loss, but an explicit "train loss" is surer
        else:
            role = "val_acc" if side == "val" else "train_acc"
            if kind == "err":
                error_cols.add(name)
            if (
                side == "plain"
                and kind in ("acc", "err")
                and ("top1" in words or "prec1" in words or "acc1" in words or "err1" in words)
            ):
                role = "val_acc"  # top1 without a side is the evaluation figure in ImageNet-style logs
        candidates[role].append((score, name))
    # the learning rate: prefer a column that changes over a constant one
    lr_c = sorted(candidates["lr"], key=lambda t: -t[0])
    if lr is not None:
        roles["lr"] = lr
    elif lr_c:
        changing = [c for c in lr_c if _changes(columns[c[1]])]
        chosen = (changing or lr_c)[0][1]
        if not changing and len(lr_c) > 1:
            pass
        elif changing and changing[0][1] != lr_c[0][1]:
            notes.append(f"column {lr_c[0][1]!r} never changes; took {chosen!r} as the learning rate")
        lr_vals = columns[chosen]
        fin = lr_vals[np.isfinite(lr_vals)]
        if len(fin) and np.all(fin > 0) or len(fin) and np.all(fin >= 0) and np.any(fin > 0):
            roles["lr"] = chosen
        else:
            notes.append(f"column {chosen!r} looks like a learning rate but holds no positive values: ignored")
    for role in ("train_loss", "val_loss", "train_acc", "val_acc"):
        cands = sorted(candidates[role], key=lambda t: -t[0])
        cands = [c for c in cands if c[1] not in roles.values()]
        if cands:
            roles[role] = cands[0][1]
    for role, name in (fixed or {}).items():
        target = {"train_err": "train_acc", "val_err": "val_acc"}.get(role, role)
        if target in ("lr", "epoch", "step") and target in roles and role not in (fixed or {}):
            continue
        for other, col in list(roles.items()):
            if col == name or other == target:
                del roles[other]
        roles[target] = name
        if role.endswith("err"):
            error_cols.add(name)
        elif target.endswith("acc"):
            error_cols.discard(name)
    for name, side_role in ((acc, "acc"), (val_loss, "val_loss")):
        if name is None:
            continue
        for role, col in list(roles.items()):
            if col == name:
                del roles[role]
        if side_role == "acc":
            words = normalise(name)
            target = "train_acc" if _side(words) == "train" else "val_acc"
            if _kind(words) == "err":
                error_cols.add(name)
        else:
            target = "val_loss"
        roles[target] = name
    if loss is not None:
        for role, name in list(roles.items()):
            if name == loss:
                del roles[role]
        words = normalise(loss)
        if _side(words) == "val":
            roles["val_loss"] = loss
        else:
            roles["train_loss"] = loss
    for role in ("train_loss", "val_loss", "train_acc", "val_acc"):
        name = roles.get(role)
        if name is None:
            continue
        lower[name] = role.endswith("loss") or name in error_cols
        vals = columns[name]
        fin = vals[np.isfinite(vals)]
        percent[name] = bool(role.endswith("acc") and len(fin) and fin.max() > 1.0 and fin.max() <= 100.0)
    if "epoch" not in roles:
        for name in columns:
            if " ".join(normalise(name)) in ("epoch", "epochs", "ep"):
                roles["epoch"] = name
                break
    for name in columns:
        if " ".join(normalise(name)) in _STEP_WORDS and "step" not in roles:
            roles["step"] = name
    if x in columns and x not in roles.values():
        roles["step" if "step" not in roles else "epoch"] = x
    return roles, lower, percent, notes


def _changes(values: np.ndarray) -> bool:
    fin = values[np.isfinite(values)]
    return len(fin) > 1 and bool(np.any(np.abs(np.diff(fin)) > 1e-12 * np.maximum(np.abs(fin[:-1]), 1e-300)))
