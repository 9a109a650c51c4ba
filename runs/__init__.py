"""pucklab.runs: the run plumbing shared by agents and seqmodels, written once.

Settings dataclasses and the flags, config files and validation made from them (settings.py,
cli.py); the run API's result, report callback and Ctrl-C (result.py); run folders,
``config.json``, atomic writes and checkpoints loaded with ``weights_only=True`` (store.py);
device choice (device.py), RNG state (rng.py), optimisers (optim.py); metrics to CSV and
TensorBoard (metrics.py), figures and progress bars (figures.py); the ``lab`` runner (lab.py).

The folder doubles as the default output place: commands write their runs to
``./runs/<name>/``, and those subfolders are git-ignored.
"""

from importlib import import_module
from typing import Any

#: Where each public name lives. Loaded on first use (PEP 562), so that ``pucklab.runs.launch``
#: and ``pucklab.runs.settings`` can be imported without torch or matplotlib.
_HOME = {
    "DEVICES": "device", "resolve_device": "device",
    "progress_bar": "figures", "pyplot": "figures", "save_figure": "figures",
    "MetricsLogger": "metrics", "plot_curves": "metrics", "read_metrics": "metrics",
    "OPTIMIZERS": "optim", "make_optimizer": "optim",
    "CtrlC": "result", "Interrupted": "result", "Report": "result", "RunResult": "result",
    "restore_rng": "rng", "rng_state": "rng",
    "to_toml": "config_files",
    "Settings": "settings", "setting": "settings",
    **dict.fromkeys([
        "RunError", "atomic_path", "atomic_write", "build_model", "checkpoint_path",
        "claim_run_dir", "discard_unstarted", "load_checkpoint", "load_config",
        "load_run_settings", "load_weights", "new_run_dir", "require_choice", "run_lock",
        "save_checkpoint", "save_config", "save_run_config", "saved_fact"], "store"),
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(import_module(f"pucklab.runs.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pucklab.runs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
