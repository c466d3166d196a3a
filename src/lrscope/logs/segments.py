"""Appended and restarted logs: where the x counter goes backwards, a new run (or a resumed one) begins.

Training scripts often append to the log they find (DETR's ``log.txt``, detectron2's ``metrics.json``, a CSV
logger reopened after a crash), so one file can hold several runs.  Merging such a file by x would splice the
runs into one curve and invent rate changes across the splice, so the log is cut into segments first:

- the counter goes back at record i when x[i] < x[i-1], or when x[i] == x[i-1] and the two records log the
  same fields (the same record written again; records that share an x but log different fields, such as
  Lightning's separate training and validation rows, stay together);
- going back to (or before) the x where the current run began is a new run (a restart: DETR's appended
  ``log.txt``); going back to an x inside the current run is that run resumed from a checkpoint: its records
  from that x on are superseded by the later ones (kept the last of each, said in a note);
- records with no x value stay in the segment they are in;
- a segment of fewer than :data:`MIN_RUN_RECORDS` records (a run stopped after one log line) is listed in a
  note and not explained.

Records are counted from 1 in the reader's order (the file's data lines or objects), so a segment is named by
the records it covers ("records 101-300").
"""

from __future__ import annotations

import numpy as np

MIN_RUN_RECORDS = 4


def restart_starts(columns: dict[str, np.ndarray], x_name: str) -> list[int]:
    """Indices of the records that start a new segment (0 is not listed)."""
    x = columns[x_name]
    finite = np.flatnonzero(np.isfinite(x))
    if len(finite) < 2:
        return []
    xs = x[finite]
    back = np.flatnonzero(xs[1:] < xs[:-1]) + 1
    same = np.flatnonzero(xs[1:] == xs[:-1]) + 1
    starts = set(finite[back].tolist())
    if len(same):
        others = [v for k, v in columns.items() if k != x_name]
        if others:
            logged = np.column_stack([np.isfinite(v) for v in others])
            a, b = finite[same - 1], finite[same]
            repeated = np.all(logged[a] == logged[b], axis=1) & (logged[b].sum(axis=1) >= 2)
            starts.update(b[repeated].tolist())
    return sorted(starts)


def split_runs(columns: dict[str, np.ndarray], x_name: str, notes: list[str]) -> list[np.ndarray]:
    """The record indices of each run, in order (one array covering everything when the log holds one run).

    Resumes are folded into their run (superseded records dropped, with a note); restarts start a new run.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    starts = restart_starts(columns, x_name)
    if not starts:
        return [np.arange(n)]
    x = columns[x_name]
    edges = [0, *starts, n]
    runs: list[np.ndarray] = []
    resumed = 0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        piece = np.arange(a, b)
        if runs and a in starts:
            current = runs[-1]
            cx = x[current]
            began = cx[np.isfinite(cx)]
            if len(began) and np.isfinite(x[a]) and x[a] > began[0]:
                keep = ~(np.isfinite(cx) & (cx >= x[a]))
                runs[-1] = np.concatenate([current[keep], piece])
                resumed += 1
                continue
        runs.append(piece)
    if resumed:
        notes.append(
            f"the {x_name} counter goes back {resumed} time(s) to a value inside the run (a resumed run): "
            f"kept the later records where they overlap"
        )
    return runs


def records_text(records: np.ndarray) -> str:
    """'record 5' or 'records 101-300' (1-based, inclusive) for a run's record indices."""
    first, last = int(records[0]) + 1, int(records[-1]) + 1
    return f"record {first}" if first == last else f"records {first}-{last}"


def segments_note(runs: list[np.ndarray], kept: list[np.ndarray], x_name: str) -> str:
    """The note that says the log holds several runs, which were explained and which were too short."""
    short = [r for r in runs if not any(r is k for k in kept)]
    text = (
        f"the {x_name} counter starts again {len(runs) - 1} time(s): the log holds {len(runs)} runs appended or "
        f"restarted ({', '.join(records_text(r) for r in runs)}); each run is explained on its own, never "
        f"spliced"
    )
    if short:
        text += (
            f"; {len(short)} of them with fewer than {MIN_RUN_RECORDS} records "
            f"({', '.join(records_text(r) for r in short)}) are too short to explain"
        )
    return text
