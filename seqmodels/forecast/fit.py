"""Training the networks of a forecast run: one trainer run per seed, and their forecasts.

A network is trained on one prepared series (:class:`~pucklab.seqmodels.forecast.task.Prepared`:
a differencing, a lookback, the scaler) in its own folder ``<folder>/seed-<s>/`` through the
shared Trainer, with early stopping on the validation part; its kept model is the best one.
The candidates of the validation search and the final ensemble are all trained here.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.runs.metrics import read_metrics
from pucklab.runs.result import Report, Stop
from pucklab.runs.stopping import Interrupted
from pucklab.runs.store import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    RunError,
    build_model,
    checkpoint_path,
    load_checkpoint,
)
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared, WindowTask
from pucklab.seqmodels.forecast.windows import Transform, windows
from pucklab.seqmodels.trainer import Result, Trainer

COMMAND = "forecast"
FINAL = "final"  # the folder of the final fits (training + validation parts), in the run folder


def seed_dir(folder: Path | str, seed: int) -> Path:
    return Path(folder) / f"seed-{seed}"


def fit_seeds(settings: ForecastSettings, prep: Prepared, folder: Path, seeds: list[int],
              resume: bool, report: Report | None = None, step_offset: int = 0,
              final_epochs: dict[int, float] | None = None, through_validation: bool = True
              ) -> tuple[dict[int, Result], dict[int, Forecaster]]:
    """One trainer run per seed in ``folder/seed-<s>/`` (a seed with a checkpoint goes on from
    it when ``resume``); each seed's kept model. Stops at a non-finite loss.

    Without ``final_epochs``: trained on the training part, early-stopped on the validation
    part, the best model kept. With it (seed -> epochs): the *final* fit, on the training and
    validation parts together for that many epochs, without early stopping, the last model
    kept -- the networks see the data before the test part that ETS and ARIMA are fitted on.
    With ``final_epochs`` and not ``through_validation``: that many epochs on the training part
    alone, the last model kept (the calibration fits, :mod:`.calibrate`).
    """
    fits: dict[int, Result] = {}
    models: dict[int, Forecaster] = {}
    for seed in seeds:
        cfg = settings.train.replace(seed=seed)
        if final_epochs is not None:
            cfg = cfg.replace(patience=0, epochs=final_epochs[seed], max_steps=None,
                              minutes=None)
        task = WindowTask(prep, settings.horizon, settings.batch_size, settings.strategy, seed,
                          through_validation=final_epochs is not None and through_validation)
        torch.manual_seed(seed)  # initial weights from the seed
        model = Forecaster(settings.horizon, settings.hidden, settings.layers, settings.dropout,
                           settings.cell, settings.impl, settings.strategy,
                           prep.split.lookback if settings.autoregressive else 0)
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
        kept = kept_checkpoint(d, LAST_CHECKPOINT if final_epochs is not None else None)
        model.load_state_dict(kept["model"])
        models[seed] = model.cpu().eval()
    return fits, models


def final_prepared(prep: Prepared) -> Prepared:
    """``prep`` with its scaler (and seasonal indices) fitted on the training and validation
    parts (what the final fit trains on); the split and differencing stay."""
    transform = Transform.fit(prep.y, prep.transform.lags, prep.split.test_start,
                              len(prep.transform.seasonal))
    return replace(prep, transform=transform, z=transform.forward(prep.y))


def best_epochs(fits: dict[int, Result], folders: dict[int, Path]) -> dict[int, float]:
    """For each seed, the epoch of its lowest validation loss (from its metrics.csv): how long
    its final fit trains."""
    out = {}
    for seed, fit in fits.items():
        rows = [r for r in read_metrics(folders[seed]) if math.isfinite(r.get("val_loss", math.nan))]
        best = min(rows, key=lambda r: r["val_loss"]) if rows else None
        out[seed] = max(1.0, float(best["epoch"])) if best else max(1.0, fit.epochs)
    return out


def _seed_report(report: Report | None, seed: int, offset: int) -> Report | None:
    if report is None:
        return None
    return lambda step, m: report(offset + step, {**m, "seed": float(seed)})


def kept_checkpoint(d: Path, name: str | None = None) -> dict[str, Any]:
    """A seed's kept model: ``name``; by default best.pt (lowest validation loss), else last.pt
    (no validation)."""
    if name is None:
        name = BEST_CHECKPOINT if checkpoint_path(d, BEST_CHECKPOINT).is_file() else \
            LAST_CHECKPOINT
    ckpt = load_checkpoint(d, name, map_location="cpu", command=COMMAND,
                           keys=("model", "model_args", "task"))
    if not isinstance(ckpt["model_args"], dict) or not isinstance(ckpt["task"], dict) or \
            "transform" not in ckpt["task"]:
        raise RunError(f"the checkpoint in {d} is damaged: no model_args or scaler")
    return ckpt


def kept_network(d: Path, name: str | None = None) -> tuple[Forecaster, Transform]:
    """A seed's kept network (see :func:`kept_checkpoint`), in eval mode, and the scaler it was
    trained with."""
    ckpt = kept_checkpoint(d, name)
    model = build_model(Forecaster, ckpt["model_args"], ckpt["model"], f"the checkpoint in {d} "
                        "is damaged: its weights do not fit its model_args")
    return model.eval(), Transform.from_dict(ckpt["task"]["transform"])


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
