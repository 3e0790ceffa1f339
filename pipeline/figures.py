"""Matplotlib set up for Chinese labels on a machine with no system CJK fonts.

The Noto Sans CJK SC font ships inside the ``mplfonts`` wheel (SIL OFL); registering that file
directly means figures render the same on a fresh machine as here, without empty boxes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def cjk_pyplot():
    """Return ``matplotlib.pyplot`` with a headless backend and a CJK font as the default family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplfonts
    from matplotlib import font_manager

    font_file = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    font_manager.fontManager.addfont(str(font_file))
    family = font_manager.FontProperties(fname=str(font_file)).get_name()
    plt.rcParams["font.family"] = [family]
    plt.rcParams["axes.unicode_minus"] = False
    # Keep SVG text as text (searchable, small) and make output reproducible.
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["svg.hashsalt"] = "tifa"
    return plt
