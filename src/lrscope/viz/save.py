"""Write a Matplotlib figure to a file atomically, in the format its suffix names (.png, .svg or .pdf)."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_path
from ..outputs import FIGURE


def save_figure(fig, out: str | Path, *, dpi: int = 110) -> Path:
    """``fig`` into ``out`` (PNG when the suffix is not one of .png/.svg/.pdf), never half-written; every log
    axis gets :func:`lrscope.viz.ticks.readable_log_ticks` first."""
    from .ticks import readable_log_ticks

    readable_log_ticks(fig)  # a figure drawn elsewhere gets readable log ticks too
    out = Path(out)
    fmt = out.suffix.lower() if out.suffix.lower() in FIGURE else ".png"
    with atomic_path(out, suffix=fmt) as tmp:
        fig.savefig(tmp, format=fmt.lstrip("."), dpi=dpi, metadata=_no_date(fmt))
    return out


def _no_date(fmt: str) -> dict | None:
    """Leave the creation date out of SVG/PDF files so the same figure gives the same bytes."""
    return {"Date": None} if fmt in (".svg", ".pdf") else None
