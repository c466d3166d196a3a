"""lrscope inside the stacks people train with: Lightning, Hugging Face transformers, timm.

Each integration is a face like the command line: it composes lrscope's jobs and library for one stack, and
imports that stack only when it is used.  ``import lrscope`` never imports Lightning or transformers; using an
integration without its package raises a :class:`~lrscope.errors.UserError` that names the extra to install.

    lrscope.integrations.lightning      LRScopeCallback, find_lr        pip install "lrscope[lightning]"
    lrscope.integrations.transformers   LRScopeCallback, find_lr        pip install "lrscope[transformers]"
    lrscope.integrations.timm           TimmScheduler (timm's step / step_update interface; no timm needed)
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import UserError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or say which extra installs it (one line, exit 2 from the command line)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UserError(
            f"lrscope.integrations.{extra} needs the {module.split('.')[0]} package, which is not installed "
            f"({error}); install it with: pip install \"lrscope[{extra}]\""
        ) from None
