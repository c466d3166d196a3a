"""The report's explanation and forecast sections: explain's findings in words, the learning-rate changes, the
sharp drops and what caused each, each stage's verdict, and the forecast explain makes where a loss law fits.

The tables say what the words say: places are written in the log's own x ("epoch 1-81", as in the findings),
"sharp drops" lists only the drops explain judged sharp, and a stage gets a row only when a finding speaks of
it, with that finding's verdict (a smooth schedule, whose findings judge no stage, gets no stage table).
"""

from __future__ import annotations

import numpy as np

from ..analysis.wording import fmt_x, unit_word
from ..logs.rundir import EXPLAIN
from ..logs.runlog import RunLog, path_label
from .section import Section, guarded
from .text import fmt, fmt_text, pct

FORECAST = "forecast"
STAGE = "stage"


def _at(log: RunLog | None, row) -> str:
    """A row as the findings name it: "epoch 82", "step 3650"; without the log, the row counted from 1."""
    if not isinstance(row, int) or row < 0:
        return "–"
    if log is None or row >= log.rows:
        return f"row {row + 1}"
    unit = unit_word(log)
    value = row + 1 if unit == "row" else log.x[row]
    return f"{unit} {fmt_x(value)}" if np.isfinite(value) else f"row {row + 1}"


def _span(log: RunLog | None, first, last) -> str:
    a, b = _at(log, first), _at(log, last)
    if a == b:
        return a
    unit, _, end = b.rpartition(" ")
    return f"{a}–{end}" if a.startswith(unit + " ") else f"{a}–{b}"


def _findings(doc: dict) -> list[dict]:
    return [f for f in doc.get("findings") or [] if isinstance(f, dict) and isinstance(f.get("text"), str)]


def _verdict(stage: dict, text: str) -> str:
    """The stage's verdict in the table, read from the same finding the page prints beside it."""
    if "too short to judge" in text or stage.get("judged") is False:
        return "too short to judge"
    if "is the warm-up" in text:
        return "warm-up (not judged)"
    if "see the overfitting finding" in text:
        return "overfitting"
    if "stopped improving" in text:
        return "stopped improving"
    return "plateaued" if stage.get("plateaued") else "still improving"


def _events_table(events: list[dict], log) -> dict:
    return {
        "caption": "learning-rate changes",
        "head": ["at", "rate before", "rate after", "source", "confidence"],
        "rows": [
            [
                _at(log, e.get("row")),
                fmt(e.get("lr_before")),
                fmt(e.get("lr_after")),
                fmt(e.get("source")),
                fmt(e.get("confidence"), 2),
            ]
            for e in events
        ],
    }


def _drops_table(drops: list[dict], events: list[dict], log) -> dict:
    def cause(d):
        i = d.get("event")
        if isinstance(i, int) and 0 <= i < len(events):
            return f"rate change at {_at(log, events[i].get('row'))}"
        return "unexplained"

    return {
        "caption": "sharp drops",
        "head": ["metric", "at", "before", "after", "change", "caused by"],
        "rows": [
            [
                str(d.get("metric", "–")).replace("_", " "),
                _at(log, d.get("row")),
                fmt(d.get("before")),
                fmt(d.get("after")),
                pct(d.get("relative")),
                cause(d),
            ]
            for d in drops
        ],
    }


def _stages_table(stages: list[dict], findings: list[dict], log) -> dict | None:
    said = {f.get("row"): f["text"] for f in findings if f.get("kind") == STAGE}
    if not any("kind" in f for f in findings):  # not explain's own document (hand-written): the stages as they are
        said = {s.get("first_row"): "" for s in stages}
    unit = unit_word(log) if log is not None else "row"
    rows = []
    for k, s in enumerate(stages):
        text = said.get(s.get("first_row"))
        if text is None:
            continue
        rows.append(
            [
                str(k + 1),
                _span(log, s.get("first_row"), s.get("last_row")),
                fmt(s.get("lr")),
                _verdict(s, text),
                "–" if s.get("judged") is False else pct(s.get("tail_change"), signed=True),
            ]
        )
    if not rows:
        return None
    return {
        "caption": "stages at a constant rate",
        "head": ["stage", "span", "rate", "verdict", f"tail change per {unit}"],
        "rows": rows,
    }


@guarded("explanation", "Explanation")
def explanation_section(run, missing: list[str]) -> Section | None:
    """``run``: anything with ``explanation`` (explain's JSON document or None), ``explanation_notes``,
    ``path`` and ``log`` (the RunLog explained, or None)."""
    doc, notes, log = run.explanation, list(run.explanation_notes), getattr(run, "log", None)
    if doc is None:
        if notes:
            return Section("explanation", "Explanation", notes=notes)
        missing.append(f"explanation: no {EXPLAIN} (run `lrscope explain {path_label(run.path)}`)")
        return None
    findings = _findings(doc)
    items = [fmt_text(f["text"]) for f in findings if f.get("kind") != FORECAST]
    events = [e for e in doc.get("events") or [] if isinstance(e, dict)]
    drops = [d for d in doc.get("drops") or [] if isinstance(d, dict) and d.get("sharp", True) is not False]
    stages = [s for s in doc.get("stages") or [] if isinstance(s, dict)]
    tables = [t for t in (
        _events_table(events, log) if events else None,
        _drops_table(drops, events, log) if drops else None,
        _stages_table(stages, findings, log) if stages else None,
    ) if t is not None]
    lead = (
        "What the curves did and why: each sharp drop tied to the learning-rate change that explains it, and "
        "for each stage at a constant rate, whether it had flattened out before the next decay."
    )
    if not (items or tables):
        notes.append("the explanation is empty: no rate changes, drops or stages were found")
    return Section("explanation", "Explanation", lead=lead, items=items, tables=tables, notes=notes)


@guarded("forecast", "Forecast")
def forecast_section(run, missing: list[str]) -> Section | None:
    """Explain's forecast findings (a loss law fitted on the run: each stage run half again as long), when it
    made any; nothing otherwise (explain says nothing on a poor fit, a smooth schedule or no step axis)."""
    doc = run.explanation
    items = [fmt_text(f["text"]) for f in _findings(doc) if f.get("kind") == FORECAST] if doc else []
    if not items:
        return None
    lead = (
        "Had each stage before a decay run half again as long: the loss a law fitted on this run's own curve "
        "(see <code>lrscope forecast</code>) predicts at the end of the next stage."
    )
    return Section("forecast", "Forecast", lead=lead, items=items)
