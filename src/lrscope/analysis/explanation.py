"""What ``lrscope explain`` finds, as values: the drops, the findings in words, and the whole explanation with
its JSON form (schema ``lrscope.explain/1``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .events import RateChange, ScheduleShape
from .stages import Stage

SCHEMA = "lrscope.explain/1"
NOISE_COLUMNS = ("noise_trace", "grad_sq", "b_simple", "b_noise")  # the noise probe (probes/noise.py) fills these in


@dataclass
class Drop:
    metric: str
    row: int
    x: float
    before: float
    after: float
    relative: float
    event: int | None
    sharp: bool = True


@dataclass
class Finding:
    kind: str
    row: int | None
    text: str


@dataclass
class Explanation:
    source: dict
    events: list[RateChange]
    drops: list[Drop]
    stages: list[Stage]
    findings: list[Finding]
    shape: ScheduleShape = field(default_factory=lambda: ScheduleShape("unknown"))
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA,
            "source": self.source,
            "events": [
                {
                    "row": e.row,
                    "x": _num(e.x),
                    "lr_before": _num(e.lr_before),
                    "lr_after": _num(e.lr_after),
                    "source": e.source,
                    "confidence": round(float(e.confidence), 3),
                }
                for e in self.events
            ],
            "drops": [
                {
                    "metric": d.metric,
                    "row": d.row,
                    "x": _num(d.x),
                    "before": _num(d.before),
                    "after": _num(d.after),
                    "relative": _num(round(d.relative, 6)),
                    "event": d.event,
                    "sharp": d.sharp,
                }
                for d in self.drops
            ],
            "stages": [
                {
                    "first_row": s.first_row,
                    "last_row": s.last_row,
                    "lr": _num(s.lr),
                    "plateaued": bool(s.plateaued),
                    "tail_change": _num(round(s.tail_change, 6)),
                    "rows_to_flatten": _num(
                        None if s.rows_to_flatten is None else round(s.rows_to_flatten, 1)
                    ),
                    "judged": s.judged,
                }
                for s in self.stages
            ],
            "findings": [asdict(f) for f in self.findings],
            "schedule": {
                "kind": self.shape.kind,
                "lr_first": _num(self.shape.lr_first),
                "lr_last": _num(self.shape.lr_last),
                "warmup_rows": self.shape.warmup_rows,
                "cooldown_row": self.shape.cooldown_row,
                "restarted_warmups": [
                    {
                        "row": r.row,
                        "x": _num(r.x),
                        "lr_before": _num(r.lr_before),
                        "lr_after": _num(r.lr_after),
                        "end_row": r.end_row,
                    }
                    for r in self.shape.restarted_warmups
                ],
            },
            "notes": list(self.notes),
        }

    def text(self) -> str:
        """The findings as plain text, one paragraph each (the CLI adds colour)."""
        lines = [f"{self.source['path']}: {self.source['rows']} rows ({self.source['format']})"]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f.text for f in self.findings]
        return "\n".join(lines)


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None
