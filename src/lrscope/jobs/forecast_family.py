"""``--best FAMILY``: a schedule spec with alternatives in braces, expanded into every combination.

    wsd(3e-4, total=24000, decay_frac={0.1, 0.2, 0.3})               3 specs
    multistep(0.1, milestones=[{40, 50, 60}, 80])                     3 specs
    wsd(3e-4, total=24000, decay_frac={0.1,0.2}, decay={'linear', '1-sqrt'})   4 specs

Each ``{a, b, ...}`` is replaced by one of its items; several braces give their product (at most
:data:`MAX_CANDIDATES`).  Every candidate must parse as a spec.
"""

from __future__ import annotations

import itertools
import re

from ..errors import UserError
from ..schedules import parse_schedule

MAX_CANDIDATES = 200
_BRACE = re.compile(r"\{([^{}]*)\}")


def expand_family(text: str) -> list[str]:
    """Every spec the family names, in order (the first brace varies slowest)."""
    text = str(text)
    groups = _BRACE.findall(text)
    if not groups:
        raise UserError(f"--best takes a spec with alternatives in braces, e.g. \"wsd(3e-4, total=24000, "
                        f"decay_frac={{0.1, 0.2, 0.3}})\"; got {text!r} (no braces)")
    choices = [[item.strip() for item in group.split(",") if item.strip()] for group in groups]
    if any(not c for c in choices):
        raise UserError(f"--best {text!r}: an empty pair of braces; list the alternatives, e.g. {{0.1, 0.2}}")
    count = 1
    for c in choices:
        count *= len(c)
    if count > MAX_CANDIDATES:
        raise UserError(f"--best {text!r} names {count} schedules; at most {MAX_CANDIDATES}")
    pieces = _BRACE.split(text)  # text, group, text, group, ..., text
    specs = []
    for combo in itertools.product(*choices):
        spec = "".join(p if i % 2 == 0 else combo[i // 2] for i, p in enumerate(pieces))
        specs.append(parse_schedule(spec).spec)  # a candidate that does not parse: the spec error, with position
    return list(dict.fromkeys(specs))
