"""The schedule spec language: Python call syntax with literal arguments, e.g. ``cosine(0.1, total=100)``.

This module reads text into schedules; writing is the value's own business (``s.spec``,
:func:`~lrscope.schedules.core.format_spec`), and the canonical text parses back to an equal schedule.

- ``parse_schedule(text)`` reads a spec with :mod:`ast` (literals and schedule calls only, never ``eval``).
  A bare number means ``constant(number)``.
- ``schedule_from_json(document)`` reads the document ``s.to_json()`` writes.
- ``auto`` is a placeholder for a rate the LR finder gives: ``has_auto(text)`` says whether a spec holds one,
  and ``fill_auto(text, suggestion, low, high)`` puts the finder's numbers in its place (``max_lr`` gets
  high, ``base_lr`` and ``min_lr`` get low, anything else the suggestion), read by the same parser, so
  ``onecycle(auto, total=60)`` becomes ``onecycle(0.31, total=60)``.  ``parse_schedule`` refuses the word.

A spec comes from the command line, so it is read as hostile input, in three steps, each of which refuses with
a :class:`~lrscope.errors.UserError` that names the character position (counted from 1 in the text as given):

1. a linear scan *before* :func:`ast.parse`: at most ``MAX_SPEC_CHARS`` characters, printable ASCII only,
   brackets nested at most ``MAX_DEPTH`` deep, at most ``MAX_ITEM_TOKENS`` tokens in one argument or list item
   (which bounds chains such as ``1+1+...``, ``not not ...``, ``a.b.c...``, ``f()()...``, ``----1``), words and
   numbers at most ``MAX_WORD`` characters, plain single-line quoted strings (no prefixes such as ``f''``, no
   backslashes, no triple quotes, no comments).  Together these bound the depth of the tree ``ast.parse``
   builds, so it can never recurse or allocate without limit;
2. the tree may hold only numbers (one sign at most), quoted strings, True/False, lists and schedule calls with
   keyword arguments; anything else (attribute access, arithmetic, lambda, comprehensions, ...) is refused at
   the node's position;
3. every number is finite and sane: a float's magnitude is at most ``MAX_NUMBER`` (1e300), an integer's
   at most ``MAX_INT`` (10**15).

As a last line of defence any RecursionError, MemoryError, OverflowError or ValueError still raised while
reading a spec becomes a UserError.
"""

from __future__ import annotations

import ast
import difflib
import json
import keyword as python_keywords
import math
import re
import warnings
from dataclasses import MISSING, dataclass, fields
from typing import Any

from ..errors import UserError
from .composites import Join, Warmup
from .core import SCHEMA, Schedule, signature
from .cyclical import SGDR, OneCycle, Triangular
from .decays import Constant, Cosine, Exponential, Linear, MultiStep, Piecewise, Poly, Step
from .params import MAX_INT, MAX_NUMBER
from .wsd import WSD

SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (
        Constant,
        Step,
        MultiStep,
        Piecewise,
        Exponential,
        Linear,
        Poly,
        Cosine,
        WSD,
        SGDR,
        Triangular,
        OneCycle,
        Warmup,
        Join,
    )
}

MAX_SPEC_CHARS = 20_000  # a piecewise schedule of about a thousand stages; a 10**6-element list is refused
MAX_DEPTH = 32  # brackets inside brackets: real specs nest 4 deep (warmup(5, join([cosine(...)], [10])))
MAX_ITEM_TOKENS = 16  # tokens in one argument or list item (lr=-1.5e-3 is 6); a bracketed group counts as 1
MAX_WORD = 100  # characters of one number or name (0x + 98 hex digits, a float written out to 17 digits)
MAX_STRING = 200  # characters of one quoted string (mode='triangular2' is 13)

_EXPECTED = (
    "only numbers, quoted strings, True/False, lists and schedule calls such as cosine(0.1, total=100) may "
    "appear in a schedule spec"
)
_WHITESPACE = frozenset(" \t\r\n")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_OPEN, _CLOSE = "([{", ")]}"
_KEYWORDS = frozenset(python_keywords.kwlist) - {"True", "False", "None"}

