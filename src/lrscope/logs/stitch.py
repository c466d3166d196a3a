"""Consecutive PyTorch Lightning versions of one resumed run, stitched into one run.

Lightning starts a new ``version_N`` directory every time a script runs, so a run resumed from its checkpoint
continues in ``version_{N+1}``: its step counter starts where the previous version's ended.  Two consecutive
versions are one run when the later one's first x value lies after the earlier one's last (same x axis);
they are joined and a note says so.  Versions whose x starts again from the beginning are separate runs.
"""

from __future__ import annotations

import re

import numpy as np

from .runlog import RunLog, build_runlog

_VERSION = re.compile(r"version_(\d+)")


def continues(a: RunLog, b: RunLog) -> bool:
    """``b`` is the resumed continuation of ``a``: both Lightning versions, same x axis, b starting after a."""
    if not (_VERSION.search(a.run or a.path) and _VERSION.search(b.run or b.path)) or a.x_name != b.x_name:
        return False
    xa, xb = a.x[np.isfinite(a.x)], b.x[np.isfinite(b.x)]
    return bool(len(xa) and len(xb) and xb[0] > xa[-1])


def join(a: RunLog, b: RunLog) -> RunLog:
    names = list(dict.fromkeys([*a.columns, *b.columns]))
    columns = {
        k: np.concatenate([a.columns.get(k, np.full(a.rows, np.nan)), b.columns.get(k, np.full(b.rows, np.nan))])
        for k in names
    }
    notes = [n for n in a.notes if n not in b.notes] + list(b.notes)
    notes.append(f"{b.run or b.path} continues {a.run or a.path} (a resumed run): stitched them into one run")
    log = build_runlog(columns, path=a.path, fmt=a.format, notes=notes, x=a.x_name)
    log.run = f"{a.run} + {b.run}" if a.run and b.run else a.run
    log.records = (a.records[0], a.records[1] + b.records[1])
    return log


def stitch_versions(runs: list[RunLog]) -> list[RunLog]:
    """``runs`` with each Lightning version that continues the one before it joined to it."""
    out: list[RunLog] = []
    for run in runs:
        if out and continues(out[-1], run):
            out[-1] = join(out[-1], run)
        else:
            out.append(run)
    return out
