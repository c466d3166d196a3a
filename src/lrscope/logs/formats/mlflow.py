"""Placeholder: the mlflow reader is being written (see lrscope.logs.formats)."""

from __future__ import annotations


def sniff(text: str) -> bool:
    return False


def read(text: str, label: str, notes: list[str]):
    from ...errors import UserError

    raise UserError(f"{label}: the mlflow reader is not written yet")
