"""Your own model and data: ``--model PKG.MODULE:FACTORY`` and ``--data PKG.MODULE:FACTORY``.

A factory reference names a callable in an importable module: ``mymodels:make_net`` (a file mymodels.py in the
current directory), ``mypkg.nets:ResNet`` (a class is a callable too), ``mypkg.data:Loaders.cifar`` (a dotted
attribute).  The module is imported with the current directory first on ``sys.path``, as ``python -m`` does, so a
file beside the command works without installing it.

Which text is a reference.  For ``--model``, any text holding ``:`` (the built-in models have none).  For
``--data``, text holding ``:`` whose left part is not one of the built-in forms ``digits``, ``synthetic``,
``npz``, ``folder``, ``cifar10`` (``npz:PATH``, ``synthetic:n=2000`` stay what they were): a module of your own
named like one of those is reached through its package (``mypkg.npz:load``).  Both parts must be dotted Python
names; anything else is one line saying so.

Calling.  A model factory is called with no arguments, plus ``input_shape=`` (one example's shape, a tuple) and
``num_classes=`` when its signature names those parameters; it must return a ``torch.nn.Module``.  What a data
factory returns is :mod:`lrscope.train.user_data`'s business.  Whatever the user's code prints goes to stderr, so
``--json`` keeps stdout to itself.  Every way this can fail (no such module, the module raising on import, no such
attribute, not callable, the call raising, the wrong kind of result) is one :class:`UserError` line.

Safety.  Importing a module runs its code, so lrscope imports only what the user names on the command line (or in
a TrainConfig they build in Python).  A command that reads a run directory never imports a module named only by
that run's config: :func:`require_named` refuses unless the same reference is given again.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import re
import sys
from dataclasses import dataclass

from ..errors import UserError

FORM = "PKG.MODULE:FACTORY"
BUILTIN_DATA_KINDS = ("digits", "synthetic", "npz", "folder", "cifar10")
MODEL_KEYWORDS = ("input_shape", "num_classes")
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_REFERENCE = re.compile(rf"^({_DOTTED}):({_DOTTED})$")


@dataclass(frozen=True)
class FactoryRef:
    """``module:name`` as parsed; ``option`` is the flag it came from (for messages)."""

    module: str
    name: str
    option: str

    @property
    def text(self) -> str:
        return f"{self.module}:{self.name}"


def is_factory(text, option: str) -> bool:
    """Whether ``text`` given to ``option`` (``--model`` or ``--data``) is meant as a factory reference."""
    if not isinstance(text, str) or ":" not in text:
        return False
    if option == "--data":
        return text.strip().partition(":")[0].strip().lower() not in BUILTIN_DATA_KINDS
    return True


def parse_factory(text: str, option: str) -> FactoryRef:
    """The reference in ``text``, or one line saying why it is not ``PKG.MODULE:FACTORY`` (nothing imported)."""
    match = _REFERENCE.match(text.strip())
    if not match:
        builtin = " nor one of lrscope's built-in data sets (digits, synthetic, npz:PATH, ...)" \
            if option == "--data" else ""
        raise UserError(f"{option} {text!r} is not {FORM}{builtin}: the module and the factory must be dotted "
                        f"Python names, e.g. mymodels:make_net")
    return FactoryRef(match.group(1), match.group(2), option)


def same_reference(a, b) -> bool:
    """Whether two texts name the same thing (surrounding spaces aside)."""
    return isinstance(a, str) and isinstance(b, str) and a.strip() == b.strip()


# ---------------------------------------------------------------- import and call


@contextlib.contextmanager
def user_code():
    """Around the user's code: the current directory first on sys.path (removed again after, if it was not
    there), and their prints on stderr."""
    cwd = os.getcwd()
    added = sys.path[:1] not in ([cwd], [""])
    if added:
        sys.path.insert(0, cwd)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if added and sys.path and sys.path[0] == cwd:
            del sys.path[0]


def resolve(ref: FactoryRef):
    """The callable ``ref`` names, imported (inside :func:`user_code`)."""
    with user_code():
        module = _import(ref)
    target, owner = module, ref.module
    for part in ref.name.split("."):
        if not hasattr(target, part):
            raise UserError(f"{ref.option} {ref.text}: {owner} has no attribute {part!r}; {_callables(target)}")
        target, owner = getattr(target, part), f"{owner}.{part}"
    if not callable(target):
        raise UserError(f"{ref.option} {ref.text} is a {type(target).__name__}, not a callable; a factory is a "
                        f"function or class that returns the {'model' if ref.option == '--model' else 'data'}")
    return target


def _import(ref: FactoryRef):
    try:
        return importlib.import_module(ref.module)
    except ModuleNotFoundError as error:
        if error.name and (ref.module == error.name or ref.module.startswith(error.name + ".")):
            raise UserError(f"{ref.option} {ref.text}: no module named {error.name!r} (sys.path[0] is "
                            f"{sys.path[0]!r}, the current directory; put {error.name.split('.')[0]}.py or its "
                            f"package there, or install it)") from None
        raise UserError(f"{ref.option} {ref.text}: importing {ref.module} failed: {_error_text(error)} "
                        f"(a module it imports is missing)") from None
    except SyntaxError as error:
        raise UserError(f"{ref.option} {ref.text}: importing {ref.module} failed: SyntaxError in "
                        f"{error.filename}, line {error.lineno}: {error.msg}") from None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - the user's module may raise anything on import
        raise UserError(f"{ref.option} {ref.text}: importing {ref.module} raised {_error_text(error)}") from None


def _callables(target) -> str:
    """'its callables: a, b, c' (those defined in the module first), for a name that was not found."""
    names = [n for n, v in vars(target).items() if callable(v) and not n.startswith("_")]
    own = [n for n in names if getattr(vars(target)[n], "__module__", None) == getattr(target, "__name__", None)]
    shown = (own or names)[:8]
    if not shown:
        return "it has no public callables"
    return "its callables: " + ", ".join(shown) + (" ..." if len(own or names) > len(shown) else "")


def call(ref: FactoryRef, factory, kwargs: dict | None = None):
    """``factory(**kwargs)`` inside :func:`user_code`; whatever it raises becomes one line naming the call."""
    kwargs = kwargs or {}
    shown = f"{ref.text}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as error:
        raise UserError(f"{ref.option} {ref.text} cannot be called as {shown}: {error} (a factory is called "
                        f"with no arguments{_keywords_hint(ref)})") from None
    except ValueError:  # no signature to inspect (a builtin): just call it
        pass
    try:
        with user_code():
            return factory(**kwargs)
    except (Exception, SystemExit) as error:  # noqa: BLE001 - the user's factory may raise anything
        raise UserError(f"{ref.option}: calling {shown} raised {_error_text(error)}") from None


def _keywords_hint(ref: FactoryRef) -> str:
    return ", plus input_shape= and num_classes= when it names them" if ref.option == "--model" else ""


def _error_text(error: BaseException, limit: int = 240) -> str:
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# ---------------------------------------------------------------- models


def model_keywords(factory, input_shape: tuple[int, ...], num_classes: int) -> dict:
    """``input_shape``/``num_classes`` for the parameters of those names the factory's signature has (a bare
    ``**kwargs`` gets neither: it may hand them on to something that does not take them)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    values = {"input_shape": tuple(int(d) for d in input_shape), "num_classes": int(num_classes)}
    usable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {name: values[name] for name in MODEL_KEYWORDS if name in params and params[name].kind in usable}


