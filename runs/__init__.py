"""pucklab.runs: the run plumbing shared by agents and seqmodels, written once.

Settings dataclasses and the flags, config files and validation made from them (settings.py,
cli.py); the run API's result, report callback and Ctrl-C (result.py); run folders,
``config.json``, atomic writes and checkpoints loaded with ``weights_only=True`` (store.py);
device choice (device.py), RNG state (rng.py), optimisers (optim.py); metrics to CSV and
TensorBoard (metrics.py), figures and progress bars (figures.py); the ``lab`` runner (lab.py).

The folder doubles as the default output place: commands write their runs to
``./runs/<name>/``, and those subfolders are git-ignored.
"""

from pucklab.runs.device import DEVICES, resolve_device
from pucklab.runs.figures import progress_bar, pyplot, save_figure
from pucklab.runs.metrics import MetricsLogger, plot_curves, read_metrics
from pucklab.runs.optim import OPTIMIZERS, make_optimizer
from pucklab.runs.result import Interrupted, Report, RunResult
from pucklab.runs.rng import restore_rng, rng_state
from pucklab.runs.config_files import to_toml
from pucklab.runs.settings import Settings, setting
from pucklab.runs.store import (
    RunError,
    atomic_path,
    atomic_write,
    build_model,
    checkpoint_path,
    claim_run_dir,
    discard_unstarted,
    load_checkpoint,
    load_config,
    load_run_settings,
    load_weights,
    new_run_dir,
    require_choice,
    run_lock,
    save_checkpoint,
    save_config,
    save_run_config,
)

__all__ = [
    "DEVICES", "OPTIMIZERS", "Interrupted", "MetricsLogger", "Report", "RunError", "RunResult",
    "Settings", "atomic_path", "atomic_write", "build_model", "checkpoint_path", "claim_run_dir",
    "discard_unstarted", "load_checkpoint", "load_config", "load_run_settings", "load_weights",
    "make_optimizer",
    "new_run_dir", "plot_curves", "progress_bar", "pyplot", "read_metrics", "require_choice",
    "resolve_device", "restore_rng", "rng_state", "run_lock", "save_checkpoint", "save_config",
    "save_figure", "save_run_config", "setting", "to_toml",
]
