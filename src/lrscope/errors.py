"""The one exception type that means "the user gave us something we cannot use".

The command line turns a :class:`UserError` into one line on stderr and exit code 2; the Python API lets it
propagate (it subclasses ``ValueError`` so ``except ValueError`` in user code keeps working).
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or usage: the message says what was expected and what came."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`UserError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserError(message)
