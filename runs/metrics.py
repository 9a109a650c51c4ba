"""Metrics to ``metrics.csv`` and TensorBoard at once, and curve plots from the CSV.

The CSV is the record a reader or a test opens; TensorBoard is for watching a run live. Tags in
TensorBoard are namespaced (``charts/win_rate``, ``losses/policy``), CleanRL style, from a
``{column: tag}`` map the caller gives.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from pucklab.runs.figures import pyplot, save_figure
from pucklab.runs.store import atomic_write

METRICS_FILE = "metrics.csv"


class MetricsLogger:
    """Append rows to ``run_dir/metrics.csv`` and the same scalars to TensorBoard.

    Args:
        run_dir: The run folder.
        columns: CSV columns, in order; the first is the x axis (e.g. ``env_steps``).
        tags: TensorBoard tag for each column to plot there (columns absent are CSV only).
        resume_from: When resuming, the x value of the checkpoint: rows logged after it (by a
            run that died before its next checkpoint) are dropped, so the curve continues
            without a fold.
        tensorboard: Write TensorBoard events too.
    """

    def __init__(self, run_dir: Path | str, columns: Sequence[str],
                 tags: Mapping[str, str] | None = None, resume_from: float | None = None,
                 tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.columns = list(columns)
        self.tags = dict(tags or {})
        if resume_from is not None and self.path.exists():
            self._truncate_after(resume_from)
        new = not self.path.exists()
        self._file = open(self.path, "a", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        if new:
            self._csv.writeheader()
            self._file.flush()
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(Path(run_dir)), purge_step=(
                int(resume_from) + 1 if resume_from is not None else None))

    def _truncate_after(self, x: float) -> None:
        with open(self.path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if float(r[self.columns[0]]) <= x]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path, lambda f: f.write(buf.getvalue().encode()))

    def log(self, row: Mapping[str, float]) -> None:
        """Write one row (missing columns stay empty); flushed at once, so a crash loses none."""
        self._csv.writerow(row)
        self._file.flush()
        if self._tb is not None:
            step = int(row[self.columns[0]])
            for column, tag in self.tags.items():
                value = row.get(column)
                if value is not None and math.isfinite(float(value)):
                    self._tb.add_scalar(tag, float(value), step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path | str) -> list[dict[str, float]]:
    """The rows of a run's ``metrics.csv`` as floats (empty cells become NaN)."""
    with open(Path(run_dir) / METRICS_FILE, newline="") as f:
        return [{k: float(v) if v != "" else math.nan for k, v in row.items()}
                for row in csv.DictReader(f)]


def plot_curves(run_dir: Path | str, x: str, ys: Sequence[str], filename: str,
                title: str = "") -> Path:
    """Plot columns ``ys`` of ``metrics.csv`` against ``x``, one panel each, to a PNG."""
    rows = read_metrics(run_dir)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(ys), figsize=(4.5 * len(ys), 3.4), squeeze=False)
    for ax, y in zip(axes[0], ys, strict=True):
        points = [(r[x], r[y]) for r in rows if not math.isnan(r[y])]  # a sparse column
        ax.plot([p[0] for p in points], [p[1] for p in points], lw=1.5,  # (evaluations) joins up
                marker="." if len(points) < 30 else None)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, Path(run_dir) / filename)
