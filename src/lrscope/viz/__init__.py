"""Pictures: every module here draws with Matplotlib (Agg) from values the other layers computed.

Importing the package quiets Matplotlib's font manager below errors: a stale font cache (~/.cache/matplotlib after
a Matplotlib moved or a virtual environment was deleted) makes it log one "findfont" line per font family on
stderr, which would bury the one line a command prints on bad input.
"""

import logging

logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def plot_finder(result, ax=None):
    """The range test's picture as a Matplotlib ``Figure`` (Agg; nothing is shown or saved): raw and fitted
    loss, the slope, every rule's suggestion and the CLR/1cycle range.  ``result`` is a FinderResult or its
    JSON; with ``ax`` it draws there and returns that axes' figure.  :func:`lrscope.viz.finder.plot_finder`
    is the same drawing returning the axes, for composing a figure of your own."""
    from .finder import plot_finder as draw

    return draw(result, ax=ax).figure
