"""Saving a plot with the context it needs to be read alone.

A PNG travels without its report: every plot the project writes (backtest,
explanations, comparisons) says under it which model, sample and dates it
shows, laid out the same way, then is written and closed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

#: characters of footer per inch of figure width, at the footer's 7 pt
FOOTER_CHARS_PER_INCH = 18


def save_figure(fig: Any, path: Path, context: str = "") -> Path:
    """Write ``fig`` to ``path`` (110 dpi) with ``context`` as a footer, and close it."""
    import matplotlib.pyplot as plt

    if context:
        width = int(fig.get_figwidth() * FOOTER_CHARS_PER_INCH)
        fig.text(0.5, 0.005, textwrap.fill(context, width), ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.06 if context else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
