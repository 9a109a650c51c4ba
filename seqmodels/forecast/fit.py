"""Training the networks of a forecast run: one trainer run per seed, and their forecasts.

A network is trained on one prepared series (:class:`~pucklab.seqmodels.forecast.task.Prepared`:
a differencing, a lookback, the scaler) in its own folder ``<folder>/seed-<s>/`` through the
shared Trainer, with early stopping on the validation part; its kept model is the best one.
The candidates of the validation search and the final ensemble are all trained here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.runs.result import Report, Stop
from pucklab.runs.stopping import Interrupted
from pucklab.runs.store import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    RunError,
    checkpoint_path,
    load_checkpoint,
)
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared, WindowTask
from pucklab.seqmodels.forecast.windows import windows
from pucklab.seqmodels.trainer import Result, Trainer

COMMAND = "forecast"


def seed_dir(folder: Path | str, seed: int) -> Path:
    return Path(folder) / f"seed-{seed}"


def fit_seeds(settings: ForecastSettings, prep: Prepared, folder: Path, seeds: list[int],
              resume: bool, report: Report | None = None, step_offset: int = 0
              ) -> tuple[dict[int, Result], dict[int, Forecaster]]:
    """One trainer run per seed in ``folder/seed-<s>/`` (a seed with a checkpoint goes on from
    it when ``resume``); each seed's kept (best) model. Stops at a non-finite loss."""
    fits: dict[int, Result] = {}
    models: dict[int, Forecaster] = {}
    for seed in seeds:
        cfg = settings.train.replace(seed=seed)
        task = WindowTask(prep, settings.horizon, settings.batch_size, settings.strategy, seed)
        torch.manual_seed(seed)  # initial weights from the seed
        model = Forecaster(settings.horizon, settings.hidden, settings.layers, settings.dropout,
                           settings.cell, settings.impl, settings.strategy)
        d = seed_dir(folder, seed)
        offset = step_offset + sum(f.steps for f in fits.values())
        fit = Trainer(model, task, cfg, d, resume=resume and checkpoint_path(d).is_file(),
                      extra={"model_args": model.model_args},
                      report=_seed_report(report, seed, offset), command=COMMAND)
        try:
            fits[seed] = fit.fit()
        except Interrupted as err:
            err.where = f"at {d.parent.name}/seed-{seed} {err.where}".rstrip()
            raise
        if fits[seed].stopped is Stop.NON_FINITE:
            break
        model.load_state_dict(best_checkpoint(d)["model"])
        models[seed] = model.cpu().eval()
    return fits, models


def _seed_report(report: Report | None, seed: int, offset: int) -> Report | None:
    if report is None:
        return None
    return lambda step, m: report(offset + step, {**m, "seed": float(seed)})


def best_checkpoint(d: Path) -> dict[str, Any]:
    """A seed's kept model: best.pt (lowest validation loss), else last.pt (no validation)."""
    name = BEST_CHECKPOINT if checkpoint_path(d, BEST_CHECKPOINT).is_file() else LAST_CHECKPOINT
    ckpt = load_checkpoint(d, name, map_location="cpu", command=COMMAND,
                           keys=("model", "model_args", "task"))
    if not isinstance(ckpt["model_args"], dict) or not isinstance(ckpt["task"], dict) or \
            "transform" not in ckpt["task"]:
        raise RunError(f"the checkpoint in {d} is damaged: no model_args or scaler")
    return ckpt


def net_forecasts(model: Forecaster, prep: Prepared, origins: np.ndarray) -> np.ndarray:
    """(O, H) forecasts on the original scale from the histories ``y[:t + 1]``."""
    x, _ = windows(prep.z, origins, prep.lookback, 0)
    with torch.no_grad():
        z_future = model.forecast(torch.tensor(x, dtype=torch.float32)).double().numpy()
    return np.stack([prep.transform.inverse(prep.y[:t + 1], z_future[i])
                     for i, t in enumerate(origins)])


def ensemble_forecasts(models: dict[int, Forecaster], prep: Prepared, origins: np.ndarray
                       ) -> dict[int, np.ndarray]:
    """Each seed's (O, H) forecasts; their mean is the ensemble's forecast."""
    return {seed: net_forecasts(model, prep, origins) for seed, model in models.items()}
