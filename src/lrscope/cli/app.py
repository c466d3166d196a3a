"""The Typer app every command registers on, and what the commands share: printing JSON and notes, the
help texts of the options several commands take."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="lrscope",
    help="Understand and control learning-rate dynamics in neural-network training.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEBUG = {"on": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    DEBUG["on"] = debug or bool(os.environ.get("LRSCOPE_DEBUG"))


def print_json(document) -> None:
    """One JSON document on stdout, nothing else."""
    from ..atomic import _json_default

    sys.stdout.write(json.dumps(document, indent=2, allow_nan=False, default=_json_default) + "\n")
    sys.stdout.flush()


DEFAULT_MAX_BYTES = 2 * 1024**3  # lrscope.logs.read.DEFAULT_MAX_BYTES, without importing the readers here
MAX_BYTES_HELP = ("Largest text log (or run metrics.jsonl) to read, in bytes; default 2147483648 (2 GiB). "
                   "TensorBoard event files are not capped.")


DATA_HELP = ("digits, synthetic, npz:PATH, folder:PATH, cifar10:PATH, or your own PKG.MODULE:FACTORY (a callable "
              "returning (train, val): Datasets of (x, y), DataLoaders or (x, y) arrays).")
MODEL_HELP = ("cnn, mlp, resnet20, resnet32, resnet56, or your own PKG.MODULE:FACTORY (a callable returning an "
               "nn.Module; given input_shape= and num_classes= when it takes them).")
PROBE_MODEL_HELP = ("With --checkpoint: what builds the network (a built-in or PKG.MODULE:FACTORY). With RUN: "
                     "needed when the run's model is your code (the same reference).")
PROBE_DATA_HELP = ("With --checkpoint: the data the loss is measured on. With RUN: needed when the run's data is "
                    "your code (the same reference).")
CHECKPOINT_HELP = ("Your own checkpoint instead of RUN: a state_dict file, a Lightning .ckpt, a .safetensors file "
                    "or a Hugging Face checkpoint-N/ directory (read weights-only).")


def print_notes(notes, *, err: bool = True) -> None:
    """Each note as "note: ..." with a hanging indent, on stderr (stdout with ``err`` False)."""
    from ..console import bullets

    notes = list(notes or ())
    bullets(notes, bullet="note: ", styles=["yellow"] * len(notes), err=err)
