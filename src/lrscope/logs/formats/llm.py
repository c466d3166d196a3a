"""LLM training logs: llm.c, modded-nanogpt and nanoGPT, one row per optimizer step.

Lines read (each at the start of a line, after optional blanks and one ``[rank0]:``-like bracketed tag; the
training script's source and nvidia-smi output that such files often start with match none of them):

- llm.c log file: ``s:N trl:X`` (training loss), ``s:N tel:X`` (validation loss), ``s:N eval:X`` (HellaSwag
  accuracy), optionally ``lr:Y norm:Z`` and other ``key:value`` fields on the line;
- modded-nanogpt: ``step:N/M train_loss:X train_time:Tms step_avg:...`` and ``step:N/M val_loss:X ...``;
- llm.c's printed lines: ``step N/M | train loss X | norm Z | lr Y | (T ms | ...)`` and ``val loss X`` (the
  validation before step N+1's update, so it takes N from the step line above it);
- nanoGPT: ``iter N: loss X, time Tms, mfu M%`` and ``step N: train loss X, val loss Y`` (the periodic
  estimate; it is the ``train_loss_estimate`` column when ``iter`` lines give the per-step loss).  Old
  llm.c's ``step N: train loss X (took T ms)`` has the same shape; its ``val loss X`` line comes before the
  step line it belongs to.

Fields whose value carries a unit (``train_time:278ms``, ``step_avg:nanms``) are timings, not metrics, and are
left out.  Lines of one step (a validation line and a training line) become one row; a step that comes again
after higher ones (a second run appended) starts new rows in file order, never merged with the first run.

Speed: one regular expression finds every such line in one pass; each line style is then parsed for all its
lines at once (joined, split or matched as one text), never field by field in Python.
"""

from __future__ import annotations

import gc
import re
import warnings
from itertools import compress, repeat

import numpy as np

from ...errors import UserError
from . import Parsed

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?i:nan|inf(?:inity)?)"
_HEAD = r"^[ \t]*(?:\[[^\]\n]{0,40}\][ \t]*:?[ \t]*)?"
# each style's line, without the head; {n} is where a captured number goes
_STYLES = {
    "kv": r"(?:s|step):\d{{1,18}}(?:/\d+)?(?:[ \t]+[A-Za-z_][\w.\-/]*:[^\s:]+)+",
    "pipe": r"step[ \t]+(\d{{1,18}})[ \t]*/[ \t]*\d+[ \t]*(\|[^\n]*)",
    "colon": r"step[ \t]+(\d{{1,18}}):[ \t]*train[ \t]loss[ \t]+({n})(?:,[ \t]*val[ \t]loss[ \t]+({n}))?",
    "iter": r"iter[ \t]+(\d{{1,18}}):[ \t]*loss[ \t]+({n})",
    "val": r"val[ \t]loss[ \t]+({n})(?=[ \t]*$)",
}


def _plain(pattern: str) -> str:
    """A style's pattern with its groups made non-capturing (for the one pass that finds the lines)."""
    return re.sub(r"\((?!\?)", "(?:", pattern).format(n=_NUM)


# One pass finds every line in file order; its one group is the line without its head.
_LINE = re.compile(_HEAD + "(" + "|".join(_plain(p) for p in _STYLES.values()) + ")", re.MULTILINE)
_PARTS = {kind: re.compile("^" + p.format(n=_NUM), re.MULTILINE) for kind, p in _STYLES.items() if kind != "kv"}
_CELL = re.compile(rf"(\n)|\|[ \t]*([A-Za-z][A-Za-z_ ]*?)[ \t]+({_NUM})[ \t]*(?=\||$)", re.MULTILINE)
# llm.c's short keys, and the names the printed lines use, as the columns lrscope shows
_RENAME = {
    "trl": "train_loss",
    "tel": "val_loss",
    "eval": "eval_acc",
    "norm": "grad_norm",
    "train loss": "train_loss",
    "val loss": "val_loss",
}
_ESTIMATE = "train_loss_estimate"
_SNIFF_BYTES = 2_000_000
_ROLES = (("train_loss", "train_loss"), ("val_loss", "val_loss"), ("lr", "lr"), ("val_acc", "eval_acc"))


def sniff(text: str) -> bool:
    """At least two such lines in the first 2 MB (one, when the text holds a single line)."""
    head = text[:_SNIFF_BYTES]
    found = 0
    for _ in _LINE.finditer(head):
        found += 1
        if found >= 2:
            return True
    return found == 1 and head.strip().count("\n") == 0


