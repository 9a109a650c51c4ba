"""``forecast`` as one library call: train recurrent forecasters, backtest them against the
classical baselines.

>>> from pucklab.seqmodels.forecast import ForecastSettings, run              # doctest: +SKIP
>>> run(ForecastSettings(dataset="sunspots", horizon=5, epochs=5)).table      # doctest: +SKIP

A run folder holds ``config.json`` (which command, every setting, the split, the seasonal
period), one trainer run per seed (``seed-<s>/``: checkpoints with the weights *and* the fitted
scaler, metrics, loss curve), ``backtest.csv`` (one row per model: mean over seeds for the
networks), ``backtest_seeds.csv``, ``forecasts.csv`` (every origin, step, actual and forecast)
and ``forecast.png``. Models are chosen on the validation part only; the test part is what the
backtest scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.runs.device import resolve_device
from pucklab.runs.lifecycle import open_run
from pucklab.runs.result import Report, RunResult, Stop
from pucklab.runs.stopping import Interrupted
from pucklab.runs.store import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    RunError,
    checkpoint_path,
    load_checkpoint,
    load_run_settings,
    saved_fact,
)
from pucklab.runs.sweep_study import Trainable
from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast import report as show
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.series import stamp
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared, WindowTask, fingerprint, prepare
from pucklab.seqmodels.forecast.windows import windows
from pucklab.seqmodels.trainer import Result, Trainer

COMMAND = "forecast"


@dataclass
class Fitted:
    """``RunResult.details`` of a forecast run: how each seed's training ended, the backtest."""

    fits: dict[int, Result]
    backtest: fc.Backtest | None


def run(settings: ForecastSettings, run_dir: Path | str | None = None, *,
        report: Report | None = None, resume: bool = False) -> RunResult:
    """Train one network per seed, then backtest them against the baselines.

    Args:
        settings: What to train and compare; validated here.
        run_dir: The run folder (default ``runs/forecast-<data>-<cell>__<time>``); with
            ``resume=True``, a folder this command wrote: finished seeds are kept, the others
            go on from their ``last.pt``.
        report: ``report(step, metrics)`` after each validation of each seed (``seed``,
            ``val_loss``, ``best_val_loss``); steps count on across seeds.
        resume: Continue the run in ``run_dir``.

    Returns:
        ``metrics``: ``val_loss`` (mean over seeds of the best validation loss, scaled MSE: what
        to choose settings by) and the network's test metrics (``test_mase`` ...);
        ``table``: the backtest, model -> mae / rmse / smape / mase.
    """
    settings.validate()
    settings = settings.resolved()
    prep = prepare(settings)
    resolve_device(settings.train.device)  # fail before a run folder exists
    if settings.csv is not None:  # a resume or predict from elsewhere finds it
        settings = settings.replace(csv=str(Path(settings.csv).resolve()))

    def same_data(folder: Path) -> None:
        if fingerprint(prep.y) != saved_fact(folder, "series", "fingerprint", kind=str):
            raise RunError(f"the data of {folder} changed since it was trained (the series "
                           "differs); start a new run")

    with open_run(COMMAND, settings, run_dir, resume=resume, facts=_facts(prep),
                  name=f"forecast-{settings.source()}-{settings.cell}",
                  started=_any_seed_started, load=same_data) as opened:
        folder = opened.dir
        fits, models = _fit_seeds(settings, prep, folder, opened.resumed, report)
        last = list(fits.values())[-1]
        if last.stopped is Stop.NON_FINITE:
            return RunResult(folder, {}, stopped=last.stopped, message=last.message,
                             details=Fitted(fits, None))
        bt, seed_table = backtest(prep, settings, models)
        table = show.summary_table(settings, bt, seed_table)
        show.write_outputs(folder, prep, settings, bt, table, seed_table)
    val = float(np.mean([f.best_val_loss for f in fits.values()]))
    net = table[settings.cell]
    return RunResult(folder, {"val_loss": val, **{f"test_{k}": net[k] for k in fc.METRICS}},
                     files=[folder / "backtest.csv", folder / "forecasts.csv",
                            folder / "forecast.png"], table=table, details=Fitted(fits, bt))


