"""The command line: parse arguments, call one function, print.  No logic lives here.

Every command imports what it needs inside its body, so ``lrscope schedule`` and ``lrscope explain`` start without
importing torch.  A :class:`lrscope.errors.UserError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import UserError

app = typer.Typer(
    name="lrscope",
    help="Understand and control learning-rate dynamics in neural-network training.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_DEBUG = {"on": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _DEBUG["on"] = debug or bool(os.environ.get("LRSCOPE_DEBUG"))


def print_json(document) -> None:
    """One JSON document on stdout, nothing else."""
    from .atomic import _json_default

    sys.stdout.write(json.dumps(document, indent=2, allow_nan=False, default=_json_default) + "\n")
    sys.stdout.flush()


def fail(message: str) -> None:
    raise UserError(message)


# ---------------------------------------------------------------- schedule (issue 2)

# ---------------------------------------------------------------- train, demo, plot (issue 2)

# ---------------------------------------------------------------- explain (issue 3)

# ---------------------------------------------------------------- find, compare (issue 4)

# ---------------------------------------------------------------- noise: predict, whatif, nqm (issue 5)

# ---------------------------------------------------------------- landscape, sharpness (issue 6)

# ---------------------------------------------------------------- report, toy (issue 7)

# ---------------------------------------------------------------- sweep (issue 9)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app, turning user errors into one line and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except UserError as error:
        if _DEBUG["on"]:
            raise
        print(f"lrscope: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("lrscope: interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - the last line of defence against tracebacks
        import click

        if isinstance(error, click.exceptions.Exit):
            sys.exit(error.exit_code)
        if isinstance(error, click.exceptions.Abort):
            print("lrscope: aborted", file=sys.stderr)
            sys.exit(130)
        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(2)
        if _DEBUG["on"]:
            raise
        print(f"lrscope: internal error: {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(1)