_NEAR_MISS = re.compile(r"trl:|tel:|train_loss:|val_loss:|train loss|^[ \t]*iter[ \t]+\d", re.MULTILINE)


def hint(text: str) -> str | None:
    if _NEAR_MISS.search(text[:_SNIFF_BYTES]):
        return "an LLM training log? no `s:N trl:X`, `step:N/M train_loss:X` or `iter N: loss X` lines found"
    return None


def read(text: str, label: str, notes: list[str]) -> Parsed:
    was_enabled = gc.isenabled()
    gc.disable()  # millions of small strings: the collector would rescan them again and again
    try:
        lines = _LINE.findall(text)
        if not lines:
            raise UserError(
                f"{label} is not an llm log: no `s:N trl:X`, `step:N/M train_loss:X`, `step N/M | train loss X` "
                f"or `iter N: loss X` lines found"
            )
        values = _values(lines)
        del lines
        columns = _rows(values)
    finally:
        if was_enabled:
            gc.enable()
    if not columns:
        raise UserError(f"{label}: its LLM training log lines hold no numeric value")
    if _ESTIMATE in columns:
        if "train_loss" in columns:
            notes.append(
                "took the `iter N: loss` lines as the training loss; the periodic `step N: train loss` "
                f"estimates are column {_ESTIMATE!r}"
            )
        else:
            columns["train_loss"] = columns.pop(_ESTIMATE)
    roles = {role: name for role, name in _ROLES if name in columns}
    return Parsed(columns=columns, x="step", roles=roles)


