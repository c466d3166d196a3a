"""The report's explanation section: explain's findings, the learning-rate changes, the sharp drops and what
caused each, and whether every stage at a constant rate had flattened out before the next decay."""

from __future__ import annotations

from ..logs.rundir import EXPLAIN
from ..logs.runlog import path_label
from .read import RunResults
from .section import Section, guarded
from .text import fmt, pct


@guarded("explanation", "Explanation")
def explanation_section(run: RunResults, missing: list[str]) -> Section | None:
    doc, notes = run.explanation, run.explanation_notes
    if doc is None:
        if notes:
            return Section("explanation", "Explanation", notes=notes)
        missing.append(f"explanation: no {EXPLAIN} (run `lrscope explain {path_label(run.path)}`)")
        return None
    items = [str(f.get("text")) for f in doc.get("findings") or [] if isinstance(f, dict) and f.get("text")]
    tables = []
    events = [e for e in doc.get("events") or [] if isinstance(e, dict)]
    if events:
        tables.append(
            {
                "caption": "learning-rate changes",
                "head": ["at", "rate before", "rate after", "source", "confidence"],
                "rows": [
                    [
                        fmt(e.get("x")),
                        fmt(e.get("lr_before")),
                        fmt(e.get("lr_after")),
                        fmt(e.get("source")),
                        fmt(e.get("confidence"), 2),
                    ]
                    for e in events
                ],
            }
        )
    drops = [d for d in doc.get("drops") or [] if isinstance(d, dict)]
    if drops:

        def cause(d):
            i = d.get("event")
            if isinstance(i, int) and 0 <= i < len(events):
                return f"rate change at {fmt(events[i].get('x'))}"
            return "unexplained"

        tables.append(
            {
                "caption": "sharp drops",
                "head": ["metric", "at", "before", "after", "relative", "caused by"],
                "rows": [
                    [
                        fmt(d.get("metric")),
                        fmt(d.get("x")),
                        fmt(d.get("before")),
                        fmt(d.get("after")),
                        pct(d.get("relative")),
                        cause(d),
                    ]
                    for d in drops
                ],
            }
        )
    stages = [s for s in doc.get("stages") or [] if isinstance(s, dict)]
    if stages:
        tables.append(
            {
                "caption": "stages at a constant rate",
                "head": ["rows", "rate", "verdict", "tail change"],
                "rows": [
                    [
                        f"{fmt(s.get('first_row'))}–{fmt(s.get('last_row'))}",
                        fmt(s.get("lr")),
                        "plateaued" if s.get("plateaued") else "still falling when it ended",
                        fmt(s.get("tail_change")),
                    ]
                    for s in stages
                ],
            }
        )
    lead = (
        "What the curves did and why: each sharp drop tied to the learning-rate change that explains it, and "
        "for each stage at a constant rate, whether it had flattened out before the next decay."
    )
    if not (items or tables):
        notes = notes + ["the explanation is empty: no rate changes, drops or stages were found"]
    return Section("explanation", "Explanation", lead=lead, items=items, tables=tables, notes=notes)
