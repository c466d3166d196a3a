"""Recognise what each column of a training log is: learning rate, losses, accuracies or error rates, epoch,
step.

Names are normalised to words first ("Train Loss", "train_loss", "train/loss", "run-3 - train/loss" all become
``train loss``; "top1Accuracy" becomes ``top1 accuracy``, "metrics/mAP_0.5" ``metrics map 0.5``), then read:

- **kind**: a learning rate (``lr``, ``learning_rate``, ``x/lr0``, ``lr-SGD/pg1``, ``epoch_lr``), a loss
  (``loss``, ``nll``, ``mse``...), or a metric of one *family*: accuracy (``acc``, ``top1``), average precision
  (``mAP``, ``bbox/AP``), error rate (``err``, ``class_error``, ``wer``, ``cer``), score (``dice_coef``,
  ``iou``, ``f1``, ``bleu``), precision/recall, perplexity (``ppl``: lower is better, an error-like metric).
  Times, counts, norms and sizes (``hours``, ``eta_seconds``, ``grad_norm``, ``n_parameters``, ``tokens``...)
  are never metrics.
- **side**: training (``train``, or no side for a loss or a plain accuracy), validation (``val``, ``valid``,
  ``eval``, ``validation``; YOLO's ``metrics/``; an AP, a top-1 figure, a WER/BLEU without a side), or test.

Among several candidates for one role, in this order: a column with at least 3 finite values beats a summary
figure (Hugging Face's one ``train_loss``); a whole beats a part (``total_loss`` over ``loss_cls``; YOLO's
``box``/``obj``/``cls`` losses are parts: with no total the first is used and a note says so); validation
beats test (``test_*`` columns with fewer than 3 values, the test-at-end row of a Lightning log, are dropped
when a validation column exists); accuracy > AP > error rate > score > precision/recall = perplexity; then the
plainest name (top-5, unscaled, per-layer, per-class, smoothed or running-best variants lose); then column
order.  Variants of one metric that differ only by a step/epoch qualifier (Lightning's ``train_loss_step`` and
``train_loss_epoch``): the one with more finite values, the epoch-level one on a tie, said in a note.

Learning rate: a column that changes beats one that never does (an option such as an initial ``learningRate``
repeated on every line), with a relative tolerance of 1e-6 so that float32 noise is no change.  Per parameter
group columns (``x/lr0``, ``x/lr1``, ``x/lr2``; ``lr-SGD``, ``lr-SGD/pg1``): the group that most other groups
agree with (equal within 1e-6 on every row both log), else the first weight group (Ultralytics' group 0 is
the bias group, warmed up from ``warmup_bias_lr``), said in a note.

Everything here looks at names, and at values only through O(n) NumPy passes (finite counts, equality of
two columns), so it stays cheap on logs of millions of rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .names import (
    ACC_N,
    ACC_WORDS,
    AGGREGATE,
    AP_WORDS,
    ENOUGH,
    ERR_WORDS,
    EVAL_FAMILY_WORDS,
    HEAD_WORDS,
    IGNORE,
    LEVEL,
    LOSS_WORDS,
    LOWER_FAMILIES,
    NOT_LOSS,
    PPL_WORDS,
    PR_WORDS,
    SCORE_WORDS,
    TEST,
    TIER,
    TOP5,
    TRAIN,
    VAL,
    VARIANT,
    epoch_column,
    is_step_name,
    is_summary_column,
    is_x_name,
    joined_words,
    normalise,
    step_column,
)

# ------------------------------------------------------------------------------------------ learning rate


_GROUP_WORD = re.compile(r"^(?:lr|pg|group)(\d+)$")


def _score_lr(words: list[str]) -> int:
    """How surely a name is a learning rate: 10 plain, 7-8 qualified, 1-2 a setting (initial, decay), 0 not."""
    if not words:
        return 0
    ws = set(words)
    if words in (["lr"], ["learning", "rate"], ["learningrate"], ["eta"]):
        return 10
    has_lr = "lr" in ws or any(_GROUP_WORD.match(w) and w.startswith("lr") for w in words)
    if ws & {"initial", "init", "base", "max", "min", "lrf"}:
        return 2 if has_lr or "learning" in ws or "learningrate" in ws else 0
    if has_lr:
        return 8 if not ws & {"scale", "mult", "multiplier", "factor", "decay", "ratio", "step"} else 1
    joined = " ".join(words)
    if "learning rate" in joined or "learningrate" in joined:
        return 7 if not ws & {"decay", "ratio", "factor"} else 1
    return 0


def _lr_group(words: list[str]) -> tuple[tuple[str, ...], int]:
    """(the name without its parameter-group index, the index; 0 when none): x/lr1 -> (x lr, 1)."""
    base: list[str] = []
    group = 0
    for i, w in enumerate(words):
        m = _GROUP_WORD.match(w)
        if m:
            group = int(m.group(1))
            if w.startswith("lr"):
                base.append("lr")
        elif w.isdigit() and i > 0 and words[i - 1] in ("lr", "group"):
            group = int(w)
        else:
            base.append(w)
    return tuple(base), group


@dataclass(frozen=True)
class _Rate:
    name: str
    index: int
    score: int
    base: tuple[str, ...]
    group: int


def _choose_lr(rates: list[_Rate], columns: dict[str, np.ndarray], notes: list[str]) -> str | None:
    ordered = sorted(rates, key=lambda r: (-r.score, r.index))
    changing = [r for r in ordered if _changes(columns[r.name])]
    chosen = (changing or ordered)[0]
    if changing and chosen.name != ordered[0].name:
        notes.append(f"column {ordered[0].name!r} never changes; took {chosen.name!r} as the learning rate")
    family = sorted((r for r in rates if r.base == chosen.base), key=lambda r: (r.group, r.index))
    if len(family) > 1 and len({r.group for r in family}) == len(family):
        chosen, why = _choose_group(family, columns)
        names = ", ".join(repr(r.name) for r in family)
        notes.append(f"{len(family)} learning-rate columns (per parameter group: {names}): used {chosen.name!r}, {why}")
    fin = columns[chosen.name][np.isfinite(columns[chosen.name])]
    if len(fin) and np.all(fin >= 0) and np.any(fin > 0):
        return chosen.name
    notes.append(f"column {chosen.name!r} looks like a learning rate but holds no positive values: ignored")
    return None


def _choose_group(family: list[_Rate], columns: dict[str, np.ndarray]) -> tuple[_Rate, str]:
    """The group most others agree with; else the first weight group."""
    agree = [sum(_same(columns[a.name], columns[b.name]) for b in family if b is not a) for a in family]
    best = max(agree)
    if best > 0:
        return family[agree.index(best)], "the rate most groups share"
    if family[0].base == ("x", "lr") and family[0].group == 0:
        # Ultralytics YOLO: group 0 holds the biases (warmed up from warmup_bias_lr), 1 and 2 the weights
        return family[1], "the first weight group (x/lr0 is the bias group)"
    return family[0], "the first group (the groups' rates differ)"


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return False
    x, y = a[both], b[both]
    return bool(np.all(np.abs(x - y) <= 1e-6 * np.maximum(np.abs(x), np.abs(y))))


def _changes(values: np.ndarray) -> bool:
    """True when consecutive finite values differ by more than 1e-6 relative (float32 noise is no change)."""
    fin = values[np.isfinite(values)]
    return len(fin) > 1 and bool(np.any(np.abs(np.diff(fin)) > 1e-6 * np.maximum(np.abs(fin[:-1]), 1e-300)))


# ------------------------------------------------------------------------------------------------ metrics


@dataclass(frozen=True)
class _Metric:
    name: str
    index: int
    role: str  # train_loss, val_loss, train_acc, val_acc
    family: str  # loss, acc, ap, err, score, pr, ppl
    side: str  # train, val, test, plain
    part: bool  # one part of a loss (box, cls, an auxiliary layer) or an accuracy of one detector head
    total: bool
    plain: float  # higher for plainer names
    base: tuple[str, ...]  # the words without step/epoch qualifiers
    level: str | None  # "step", "epoch" or None


def _family(ws: set[str], words: list[str]) -> str | None:
    if ws & LOSS_WORDS and not ws & NOT_LOSS:
        return "loss"
    if ws & PPL_WORDS:
        return "ppl"
    if ws & ERR_WORDS:  # before accuracy: top1_err is an error rate
        return "err"
    if ws & ACC_WORDS or any(ACC_N.match(w) for w in words):
        return "acc"
    if ws & AP_WORDS:
        return "ap"
    if ws & SCORE_WORDS or {"io", "u"} <= ws:  # Keras writes MeanIoU as mean_io_u
        return "score"
    if ws & PR_WORDS:
        return "pr"
    return None


def _side(words: list[str]) -> str:
    ws = set(words)
    if ws & VAL:
        return "val"
    if ws & TEST:
        return "test"
    if ws & TRAIN:
        return "train"
    return "plain"


def _classify(name: str, index: int) -> _Metric | None:
    words = normalise(name)
    ws = set(words)
    family = _family(ws, words)
    if family is None:
        return None
    if ws & IGNORE and not ws & ({"loss", "losses"} | ACC_WORDS | ERR_WORDS):
        return None
    side = _side(words)
    if side == "plain" and "metrics" in ws:
        side = "val"  # YOLO's metrics/precision, metrics/mAP_0.5 are measured on the validation set
    levels = ws & LEVEL
    level = "step" if levels & {"step", "steps", "batch", "iter"} else ("epoch" if levels else None)
    base = tuple(w for w in words if w not in LEVEL)
    kind_words = LOSS_WORDS | ACC_WORDS | ERR_WORDS | PPL_WORDS | AP_WORDS | SCORE_WORDS | PR_WORDS
    neutral = VAL | TEST | TRAIN | AGGREGATE | kind_words | {"io", "u", "value"}
    extra = [w for w in base if w not in neutral]
    total = bool(ws & {"total", "sum", "overall"})
    if family == "loss":
        part = bool(extra) and not total
    elif family == "ap":
        part = False
    else:
        part = bool(set(extra) & HEAD_WORDS)
    plain = 10.0 - len(base)
    if ws & TOP5:
        plain -= 4
    if ws & VARIANT:
        plain -= 3
    if ws & {"avg", "mean", "average"}:
        plain += 1
    if family == "ap":
        plain -= _ap_qualifier_penalty(words)
    if family == "loss":
        role = "val_loss" if side in ("val", "test") else "train_loss"
    else:
        evaluation = side in ("val", "test") or (side == "plain" and bool(ws & EVAL_FAMILY_WORDS))
        role = "val_acc" if evaluation else "train_acc"
    return _Metric(name, index, role, family, side, part, total, plain, base, level)


def _ap_qualifier_penalty(words: list[str]) -> float:
    """AP at one IoU threshold (0.5) over a range (0.5:0.95), per size (APs) or per class (AP-3) last."""
    penalty = 0.0
    for w in words:
        if w in ("0.5", "50", "ap50", "map50"):
            penalty += 1
        elif w in ("0.75", "75", "ap75", "map75", "0.95", "95"):  # a stricter threshold, or a range's end
            penalty += 2
        elif w in ("aps", "apm", "apl"):
            penalty += 4
        elif w.isdigit():
            penalty += 5  # a class index
        elif w == "m":
            penalty += 1  # YOLOv8 (M): the mask's AP after the box's (B)
    return penalty


def _rank(m: _Metric, count: int, enough: int) -> tuple:
    if m.role.startswith("val"):
        side_rank = {"val": 2, "plain": 1, "test": 0}[m.side]
    else:
        side_rank = {"train": 2, "plain": 1}.get(m.side, 0)
    return (count >= enough, not m.part, TIER[m.family], side_rank, m.total, m.plain, -m.index)


def _choose_metric(role: str, cands: list[_Metric], counts: dict[str, int], notes: list[str]) -> _Metric | None:
    if not cands:
        return None
    enough = min(ENOUGH, max(counts[c.name] for c in cands))
    ranked = sorted(cands, key=lambda c: _rank(c, counts[c.name], enough), reverse=True)
    best = ranked[0]
    # the same metric at step and at epoch level: the one with more values
    variants = [
        c
        for c in ranked
        if c.base == best.base and c.family == best.family and c.side == best.side and counts[c.name] >= enough
    ]
    if len({c.level for c in variants}) > 1:
        chosen = max(variants, key=lambda c: (counts[c.name], c.level == "epoch", -c.index))
        others = ", ".join(f"{c.name!r} ({counts[c.name]})" for c in variants if c is not chosen)
        notes.append(
            f"{_ROLE_WORDS[role]}: used {chosen.name!r} ({counts[chosen.name]} values) rather than {others}: "
            f"the one with more values"
        )
        best = chosen
    return best


def _parts_note(chosen: list[tuple[_Metric, list[_Metric]]]) -> str | None:
    """One note for the loss roles that had to take one part of a loss logged only in parts (YOLO)."""
    said = [(best, parts) for best, parts in chosen if best.part and len(parts) > 1]
    if not said:
        return None
    first_parts = said[0][1]
    shown = ", ".join(repr(c.name) for c in first_parts[:6]) + (" ..." if len(first_parts) > 6 else "")
    used = " and ".join(repr(best.name) for best, _ in said)
    return f"the loss is logged as separate parts ({shown}; no total): used {used}"


_ROLE_WORDS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
}


def _recognise_metrics(
    columns: dict[str, np.ndarray], skip: set[str], notes: list[str]
) -> tuple[dict[str, str], set[str]]:
    metrics = []
    for index, name in enumerate(columns):
        if name in skip or is_summary_column(name) or is_x_name(joined_words(name)):
            continue
        m = _classify(name, index)
        if m is not None:
            metrics.append(m)
    counts = {m.name: int(np.count_nonzero(np.isfinite(columns[m.name]))) for m in metrics}
    has_val = any(m.side == "val" and counts[m.name] >= ENOUGH for m in metrics)
    if has_val:  # a test-at-end row (Lightning's test_loss, test_acc) is never a curve
        metrics = [m for m in metrics if not (m.side == "test" and counts[m.name] < ENOUGH)]
    if any(m.family == "loss" or not m.part for m in metrics):
        # a detector head's own accuracy (fast_rcnn/cls_accuracy) is taken only when nothing else is logged
        metrics = [m for m in metrics if m.family == "loss" or not m.part]
    roles: dict[str, str] = {}
    lower: set[str] = set()
    loss_choices = []
    for role in ("train_loss", "val_loss", "train_acc", "val_acc"):
        cands = [m for m in metrics if m.role == role]
        best = _choose_metric(role, cands, counts, notes)
        if best is None:
            continue
        roles[role] = best.name
        if best.family in LOWER_FAMILIES:
            lower.add(best.name)
        if role.endswith("loss"):
            loss_choices.append((best, [c for c in cands if c.part and c.side == best.side]))
    note = _parts_note(loss_choices)
    if note:
        notes.append(note)
    return roles, lower


# ------------------------------------------------------------------------------------------------ x axis


def choose_x(columns: dict[str, np.ndarray]) -> str:
    """The x axis: an epoch column for epoch-level logs, a step column for step-level ones, else 'row'."""
    epoch, step = epoch_column(columns), step_column(columns)
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


# ------------------------------------------------------------------------------------------------ roles


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
    notes: list[str] = []
    fixed = dict(fixed or {})
    skip = {x} | {c for c in (lr, loss, acc, val_loss) if c is not None} | set(fixed.values())
    rates = []
    for index, name in enumerate(columns):
        if name in skip or is_summary_column(name):
            continue
        words = normalise(name)
        s = _score_lr(words)
        if s and words == ["eta"] and not np.nanmax(np.abs(columns[name]), initial=0.0) <= 1.0:
            s = 0  # "eta" is a rate only when it looks like one: an ETA in seconds is not
        if s:
            base, group = _lr_group(words)
            rates.append(_Rate(name, index, s, base, group))
    roles: dict[str, str] = {}
    if "lr" not in fixed and lr is None and rates:
        chosen = _choose_lr(rates, columns, notes)
        if chosen is not None:
            roles["lr"] = chosen
    skip |= {r.name for r in rates}
    found, lower_cols = _recognise_metrics(columns, skip, notes)
    roles.update(found)
    for role, name in fixed.items():
        target = {"train_err": "train_acc", "val_err": "val_acc"}.get(role, role)
        _put(roles, target, name)
        if role.endswith("err"):
            lower_cols.add(name)
        elif target.endswith("acc"):
            lower_cols.discard(name)
    if lr is not None:
        _put(roles, "lr", lr)
    for name, flag in ((acc, "acc"), (val_loss, "val_loss"), (loss, "loss")):
        if name is None:
            continue
        m = _classify(name, 0)
        side = _side(normalise(name))
        if flag == "acc":
            target = "train_acc" if side == "train" else "val_acc"
            if m is not None and m.family in ("err", "ppl"):
                lower_cols.add(name)
            else:
                lower_cols.discard(name)
        elif flag == "val_loss":
            target = "val_loss"
        else:
            target = "val_loss" if side in ("val", "test") else "train_loss"
        _put(roles, target, name)
    lower: dict[str, bool] = {}
    percent: dict[str, bool] = {}
    for role in ("train_loss", "val_loss", "train_acc", "val_acc"):
        name = roles.get(role)
        if name is None:
            continue
        is_loss = role.endswith("loss")
        lower[name] = is_loss or name in lower_cols
        m = _classify(name, 0)
        fin = columns[name][np.isfinite(columns[name])]
        percent[name] = bool(not is_loss and (m is None or m.family != "ppl") and len(fin) and 1.0 < fin.max() <= 100.0)
    _x_roles(columns, roles, x)
    return roles, lower, percent, notes


def _put(roles: dict[str, str], role: str, name: str) -> None:
    """roles[role] = name, taking the column away from any other role it held."""
    for other, col in list(roles.items()):
        if col == name:
            del roles[other]
    roles[role] = name


def _x_roles(columns: dict[str, np.ndarray], roles: dict[str, str], x: str) -> None:
    if "epoch" not in roles:
        for name in columns:
            if joined_words(name) in ("epoch", "epochs", "ep") and name not in roles.values():
                roles["epoch"] = name
                break
    if "step" not in roles:
        for name in columns:
            if is_step_name(joined_words(name)) and name not in roles.values():
                roles["step"] = name
                break
    if x in columns and x not in roles.values():
        roles["step" if "step" not in roles else "epoch"] = x