class _Values:
    """Every value found, style by style: the line it comes from, its place on the line, its key (an index
    into ``names``) and the number (a text that is no number is left out)."""

    def __init__(self, n_lines: int) -> None:
        self.step = np.zeros(n_lines, dtype=np.int64)  # the step of every matched line
        self.names: dict[str, int] = {}
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def key(self, name: str) -> int:
        name = _RENAME.get(name, name)
        return self.names.setdefault(name, len(self.names))

    def add_numbers(self, lines, key_ids, numbers, place=0) -> None:
        lines = np.asarray(lines, dtype=np.int64)
        place = np.broadcast_to(np.asarray(place, dtype=np.int64), lines.shape)
        key_ids = np.broadcast_to(np.asarray(key_ids, dtype=np.int64), lines.shape)
        self.parts.append((lines, place, key_ids, np.asarray(numbers, dtype=np.float64)))

    def add_texts(self, lines, keys: list[str], texts: list[str], place=0) -> None:
        """Values as texts, with their keys: converted key by key (a key whose texts carry a unit is dropped)."""
        lines = np.asarray(lines, dtype=np.int64)
        place = np.broadcast_to(np.asarray(place, dtype=np.int64), lines.shape)
        local = list(dict.fromkeys(keys))
        if len(local) == 1:
            key_of = np.zeros(len(keys), dtype=np.int64)
        else:
            index = {k: i for i, k in enumerate(local)}
            key_of = np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))
        numbers = _floats(texts)
        for i, name in enumerate(local):
            take = key_of == i if len(local) > 1 else slice(None)
            if numbers is not None:
                vals, ok = numbers[take], slice(None)
            else:
                chosen = texts if len(local) == 1 else [texts[j] for j in np.flatnonzero(take)]
                vals, ok = _numbers_of(chosen)
                if not ok.any():
                    continue  # a timing such as train_time:278ms, or text
            self.add_numbers(lines[take][ok], self.key(name), vals[ok], place[take][ok])

    def in_file_order(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(step, key id, number) of every value, in file order."""
        if not self.parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
        if len(self.parts) == 1:
            lines, _, key_ids, numbers = self.parts[0]
        else:
            lines, place, key_ids, numbers = (np.concatenate(p) for p in zip(*self.parts, strict=True))
            order = np.lexsort((place, lines))
            lines, key_ids, numbers = lines[order], key_ids[order], numbers[order]
        return self.step[lines], key_ids, numbers


def _values(lines: list[str]) -> _Values:
    """Every value of the matched lines."""
    n = len(lines)
    kind = _kinds(lines)
    out = _Values(n)
    where = np.flatnonzero(kind == 0)
    if len(where):
        kv = lines if len(where) == n else [lines[i] for i in where]
        if not _kv_fast(kv, where, out):
            _kv_values(kv, where, out)
    for code, style in enumerate(("pipe", "colon", "iter"), start=1):
        where = np.flatnonzero(kind == code)
        if not len(where):
            continue
        parts = _PARTS[style].findall("\n".join(lines[i] for i in where))
        out.step[where] = np.fromiter((int(p[0]) for p in parts), dtype=np.int64, count=len(where))
        if style == "pipe":
            _cell_values([p[1] for p in parts], where, out)
        elif style == "colon":
            out.add_texts(where, [_ESTIMATE] * len(where), [p[1] for p in parts])
            with_val = [i for i, p in enumerate(parts) if p[2]]
            out.add_texts(where[with_val], ["val_loss"] * len(with_val), [parts[i][2] for i in with_val], 1)
        else:
            out.add_texts(where, ["train_loss"] * len(where), [p[1] for p in parts])
    bare = kind == 4
    if bare.any():
        out.step[bare] = _bare_val_steps(out.step, bare, kind == 2)
        where = np.flatnonzero(bare)
        out.add_texts(where, ["val_loss"] * len(where), [lines[i].split()[2] for i in where])
    return out


def _kinds(lines: list[str]) -> np.ndarray:
    """0 kv, 1 pipe, 2 colon, 3 iter, 4 bare val loss, for each matched line."""
    starts = ("s:", "step:")
    if all(map(str.startswith, lines, repeat(starts))):  # an llm.c or modded-nanogpt log: the usual case
        return np.zeros(len(lines), dtype=np.int8)

    def code(line: str) -> int:
        if line.startswith(starts):
            return 0
        if line.startswith("step"):
            return 1 if "|" in line else 2
        return 3 if line.startswith("iter") else 4

    return np.fromiter(map(code, lines), dtype=np.int8, count=len(lines))


_PAIR = re.compile(r"[ \t]([A-Za-z_][\w.\-/]*):([^\s:]+)")
_MAX_FAST_KEYS = 40


def _kv_fast(lines: list[str], where: np.ndarray, out: _Values) -> bool:
    """``s:N key:value ...`` lines parsed by numpy alone: each key becomes a number code, so the joined lines
    are one list of (code, number) pairs that ``np.fromstring`` reads (fields whose values carry a unit in the
    first and last lines are cut out first); False (nothing added) when the lines hold a key not seen in those
    lines, a value that is no number, or anything else unusual."""
    numeric: dict[str, bool] = {}
    for key, value in _PAIR.findall("\n".join(lines[:2000] + lines[-2000:])):
        numeric[key] = numeric.get(key, True) and _is_number(value)
    keys = [k for k, ok in numeric.items() if ok]
    if not keys or len(numeric) > _MAX_FAST_KEYS:
        return False
    joined = "\n" + "\n".join(lines)
    if "\t" in joined:
        joined = joined.replace("\t", " ")
    for key in (k for k, ok in numeric.items() if not ok):
        joined = re.sub(rf" {re.escape(key)}:[^\s:]+", "", joined)
    fields = joined.count(":") - len(lines)
    found = 0
    for code, key in enumerate(keys, start=1):
        marker = f" {key}:"
        found += joined.count(marker)
        joined = joined.replace(marker, f" {code} ")
    if found != fields:  # a key the sample did not show
        return False
    joined = joined.replace("\nstep:", "\n0 ").replace("\ns:", "\n0 ")
    if "/" in joined:  # step:N/M: M becomes a pair of its own, code -1
        joined = joined.replace("/", " -1 ")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            flat = np.fromstring(joined, dtype=np.float64, sep=" ")
    except (ValueError, DeprecationWarning):  # a value with a unit (train_time:278ms), or text
        return False
    if len(flat) % 2:
        return False
    codes, numbers = flat[0::2], flat[1::2]
    starts = codes == 0
    if starts.sum() != len(lines) or not starts[0] or codes.min() < -1 or codes.max() > len(keys):
        return False
    if not np.array_equal(codes, np.round(codes)):
        return False
    line = np.cumsum(starts) - 1
    out.step[where] = numbers[starts].astype(np.int64)
    field = codes > 0
    key_ids = np.array([out.key(k) for k in keys], dtype=np.int64)
    out.add_numbers(
        where[line[field]], key_ids[codes[field].astype(np.int64) - 1], numbers[field], np.flatnonzero(field)
    )
    return True


def _kv_values(lines: list[str], where: np.ndarray, out: _Values) -> None:
    """``s:N key:value ...`` lines: keys and values hold no blank and no colon, so the colons count the fields."""
    counts = np.fromiter(map(str.count, lines, repeat(":")), dtype=np.int64, count=len(lines))
    tokens = " ".join(lines).replace(":", " ").split()
    keys, texts = tokens[0::2], tokens[1::2]
    del tokens
    first = np.cumsum(counts) - counts  # each line's `s:N` (or `step:N/M`) field
    step_texts = [texts[i] for i in first]
    try:
        out.step[where] = np.fromiter(map(int, step_texts), dtype=np.int64, count=len(lines))
    except ValueError:  # step:N/M
        steps = (int(t.partition("/")[0]) for t in step_texts)
        out.step[where] = np.fromiter(steps, dtype=np.int64, count=len(lines))
    field = np.ones(len(keys), dtype=bool)
    field[first] = False
    line_of = np.repeat(where, counts)[field]
    place = np.flatnonzero(field)
    out.add_texts(line_of, list(compress(keys, field)), list(compress(texts, field)), place)


def _cell_values(cells: list[str], where: np.ndarray, out: _Values) -> None:
    """The ``| name value |`` cells of llm.c's printed step lines (``| (55.1 ms`` has no name and is left out)."""
    found = _CELL.findall("\n".join(cells))
    breaks = np.fromiter((bool(f[0]) for f in found), dtype=bool, count=len(found))
    line = np.cumsum(breaks)[~breaks]
    named = [f for f in found if not f[0]]
    names = [" ".join(f[1].split()) for f in named]
    keys = [_RENAME.get(name, name.replace(" ", "_")) for name in names]
    out.add_texts(where[line], keys, [f[2] for f in named], np.arange(len(named)) + 1)


def _bare_val_steps(step: np.ndarray, bare: np.ndarray, colon: np.ndarray) -> np.ndarray:
    """The step of each bare ``val loss X`` line: that of the step line above it (llm.c prints step N's line
    after the update that ends step N, then validates), or, among old llm.c's ``step N: train loss`` lines
    (printed after the validation of the same step), that of the step line below it."""
    n = len(step)
    index = np.arange(n)
    prev = np.maximum.accumulate(np.where(bare, -1, index))
    nxt = np.minimum.accumulate(np.where(bare, n, index)[::-1])[::-1]
    p, q = prev[bare], nxt[bare]
    has_p, has_q = p >= 0, q < n
    p_c, q_c = np.clip(p, 0, n - 1), np.clip(q, 0, n - 1)
    colon_mode = np.where(has_p, colon[p_c], has_q & colon[q_c])
    from_below = np.where(has_q, step[q_c], step[p_c] + 1)
    from_above = np.where(has_p, step[p_c], 0)
    return np.where(colon_mode, from_below, from_above)


def _rows(values: _Values) -> dict[str, np.ndarray]:
    """Values to columns: consecutive values of one step share a row (the later of two wins)."""
    steps, key_ids, numbers = values.in_file_order()
    if not len(steps):
        return {}
    new_row = np.empty(len(steps), dtype=bool)
    new_row[0] = True
    np.not_equal(steps[1:], steps[:-1], out=new_row[1:])
    row = np.cumsum(new_row) - 1
    n = int(row[-1]) + 1
    columns = {"step": steps[new_row].astype(np.float64)}
    for name, i in values.names.items():
        if name == "step":
            continue
        take = key_ids == i
        rows_of, vals = row[take], numbers[take]
        if not len(rows_of):
            continue
        last = np.ones(len(rows_of), dtype=bool)  # each row's last value wins
        last[:-1] = rows_of[1:] != rows_of[:-1]
        col = columns[name] = np.full(n, np.nan)
        col[rows_of[last]] = vals[last]
    return columns if len(columns) > 1 else {}


def _floats(texts: list[str]) -> np.ndarray | None:
    """All texts as floats, or None when some are not numbers."""
    try:
        return np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except ValueError:
        return None


def _numbers_of(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The texts as floats and which of them are numbers (``nan`` is one; ``278ms`` is not)."""
    fast = _floats(texts)
    if fast is not None:
        return fast, np.ones(len(texts), dtype=bool)
    out = np.full(len(texts), np.nan)
    ok = np.zeros(len(texts), dtype=bool)
    if not any(map(_is_number, texts[:100])):
        return out, ok  # a field with a unit on every line: not worth trying them all
    for i, text in enumerate(texts):
        try:
            out[i] = float(text)
            ok[i] = True
        except ValueError:
            pass
    return out, ok


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
