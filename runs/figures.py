"""Figures and progress bars: how a run shows itself to a person.

:func:`pyplot` / :func:`save_figure` draw headless (matplotlib's Agg) and write PNGs atomically;
:func:`progress_bar` is tqdm on a terminal; asked for in a log file, whole lines every few percent.
"""

from __future__ import annotations

import io
import sys
import time
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


class LogLines(tqdm):  # type: ignore[misc]  # tqdm ships no type hints
    """tqdm for a log file or a pipe: a whole line each :attr:`STEP` of the total (every
    :attr:`EVERY_S` seconds without a total), never the carriage-return redraws a terminal
    bar writes many times a second."""

    STEP = 0.05
    EVERY_S = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._shown: float = -1.0
        super().__init__(*args, **{**kwargs, "leave": False, "ascii": True})

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "" or self.disable:  # tqdm clearing the bar at the end: lines stay as they are
            return False
        now = time.monotonic()
        if self.total:
            mark = min(self.n / self.total, 1.0) // self.STEP
            if mark == self._shown:
                return True
        elif self._shown >= 0 and now - self._shown < self.EVERY_S:
            return True
        self._shown = mark if self.total else now
        self.fp.write(self.__str__().strip() + "\n")
        self.fp.flush()
        return True

    def close(self) -> None:
        if not self.disable and self.total and self.n >= self.total:
            self.display()  # the 100 % line, if the last refresh came before the end
        super().close()


def progress_bar(show: bool | None = None, **kwargs: Any) -> tqdm:
    """A progress display. ``show`` None (the default): the tqdm bar on a terminal, nothing
    elsewhere (a pipe, a log file, a sweep's trials). True: the bar on a terminal, and
    :class:`LogLines` elsewhere, so that a log file gets a line every 5 %, not thousands of
    redraws. False: nothing."""
    terminal = _terminal(kwargs.get("file", sys.stderr))
    if show and not terminal:
        return LogLines(dynamic_ncols=False, ncols=100, **kwargs)
    return tqdm(disable=not (terminal if show is None else show), dynamic_ncols=True, **kwargs)


def _terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False
