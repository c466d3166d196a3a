"""Pictures: every module here draws with Matplotlib (Agg) from values the other layers computed.

Importing the package quiets Matplotlib's font manager below errors: a stale font cache (~/.cache/matplotlib after
a Matplotlib moved or a virtual environment was deleted) makes it log one "findfont" line per font family on
stderr, which would bury the one line a command prints on bad input.
"""

import logging

logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