def model_from_factory(text: str, input_shape: tuple[int, ...], num_classes: int):
    """The ``torch.nn.Module`` the factory ``text`` builds (initialised from torch's global RNG: seed first)."""
    from torch import nn

    ref = parse_factory(text, "--model")
    factory = resolve(ref)
    model = call(ref, factory, model_keywords(factory, input_shape, num_classes))
    if not isinstance(model, nn.Module):
        raise UserError(f"--model {ref.text} returned a {type(model).__name__}; expected a torch.nn.Module")
    return model


# ---------------------------------------------------------------- run directories name code; they never run it


def require_named(where: str, stored_model, stored_data, *, model: str | None = None,
                  data: str | None = None) -> None:
    """Refuse to rebuild a run whose model or data came from the user's code unless the user names the same
    reference now (``model``/``data``: what the command line gave; None = not given).

    ``where`` says what is being read ("runs/r"); ``stored_*`` are the run's own settings.  A reference given now
    that differs from the run's is refused too (naming both), and so is a built-in the run did not use.  Nothing is
    imported here: this runs before any module named by the run could be.
    """
    missing, problems = [], []
    for option, stored, given in (("--model", stored_model, model), ("--data", stored_data, data)):
        what = option[2:]
        if stored is None:  # the run does not say (a resume fills it from the command line)
            continue
        if given is not None and not same_reference(given, stored):
            if is_factory(stored, option):
                problems.append(f"{where}'s {what} was built by {stored} (your code), but {option} says {given}: "
                                f"pass {option} {stored} to use the run")
            else:
                problems.append(f"{where}'s {what} is {stored!r}, but {option} says {given}: leave {option} out "
                                f"or give the run's")
        elif given is None and is_factory(stored, option):
            missing.append((option, what, stored))
    if problems:
        raise UserError("; ".join(problems))
    if missing:
        built = " and its ".join(f"{what} {'was built ' if k == 0 else ''}by {stored}"
                                 for k, (_, what, stored) in enumerate(missing))
        passes = " ".join(f"{option} {stored}" for option, _, stored in missing)
        raise UserError(f"{where}'s {built} (your code); lrscope never imports code named by a run directory: "
                        f"pass {passes} to use it")
