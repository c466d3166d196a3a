"""The page: the sections of each run through the Jinja2 template (templates/report.html.j2) into one HTML text.

CSS is inline in the template and figures are inline SVG, so the page makes no external requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from .. import __version__
from .section import Section

TEMPLATE = "report.html.j2"
GENERATOR = '<meta name="generator" content="lrscope'  # how a page lrscope wrote is known again


@dataclass
class RunView:
    """One run as the page shows it: its name, its sections and what it lacks."""

    name: str
    path: Path
    sections: list[Section]
    missing: list[str]

    @property
    def anchor(self) -> str:
        """The run's name as an HTML id prefix (no spaces or brackets)."""
        return re.sub(r"[^\w.-]+", "-", self.name).strip("-") or "run"


def render_page(
    title: str, subtitle: str, top: list[Section], runs: list[RunView], missing: list[str],
    bottom: list[Section] = (),
) -> str:
    """The whole page: ``top`` sections first, then each run's, then ``bottom`` (reference such as the
    configuration, folded), then what is not in the report."""
    env = Environment(
        loader=PackageLoader("lrscope.report", "templates"),
        autoescape=select_autoescape(["j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page = env.get_template(TEMPLATE).render(
        title=title,
        subtitle=subtitle,
        top=top,
        runs=runs,
        bottom=list(bottom),
        missing=missing,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )
    # a lone surrogate from a hand-written JSON file ("\\udcff") would stop the UTF-8 encoding: show it escaped
    return page.encode("utf-8", errors="backslashreplace").decode("utf-8")
