"""Figures as inline SVG for an HTML page: a small Agg figure in, a responsive ``<svg>`` element out.

The SVG has no fixed width or height (only a viewBox, so CSS scales it), no XML prolog, no DOCTYPE and no
metadata block: nothing in it points outside the page.
"""

from __future__ import annotations

import io
import re


def new_figure(width: float = 7.2, height: float = 3.4, *, layout: str | None = "constrained", dpi: int = 100):
    """A white Matplotlib figure on the Agg canvas (no pyplot), ``width`` x ``height`` inches at ``dpi``;
    constrained layout by default, which makes room for the legend outside the axes
    (:func:`lrscope.viz.palette.place_legend`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, facecolor="white", layout=layout)
    FigureCanvasAgg(fig)
    return fig


def to_svg(fig) -> str:
    """The figure as an inline, responsive SVG element."""
    from .ticks import readable_log_ticks

    readable_log_ticks(fig)  # plain numbers, at least two labels on every log axis
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.05, metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    head_end = svg.index(">")
    # no fixed size (CSS scales it), and no namespace URLs: the HTML parser knows SVG and xlink without them
    head = re.sub(r'\s(width|height|xmlns|xmlns:xlink)="[^"]*"', "", svg[:head_end])
    return head + ' class="fig" role="img"' + svg[head_end:]