AUTO = "auto"  # the placeholder for a rate the LR finder gives (see fill_auto)
_AUTO_WORD = re.compile(rf"\b{AUTO}\b")
_HIGH_ROLES = frozenset({"max_lr"})  # parameters auto fills with the range's upper bound
_LOW_ROLES = frozenset({"base_lr", "min_lr"})  # ... with its lower bound; any other with the suggestion


def valid_names() -> str:
    return ", ".join(SCHEDULES)


def parse_schedule(text: str) -> Schedule:
    """Parse a spec such as ``warmup(5, cosine(0.1, total=100))`` into a :class:`Schedule`.

    Raises :class:`~lrscope.errors.UserError` (and nothing else) with a message naming the position, the valid
    schedules or parameters.
    """
    if isinstance(text, Schedule):
        return text
    schedule, _ = _read(text)
    return schedule


def schedule_from_json(document: Any) -> Schedule:
    """The schedule a ``s.to_json()`` document describes (the dict or its JSON text)."""
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    if not isinstance(document, dict) or "type" not in document:
        raise UserError(f"not a schedule JSON document (expected keys type and params): {document!r:.200}")
    if document.get("schema", SCHEMA) != SCHEMA:
        raise UserError(f"unsupported schedule schema {document.get('schema')!r}, expected {SCHEMA!r}")
    return _from_json_body(document)


def _from_json_body(doc: dict) -> Schedule:
    cls = SCHEDULES.get(doc.get("type"))
    if cls is None:
        raise UserError(f"unknown schedule type {doc.get('type')!r} in JSON; valid: {', '.join(SCHEDULES)}")

    def value(v: Any) -> Any:
        if isinstance(v, dict) and "type" in v:
            return _from_json_body(v)
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    params = doc.get("params", {})
    known = {f.name for f in fields(cls)}
    unknown = set(params) - known
    if unknown:
        raise UserError(f"{cls.name}() has no parameter(s) {', '.join(sorted(unknown))}")
    return cls(**{k: value(v) for k, v in params.items()})


# ---------------------------------------------------------------------------------------- auto


def has_auto(spec: str) -> bool:
    """Whether the word ``auto`` appears in ``spec`` (so a range test must run before it can be read)."""
    return bool(_AUTO_WORD.search(spec or ""))


def fill_auto(spec: str, suggestion: float, low: float, high: float) -> str:
    """``spec`` with each ``auto`` replaced by the LR finder's number for the parameter it stands for.

    ``max_lr`` gets ``high`` (the range's upper bound), ``base_lr`` and ``min_lr`` get ``low``, any other
    place (``lr``, ``start``, a list item, the whole spec) gets ``suggestion``; each number is rounded to
    three significant digits.  The spec is read as :func:`parse_schedule` reads it (the same refusals), and
    the filled tree is written back as Python would (``ast.unparse``):

    >>> fill_auto("triangular(auto, auto, 8)", 0.1, 0.012, 0.314)
    'triangular(0.012, 0.314, 8)'
    """
    _, tree = _read(spec, _Auto(suggestion, low, high))
    return ast.unparse(tree)


STAND_IN = (0.1, 0.01, 0.1)  # (suggestion, low, high) that check_spec reads an ``auto`` spec with


def check_spec(spec: str) -> None:
    """Refuse (UserError, as :func:`parse_schedule` does) a spec that will not read, before anything costly
    runs: a spec with ``auto`` is read with the stand-in numbers STAND_IN in its place, so a mistyped
    ``onecycle(auto, totl=10)`` is refused before the range test that would fill it, not after.

    >>> check_spec("onecycle(auto, total=10)")
    >>> check_spec("onecycle(auto, totl=10)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lrscope.errors.UserError: schedule spec: position 16: onecycle() has no parameter 'totl' (did you mean total?)...
    """
    if has_auto(spec):
        fill_auto(spec, *STAND_IN)
    else:
        parse_schedule(spec)


@dataclass(frozen=True)
class _Auto:
    """The LR finder's numbers that ``auto`` stands for: its suggestion and its range (low, high)."""

    suggestion: float
    low: float
    high: float

    def resolve(self, node: ast.expr, parameter: str) -> ast.expr:
        """``node``, or the number for ``parameter`` in its place when node is the word ``auto``."""
        if not (isinstance(node, ast.Name) and node.id == AUTO):
            return node
        value = self.high if parameter in _HIGH_ROLES else self.low if parameter in _LOW_ROLES else self.suggestion
        return ast.copy_location(ast.Constant(float(f"{value:.3g}")), node)


