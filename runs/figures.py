"""Figures and progress bars: how a run shows itself to a person.

:func:`figure` / :func:`save_figure` draw headless (matplotlib's Agg) and write PNGs atomically;
:func:`progress_bar` is tqdm that keeps quiet where nobody watches (a log file, CI).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pucklab.runs.store import atomic_write

DPI = 110


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend: files only, works without a screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path | str) -> Path:
    """Write ``fig`` to ``path`` as a PNG (atomically) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    pyplot().close(fig)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return Path(path)


def progress_bar(show: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar: ``show`` True or False forces it; None shows it only when stderr (where the
    bar goes) is a terminal, so a log file does not fill with carriage-return updates."""
    return tqdm(disable=None if show is None else not show, dynamic_ncols=True, **kwargs)
