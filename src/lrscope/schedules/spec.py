"""The schedule spec language: Python call syntax with literal arguments, e.g. ``cosine(0.1, total=100)``.

``parse_schedule(text)`` reads a spec with :mod:`ast` (literals and schedule calls only, never ``eval``);
``format_spec(schedule)`` writes the canonical text, which parses back to an equal schedule: the first
``positional`` parameters without keywords, the others as ``name=value``, parameters left at their defaults
omitted. A bare number means ``constant(number)``.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import MISSING, fields
from typing import Any

from ..errors import UserError
from .core import SCHEDULE_CLASSES, Schedule

SCHEDULES: dict[str, type[Schedule]] = {cls.name: cls for cls in SCHEDULE_CLASSES}

_MAX_SPEC = 20_000


def signature(cls: type[Schedule]) -> str:
    """``name(a, b, c=default, ...)`` for messages and docs."""
    parts = []
    for f in fields(cls):
        parts.append(f.name if f.default is MISSING else f"{f.name}={_text(f.default)}")
    return f"{cls.name}({', '.join(parts)})"


def valid_names() -> str:
    return ", ".join(SCHEDULES)


def parse_schedule(text: str) -> Schedule:
    """Parse a spec such as ``warmup(5, cosine(0.1, total=100))`` into a :class:`Schedule`.

    Raises :class:`~lrscope.errors.UserError` with a message naming the valid schedules or parameters.
    """
    if isinstance(text, Schedule):
        return text
    if not isinstance(text, str):
        raise UserError(f"a schedule spec must be text such as 'cosine(0.1, total=100)', got {text!r}")
    source = text.strip()
    if not source:
        raise UserError(
            f"empty schedule spec; expected a call such as cosine(0.1, total=100) (one of: {valid_names()})"
        )
    if len(source) > _MAX_SPEC:
        raise UserError(f"schedule spec is too long ({len(source)} characters, at most {_MAX_SPEC})")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise UserError(
            f"cannot parse schedule spec {source!r}: {error.msg}; expected Python call syntax such "
            f"as cosine(0.1, total=100)"
        ) from None
    node = tree.body
    if _is_number(node):
        return SCHEDULES["constant"](_value(node, source))
    if not isinstance(node, ast.Call):
        raise UserError(
            f"schedule spec {source!r} is not a schedule call; expected one of {valid_names()}, "
            f"e.g. cosine(0.1, total=100)"
        )
    return _call(node, source)


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )


def _call(node: ast.Call, source: str) -> Schedule:
    if not isinstance(node.func, ast.Name):
        raise UserError(
            f"expected a schedule name before '(', got {_snippet(node.func, source)!r}; valid: "
            f"{valid_names()}"
        )
    name = node.func.id
    cls = SCHEDULES.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, SCHEDULES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UserError(f"unknown schedule {name!r}{hint}; valid schedules: {valid_names()}")
    params = [f.name for f in fields(cls)]
    usage = f"parameters: {signature(cls)}"
    kwargs: dict[str, Any] = {}
    if len(node.args) > len(params):
        raise UserError(f"{name}() takes at most {len(params)} arguments, got {len(node.args)}; {usage}")
    for param, arg in zip(params, node.args, strict=False):
        if isinstance(arg, ast.Starred):
            raise UserError(f"{name}(): *arguments are not allowed; {usage}")
        kwargs[param] = _value(arg, source)
    for keyword in node.keywords:
        if keyword.arg is None:
            raise UserError(f"{name}(): **arguments are not allowed; {usage}")
        if keyword.arg not in params:
            close = difflib.get_close_matches(keyword.arg, params, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UserError(f"{name}() has no parameter {keyword.arg!r}{hint}; {usage}")
        if keyword.arg in kwargs:
            raise UserError(f"{name}() got {keyword.arg!r} twice; {usage}")
        kwargs[keyword.arg] = _value(keyword.value, source)
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in kwargs]
    if missing:
        raise UserError(f"{name}() is missing {', '.join(missing)}; {usage}")
    return cls(**kwargs)


def _value(node: ast.AST, source: str) -> Any:
    if isinstance(node, ast.Call):
        return _call(node, source)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(item, source) for item in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if _is_number(node):
        value = node.operand.value  # type: ignore[attr-defined]
        return -value if isinstance(node.op, ast.USub) else value  # type: ignore[attr-defined]
    hint = " (strings need quotes: mode='triangular2')" if isinstance(node, ast.Name) else ""
    raise UserError(
        f"only numbers, quoted strings, True/False, lists and schedule calls may appear in a schedule "
        f"spec, got {_snippet(node, source)!r}{hint}"
    )


def _snippet(node: ast.AST, source: str) -> str:
    return ast.get_source_segment(source, node) or ast.dump(node)


# ---------------------------------------------------------------------------------------- writing


def format_spec(schedule: Schedule) -> str:
    """The canonical spec text of ``schedule`` (parses back to an equal value)."""
    parts = []
    for i, f in enumerate(fields(schedule)):
        value = getattr(schedule, f.name)
        if i < schedule.positional:
            parts.append(_text(value))
        elif f.default is MISSING or not _same(value, f.default):
            parts.append(f"{f.name}={_text(value)}")
    return f"{schedule.name}({', '.join(parts)})"


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _text(value: Any) -> str:
    if isinstance(value, Schedule):
        return format_spec(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"cannot write {value!r} in a schedule spec")
