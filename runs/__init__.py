"""pucklab.runs: the run plumbing shared by agents and seqmodels, written once.

Run folders, ``config.json``, atomic checkpoints (``weights_only=True`` on load), metrics to CSV
and TensorBoard, and curve plots. The folder doubles as the default output place: commands write
their runs to ``./runs/<name>/``, and those subfolders are git-ignored.
"""

from pucklab.runs.metrics import MetricsLogger, plot_curves, read_metrics
from pucklab.runs.store import (
    RunError,
    atomic_write,
    discard_unstarted,
    load_checkpoint,
    load_config,
    new_run_dir,
    require_choice,
    save_checkpoint,
    save_config,
)

__all__ = [
    "MetricsLogger",
    "RunError",
    "atomic_write",
    "discard_unstarted",
    "load_checkpoint",
    "load_config",
    "new_run_dir",
    "plot_curves",
    "read_metrics",
    "require_choice",
    "save_checkpoint",
    "save_config",
]
