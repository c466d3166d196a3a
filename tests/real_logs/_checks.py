"""What the real-log tests read off an explanation document (the JSON contract of `lrscope explain --json`).

A document is {"schema": "lrscope.explain/1", "source", "events", "drops", "stages", "findings", "schedule", "notes"}
for one run, or {"schema": "lrscope.explain-runs/1", "runs": [doc, ...]} for several runs or segments. Tests assert on
x values (epoch, step, iteration), not on merged-table rows, except for findings, which carry only a row.
"""

from __future__ import annotations

import re

ONE = "lrscope.explain/1"
MANY = "lrscope.explain-runs/1"

NUM = r"(-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?)"
# "<verb> [words] [(]A -> B": the verb's claim and the two levels it quotes. The gap may not hold another verb or a
# sentence end, so a pair is read with the verb that introduces it.
_CLAIM = re.compile(
    r"\b(fell|rose|barely moved)\b((?:(?!\bfell\b|\brose\b|\bbarely\b|\bheld\b|\. |; ).){0,60}?)\(?\s*"
    + NUM
    + r"\s*%?\s*(?:->|→)\s*"
    + NUM
    + r"\s*%?",
    re.IGNORECASE,
)
# Advice to keep training at the same rate (wrong on a stage that overfits or degrades). "More epochs at this rate
# would gain little" is not such advice.
LONGER = re.compile(
    r"train(?:ing)? longer[^.;]*\bwould help"
    r"|\b(?:needs?|needed|would (?:have )?need(?:ed)?) (?:about |roughly |~)?[\d,.]+ more\b"
    r"|decay came early"
    r"|\bmore (?:epochs|steps|iterations)\b[^.;]*\bwould help"
    r"|stage is not finished"
    r"|keep training",
    re.IGNORECASE,
)
# A claim that a step change happened (wrong on a smooth schedule).
STEP_CLAIM = re.compile(r"\bcut [\d.]+\s*(?:x|×)|after the lr (?:went|was cut)", re.IGNORECASE)
NO_LR_NEAR = "no learning-rate change is near"


def runs(doc: dict) -> list[dict]:
    """The run documents: the document itself for one run."""
    return doc["runs"] if doc["schema"] == MANY else [doc]


def single(doc: dict, name: str = "") -> dict:
    """The document of a log that holds one run (the contract prints it bare)."""
    assert doc["schema"] == ONE, f"{name}: one run expected, got {doc['schema']} with {len(doc.get('runs', []))} runs"
    return doc


def event_xs(doc: dict) -> list[float]:
    return [e["x"] for e in doc["events"]]


def lr_close(value: float | None, truth: float, rel: float = 1e-6) -> bool:
    """Equal within 1e-6 relative (covers float32 values such as 0.0010000000474974513)."""
    return value is not None and abs(value - truth) <= rel * abs(truth)


def close(value: float | None, truth: float, rel: float = 0.10) -> bool:
    return value is not None and abs(value - truth) <= rel * abs(truth)


def event_at(doc: dict, x: float, tol: float = 0.0) -> int | None:
    """Index of the event nearest x, when one lies within tol of it."""
    best = None
    for k, e in enumerate(doc["events"]):
        d = abs(e["x"] - x)
        if d <= tol and (best is None or d < abs(doc["events"][best]["x"] - x)):
            best = k
    return best


def tied(doc: dict, metric: str, k: int) -> list[dict]:
    """Drops of a metric blamed on event k."""
    return [d for d in doc["drops"] if d["metric"] == metric and d["event"] == k]


def describe(doc: dict) -> str:
    """A short summary for assertion messages."""
    ev = [(e["x"], e["lr_before"], e["lr_after"], e["source"]) for e in doc.get("events", [])]
    dr = [(d["metric"], d["x"], round(d["before"], 5), round(d["after"], 5), d["event"]) for d in doc.get("drops", [])]
    return f"events={ev} drops={dr}"


def findings_text(doc: dict, kinds: tuple[str, ...] | None = None) -> list[str]:
    return [f["text"] for f in doc["findings"] if kinds is None or f["kind"] in kinds]


def all_text(doc: dict) -> str:
    """Findings and notes of every run, lower-cased."""
    parts = []
    for d in runs(doc):
        parts += [f["text"] for f in d["findings"]] + list(d.get("notes", []))
    parts += list(doc.get("notes", [])) if doc["schema"] == MANY else []
    return "\n".join(parts).lower()


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def word_violations(text: str) -> list[str]:
    """Sentences whose verb contradicts the levels they quote: "fell" with after > before, "rose" with after <
    before, "barely moved" about a change of more than 5 % (the printed levels are rounded, hence the slack)."""
    bad = []
    for m in _CLAIM.finditer(text):
        verb, a, b = m.group(1).lower(), _num(m.group(3)), _num(m.group(4))
        wrong = {
            "fell": b > a,
            "rose": b < a,
            "barely moved": abs(b - a) > 0.055 * max(abs(a), 1e-300),
        }[verb]
        if wrong:
            bad.append(m.group(0))
    return bad


def quoted_pairs(text: str, verb: str) -> list[tuple[float, float]]:
    return [(_num(m.group(3)), _num(m.group(4))) for m in _CLAIM.finditer(text) if m.group(1).lower() == verb]


def unexplained_near(doc: dict, metric: str | None, x: float, tol: float) -> list[dict]:
    """Drops (of metric, or of any metric) within tol of x that are blamed on no event."""
    return [
        d
        for d in doc["drops"]
        if d["event"] is None and (metric is None or d["metric"] == metric) and abs(d["x"] - x) <= tol
    ]


def stage_findings(doc: dict, first_row: int, last_row: int) -> list[dict]:
    """Findings whose row lies in [first_row, last_row] (0-based rows of the merged table)."""
    return [f for f in doc["findings"] if f["row"] is not None and first_row <= f["row"] <= last_row]


def per_unit_rates(text: str, unit: str) -> list[float]:
    """Percent rates quoted as 'N% per <unit>'."""
    return [abs(_num(m.group(1))) for m in re.finditer(NUM + r"\s*% per " + unit + r"\b", text, re.IGNORECASE)]


def assert_smooth(doc: dict, name: str) -> None:
    """A smooth (or constant) schedule: no step events, no drop blamed on one, no finding that claims a cut."""
    assert doc["events"] == [], f"{name}: smooth schedule but step events {describe(doc)}"
    assert all(d["event"] is None for d in doc["drops"]), f"{name}: a drop is blamed on an event: {describe(doc)}"
    drops = findings_text(doc, ("drop",))
    assert not drops, f"{name}: a finding blames a drop on a decay: {drops[0]}"
    claims = [t for t in findings_text(doc) if STEP_CLAIM.search(t)]
    assert not claims, f"{name}: a finding claims a step change: {claims[0]}"
