"""The command line: parse arguments, call one job (lrscope.jobs), print.  No logic lives here.

Every command imports its job inside its body, so ``lrscope schedule`` and ``lrscope explain`` start without
importing torch.  How a run ends (one line for a UserError, exit 2; what an interrupt kept) is lrscope.exits.
The commands live by what they do: logs_commands (schedule, explain, plot, report), training_commands (train,
compare, sweep, demo), probe_commands (find, predict, whatif, landscape, sharpness), toy_commands (toy, nqm);
each registers on the one Typer app of cli/app.py.
"""

from __future__ import annotations

from ..exits import run_command_line
from . import logs_commands, probe_commands, toy_commands, training_commands  # noqa: F401 - they register
from .app import DEBUG, app


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app, turning user errors into one line and exit code 2.

    A process that joined a torch.distributed group (a rank under torchrun) leaves through
    :func:`lrscope.train.distributed.exit_process` instead of a normal interpreter exit."""
    from ..train.distributed import exit_process, joined_group

    try:
        run_command_line(app, argv, debug=lambda: DEBUG["on"])
    except SystemExit as done:
        if joined_group():
            exit_process(done.code)
        raise
    if joined_group():
        exit_process(0)