def _any_seed_started(run_dir: Path) -> bool:
    """Whether a forecast run holds a seed's checkpoint to go on from."""
    return any(checkpoint_path(d).is_file() for d in run_dir.glob("seed-*"))


def _facts(prep: Prepared) -> dict[str, Any]:
    """What config.json records of the data beside the settings."""
    s = prep.series
    return {"series": {"name": s.name, "points": len(s), "freq": s.freq, "season": prep.season,
                       "lookback": prep.lookback, "interpolated": s.interpolated,
                       "dropped": s.dropped, "start": stamp(s.index[0]),
                       "end": stamp(s.index[-1]), "fingerprint": fingerprint(s.values)},
            "split": asdict(prep.split), "mase_scale": prep.scale,
            "transform": prep.transform.to_dict(), "difference": prep.difference.to_dict()}


def _fit_seeds(settings: ForecastSettings, prep: Prepared, run_dir: Path, resume: bool,
               report: Report | None) -> tuple[dict[int, Result], dict[int, Forecaster]]:
    """One trainer run per seed in ``seed-<s>/``; each seed's kept (best) model."""
    fits: dict[int, Result] = {}
    models: dict[int, Forecaster] = {}
    for i, seed in enumerate(settings.seeds):
        cfg = settings.train.replace(seed=seed)
        task = WindowTask(prep, settings.horizon, settings.batch_size, settings.strategy, seed)
        torch.manual_seed(seed)  # initial weights from the seed
        model = Forecaster(settings.horizon, settings.hidden, settings.layers, settings.dropout,
                           settings.cell, settings.impl, settings.strategy)
        d = seed_dir(run_dir, seed)
        if settings.train.progress is not False and len(settings.seeds) > 1:
            print(f"seed {seed} ({i + 1}/{len(settings.seeds)})", flush=True)
        fit = Trainer(model, task, cfg, d, resume=resume and checkpoint_path(d).is_file(),
                      extra={"model_args": model.model_args},
                      report=_seed_report(report, seed, sum(f.steps for f in fits.values())),
                      command=COMMAND)
        try:
            fits[seed] = fit.fit()
        except Interrupted as err:
            err.where = f"at seed {seed} {err.where}".rstrip()
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


def saved_settings(run_dir: Path | str) -> ForecastSettings:
    return load_run_settings(run_dir, ForecastSettings, COMMAND)


def seed_dir(run_dir: Path | str, seed: int) -> Path:
    return Path(run_dir) / f"seed-{seed}"


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


def backtest(prep: Prepared, settings: ForecastSettings, models: dict[int, Forecaster]
             ) -> tuple[fc.Backtest, dict[str, dict[str, float]]]:
    """All models on the same test origins. The networks' row is the mean of their per-seed
    metrics (not the metric of an ensemble); the per-seed rows come back separately."""
    origins = prep.split.test_origins()
    y, h = prep.y, settings.horizon
    actual = fc.actuals(y, origins, h)
    forecasts = {f"{settings.cell}/seed-{seed}": net_forecasts(model, prep, origins)
                 for seed, model in models.items()}
    seed_table = {name: fc.scores(actual, f, prep.scale) for name, f in forecasts.items()}
    baselines = fc.baseline_forecasters(y[:prep.split.test_start], prep.season,
                                        tuple(settings.baselines))
    forecasts.update(fc.run_baselines(y, origins, h, baselines, settings.train.progress))
    return fc.Backtest(origins, actual, forecasts, prep.scale), seed_table


def check(settings: ForecastSettings) -> None:
    """What :func:`run` checks before it starts, without starting: the settings, the series
    (loaded and split) and the device (``--print-config`` and sweeps call it)."""
    settings.validate()
    settings = settings.resolved()
    prepare(settings)
    resolve_device(settings.train.device)


#: What ``sweep forecast`` searches with: the validation loss (never the test part), minimised.
TRAINABLE = Trainable(COMMAND, ForecastSettings, run, metric="val_loss", direction="minimize",
                      metrics=("val_loss", *(f"test_{k}" for k in fc.METRICS)), check=check)