def _resolve(node: ast.expr, parameter: str, auto: _Auto | None) -> ast.expr:
    return node if auto is None else auto.resolve(node, parameter)


# ---------------------------------------------------------------------------------------- reading


def _read(text: str, auto: _Auto | None = None) -> tuple[Schedule, ast.Expression]:
    """The schedule a spec describes and its (filled) tree; any failure is a UserError."""
    if not isinstance(text, str):
        raise UserError(f"a schedule spec must be text such as 'cosine(0.1, total=100)', got {_cut(repr(text))}")
    try:
        return _parse(text, auto)
    except UserError:
        raise
    except (RecursionError, MemoryError, OverflowError, ValueError) as error:  # the last line of defence
        raise UserError(
            f"schedule spec: cannot read it ({type(error).__name__}: {_cut(str(error), 80)}); expected a call "
            f"such as cosine(0.1, total=100)"
        ) from None


def _parse(text: str, auto: _Auto | None) -> tuple[Schedule, ast.Expression]:
    source = text.strip()
    if not source:
        raise UserError(
            f"empty schedule spec; expected a call such as cosine(0.1, total=100) (one of: {valid_names()})"
        )
    if len(source) > MAX_SPEC_CHARS:
        raise UserError(
            f"schedule spec is too long ({len(source)} characters, at most {MAX_SPEC_CHARS}); expected a call "
            f"such as cosine(0.1, total=100)"
        )
    where = _Where(text, source)
    _scan(source, where)
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and the like: the error below says it
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        position = where.at(error.lineno or 1, (error.offset or 1) - 1)
        raise UserError(
            f"schedule spec: position {position}: cannot parse it: {error.msg}; expected Python call syntax "
            f"such as cosine(0.1, total=100)"
        ) from None
    node = tree.body = _resolve(tree.body, "lr", auto)
    if _is_number(node):
        return SCHEDULES["constant"](_value(node, where)), tree
    if not isinstance(node, ast.Call):
        if isinstance(node, (ast.Constant, ast.Name, ast.List, ast.Tuple)):
            raise where.error(
                node,
                f"{_snippet(node, where)!r} is not a schedule call; expected one of {valid_names()}, e.g. "
                f"cosine(0.1, total=100)",
            )
        _value(node, where)  # refuses it, saying what it is (attribute access, arithmetic, --5, ...)
    return _call(node, where, auto), tree


