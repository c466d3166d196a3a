"""One block of the report's page, and the guard that turns a section that fails into a note."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field


@dataclass
class Section:
    """One block of the page: a heading, optional lead text, figures (SVG strings), tables and notes."""

    id: str
    title: str
    lead: str = ""
    figures: list[str] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)  # {"caption", "head": [...], "rows": [[...]]}
    items: list[str] = field(default_factory=list)  # bullet points (plain text)
    notes: list[str] = field(default_factory=list)  # small print: what could not be read
    folded: bool = False  # shown closed (<details>): reference material such as the configuration


def guarded(section_id: str, title: str):
    """Decorator: a section builder that raises gives a section holding one note, never a failed report."""

    def wrap(build):
        @functools.wraps(build)
        def inner(*args, **kwargs):
            try:
                return build(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - a report is always written
                return Section(
                    section_id,
                    title,
                    notes=[f"could not render this section: {type(error).__name__}: {error}"],
                )

        return inner

    return wrap
