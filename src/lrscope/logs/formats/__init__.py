"""Readers for the text logs other projects' training scripts write, one module per format, each with the same
two functions:

- ``sniff(text: str) -> bool``: cheap (looks at the first lines or the first megabyte), True when the text is
  this format.  Sniffers run in :data:`TEXT_FORMATS` order and the first that says yes reads the text.
- ``read(text: str, label: str, notes: list[str]) -> Parsed``: the log as columns (name -> float array of one
  length, NaN where a row did not log that value) and the x column; raises :class:`lrscope.errors.UserError`
  with a line that says what was expected when the text is not this format after all (``--format`` forces a
  reader, so this must be a clear refusal, never an empty table).
- optionally ``hint(text: str) -> str | None``: when nothing read the text, a phrase for the error message
  saying what the text looked like and what was missing ("a Caffe log? no `Iteration N, loss = X` lines found").

The generic readers (``delimited``, ``jsonlines``) and TensorBoard stay in their own modules; this package holds
the formats that need a parser of their own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Parsed:
    """What a format reader returns: columns of one length, the x column's name (None: let roles choose) and
    columns whose role the format fixes (role -> column name; the user's flags still win)."""

    columns: dict[str, np.ndarray]
    x: str | None = None
    roles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TextFormat:
    name: str  # the --format name
    module: str  # module in this package
    describe: str  # for messages: what a log of this format holds


TEXT_FORMATS: tuple[TextFormat, ...] = (
    TextFormat("hf", "hf", "Hugging Face Trainer trainer_state.json or its printed {'loss': ...} lines"),
    TextFormat("caffe", "caffe", "Caffe glog log (Iteration N, loss = X; Test net output; lr = Y)"),
    TextFormat("gluoncv", "gluoncv", "MXNet/gluoncv log ([Epoch N] train=.. val=..; Epoch[N] Batch [B] ... lr=..)"),
    TextFormat("llm", "llm", "llm.c / nanoGPT log (s:N trl:X lr:Y; step:N/M train_loss:X; iter N: loss X)"),
    TextFormat("mlflow", "mlflow", "MLflow metric file (timestamp value step lines)"),
)


def module_of(fmt: TextFormat):
    return importlib.import_module(f"{__name__}.{fmt.module}")


def by_name(name: str) -> TextFormat | None:
    return next((f for f in TEXT_FORMATS if f.name == name), None)


def sniff(text: str) -> TextFormat | None:
    """The first format whose sniffer recognises ``text``, or None (then the generic readers try)."""
    for fmt in TEXT_FORMATS:
        if module_of(fmt).sniff(text):
            return fmt
    return None


def hints(text: str) -> list[str]:
    """What the text looked like, from the formats that nearly recognised it (for a refusal)."""
    out = []
    for fmt in TEXT_FORMATS:
        hint = getattr(module_of(fmt), "hint", None)
        said = hint(text) if hint is not None else None
        if said:
            out.append(said)
    return out


def described() -> str:
    """One line listing every format lrscope reads (for messages)."""
    generic = "delimited tables (CSV, TSV, whitespace, Keras CSVLogger, Lightning metrics.csv, YOLO results.csv)"
    rest = ", ".join(f.describe for f in TEXT_FORMATS)
    return f"{generic}, JSON lines, TensorBoard event files, lrscope run directories, {rest}"