class _Where:
    """Positions in the text as the user gave it (1-based, before stripping) from ast's (line, column)."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lead = len(text) - len(text.lstrip())
        self.line_starts = [0]
        for i, ch in enumerate(source):
            if ch == "\n":
                self.line_starts.append(i + 1)

    def at(self, lineno: int, col: int) -> int:
        line = min(max(lineno, 1), len(self.line_starts)) - 1
        return self.lead + self.line_starts[line] + max(col, 0) + 1

    def of(self, node: ast.AST) -> int:
        """Where node starts, or for an operator (a.b, x[0], 1 + 2, a < b, a or b, x if c else y) where the
        operator is: the first character after its left operand that is not a space or a closing bracket."""
        first = _LEFT_OPERAND.get(type(node))
        if first is not None:
            left = getattr(node, first)
            left = left[0] if isinstance(left, list) else left
            end = getattr(left, "end_lineno", None), getattr(left, "end_col_offset", None)
            if None not in end:
                i = self.at(*end) - 1 - self.lead  # index in source just past the left operand
                while i < len(self.source) and self.source[i] in " \t\r\n)]}":
                    i += 1
                return self.lead + i + 1
        return self.at(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def error(self, node: ast.AST, message: str) -> UserError:
        return UserError(f"schedule spec: position {self.of(node)}: {message}")


def _refuse(where: _Where, index: int, message: str) -> UserError:
    return UserError(f"schedule spec: position {where.lead + index + 1}: {message}")


def _scan(source: str, where: _Where) -> None:
    """Bound what ``ast.parse`` will see, in one pass (see the module docstring); refuse with the position."""
    if not source.isascii() or not all(ch.isprintable() or ch in _WHITESPACE for ch in source):
        i = next(i for i, ch in enumerate(source) if not (ch.isascii() and (ch.isprintable() or ch in _WHITESPACE)))
        raise _refuse(
            where,
            i,
            f"character U+{ord(source[i]):04X} is not allowed; a schedule spec is plain ASCII text such as "
            f"cosine(0.1, total=100)",
        )
    n = len(source)
    items = [0]  # tokens in the current argument or list item, one count per open bracket (and the top level)
    i = 0
    while i < n:
        ch = source[i]
        if ch in _WHITESPACE:
            i += 1
            continue
        start = i
        if ch in _OPEN:
            if len(items) > MAX_DEPTH:
                raise _refuse(where, i, f"brackets are nested more than {MAX_DEPTH} deep")
            _count(items, where, i)
            items.append(0)
            i += 1
            continue
        if ch in _CLOSE:
            if len(items) > 1:
                items.pop()
            i += 1
            continue
        if ch == ",":
            items[-1] = 0
            i += 1
            continue
        _count(items, where, i)
        if ch in "'\"":
            if source.startswith(ch * 3, i):
                raise _refuse(where, i, "triple-quoted strings are not allowed; write mode='triangular2'")
            end = source.find(ch, i + 1)
            newline = source.find("\n", i + 1, end if end >= 0 else n)
            if end < 0 or newline >= 0:
                raise _refuse(where, i, f"this string has no closing {ch}; write mode='triangular2'")
            if "\\" in source[i:end]:
                raise _refuse(where, source.index("\\", i), "backslashes are not allowed in a schedule spec")
            if end - i + 1 > MAX_STRING:
                raise _refuse(where, i, f"a string of more than {MAX_STRING} characters is not allowed")
            i = end + 1
            continue
        if ch in _WORD:
            while i < n and source[i] in _WORD:
                i += 1
            if i - start > MAX_WORD:
                raise _refuse(where, start, f"a number or name of more than {MAX_WORD} characters is not allowed")
            if i < n and source[i] in "'\"":
                raise _refuse(where, start, "string prefixes (f'', b'', r'', u'') are not allowed")
            if source[start:i] in _KEYWORDS:  # lambda's parameters are the one nesting that commas split
                raise _refuse(where, start, f"{source[start:i]!r} is not allowed; {_EXPECTED}")
            continue
        if ch == "\\":
            raise _refuse(where, i, "backslashes are not allowed in a schedule spec")
        if ch == "#":
            raise _refuse(where, i, "comments ('#') are not allowed in a schedule spec")
        i += 1  # an operator character: counted, and refused (or not) by the grammar below


def _count(items: list[int], where: _Where, i: int) -> None:
    items[-1] += 1
    if items[-1] > MAX_ITEM_TOKENS:
        raise _refuse(
            where,
            i,
            f"more than {MAX_ITEM_TOKENS} tokens in one argument (chains such as 1+1+..., --1, a.b.c or f()() "
            f"are not allowed); {_EXPECTED}",
        )


# ---------------------------------------------------------------------------------------- the tree

_NOT_ALLOWED = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Dict: "a dict literal",
    ast.Set: "a set literal",
    ast.Starred: "*unpacking",
    ast.Compare: "a comparison",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'if ... else'",
    ast.NamedExpr: "':='",
    ast.JoinedStr: "an f-string",
    ast.BinOp: "arithmetic",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
}


_LEFT_OPERAND = {
    ast.Attribute: "value",
    ast.Subscript: "value",
    ast.BinOp: "left",
    ast.Compare: "left",
    ast.BoolOp: "values",
    ast.IfExp: "body",
}


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _call(node: ast.Call, where: _Where, auto: _Auto | None = None) -> Schedule:
    if not isinstance(node.func, ast.Name):
        what = _NOT_ALLOWED.get(type(node.func), "")
        what = "calling the result of a call" if isinstance(node.func, ast.Call) else what
        raise where.error(
            node.func,
            f"{what + ' is not allowed; ' if what else ''}expected a schedule name before '(', got "
            f"{_snippet(node.func, where)!r}; valid: {valid_names()}",
        )
    name = node.func.id
    cls = SCHEDULES.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, SCHEDULES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise where.error(node, f"unknown schedule {name!r}{hint}; valid schedules: {valid_names()}")
    params = [f.name for f in fields(cls)]
    usage = f"parameters: {signature(cls)}"
    kwargs: dict[str, Any] = {}
    if len(node.args) > len(params):
        raise where.error(
            node.args[len(params)], f"{name}() takes at most {len(params)} arguments, got {len(node.args)}; {usage}"
        )
    for i, (param, arg) in enumerate(zip(params, node.args, strict=False)):
        if isinstance(arg, ast.Starred):
            raise where.error(arg, f"{name}(): *arguments are not allowed; {usage}")
        node.args[i] = _resolve(arg, param, auto)
        kwargs[param] = _value(node.args[i], where, auto)
    for keyword in node.keywords:
        if keyword.arg is None:
            raise where.error(keyword, f"{name}(): **arguments are not allowed; {usage}")
        if keyword.arg not in params:
            close = difflib.get_close_matches(keyword.arg, params, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise where.error(keyword, f"{name}() has no parameter {keyword.arg!r}{hint}; {usage}")
        if keyword.arg in kwargs:
            raise where.error(keyword, f"{name}() got {keyword.arg!r} twice; {usage}")
        keyword.value = _resolve(keyword.value, keyword.arg, auto)
        kwargs[keyword.arg] = _value(keyword.value, where, auto)
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in kwargs]
    if missing:
        raise where.error(node, f"{name}() is missing {', '.join(missing)}; {usage}")
    try:
        return cls(**kwargs)
    except UserError as error:
        raise where.error(node, str(error)) from None


def _value(node: ast.AST, where: _Where, auto: _Auto | None = None) -> Any:
    if isinstance(node, ast.Call):
        return _call(node, where, auto)
    if isinstance(node, (ast.List, ast.Tuple)):
        node.elts = [_resolve(item, "lr", auto) for item in node.elts]
        return [_value(item, where, auto) for item in node.elts]
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number(value, node, where)
        if isinstance(value, (str, bool)):
            return value
        kind = {complex: "a complex number", bytes: "bytes"}.get(type(value), repr(value))
        raise where.error(node, f"{kind} is not allowed; {_EXPECTED}")
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, (ast.USub, ast.UAdd)) and _is_number(node):
            value = _number(node.operand.value, node.operand, where)  # type: ignore[attr-defined]
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node.op, (ast.USub, ast.UAdd)) and isinstance(node.operand, ast.UnaryOp):
            raise where.error(node, f"a number takes one sign at most, got {_snippet(node, where)!r}")
        word = {ast.Not: "'not'", ast.Invert: "'~'"}.get(type(node.op), "a sign before anything but a number")
        raise where.error(node, f"{word} is not allowed; {_EXPECTED}")
    if isinstance(node, ast.Name):
        hint = f" (strings need quotes: mode='{node.id}')" if node.id.isidentifier() else ""
        raise where.error(node, f"{_EXPECTED}, got {_snippet(node, where)!r}{hint}")
    what = _NOT_ALLOWED.get(type(node), type(node).__name__)
    raise where.error(node, f"{what} ({_snippet(node, where)!r}) is not allowed; {_EXPECTED}")


def _number(value: int | float, node: ast.AST, where: _Where) -> int | float:
    """A literal number, refused unless finite and of a sane magnitude."""
    if isinstance(value, int):
        if abs(value) <= MAX_INT:
            return value
    elif math.isfinite(value) and abs(value) <= MAX_NUMBER:
        return value
    raise where.error(
        node,
        f"the number {_snippet(node, where)!r} is out of range: a float must be finite and at most "
        f"{MAX_NUMBER:g} in magnitude, an integer at most 10**15",
    )


def _snippet(node: ast.AST, where: _Where) -> str:
    try:
        text = ast.get_source_segment(where.source, node) or type(node).__name__
    except (ValueError, IndexError):  # pragma: no cover - positions always come from this source
        text = type(node).__name__
    return _cut(text)


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
