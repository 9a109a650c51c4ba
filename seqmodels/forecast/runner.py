"""``forecast`` as one library call: choose and train forecasters on the validation part,
combine them on the calibration part before it, backtest them against the classical baselines on
the test part.

>>> from pucklab.seqmodels.forecast import ForecastSettings, run              # doctest: +SKIP
>>> run(ForecastSettings(dataset="sunspots", horizon=5, epochs=5)).table      # doctest: +SKIP

A run folder holds ``config.json`` (which command, every setting, the split, the seasonal
period, and what the validation part chose: the differencing and lookback with every
candidate's score; the combination and the part that set it, the intervals' offsets, ETS's
and ARIMA's parameters), the networks (``candidates/<differencing>-lookback<L>/seed-<s>/``:
trainer runs whose checkpoints hold the weights *and* the fitted scaler; ``final/seed-<s>/``,
the same networks refitted on training + validation; ``calibration/seed-<s>/``, refitted on
the points before the calibration part), ``backtest.csv`` (one row per model, the default
forecaster first), ``backtest_seeds.csv``, ``forecasts.csv`` (every origin, step,
actual and forecast, with the default's intervals) and ``forecast.png``. Everything is chosen
before the test part; the test part is what the backtest scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.device import resolve_device
from pucklab.runs.lifecycle import open_run
from pucklab.runs.result import Report, RunResult, Stop
from pucklab.runs.store import RunError, load_config, load_run_settings, save_config, saved_fact
from pucklab.runs.sweep_study import Trainable
from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast import report as show
from pucklab.seqmodels.forecast.backtest import DEFAULT, Outcome, run_backtest
from pucklab.seqmodels.forecast.calibrate import CALIBRATION, Calibration, calibration_prepared
from pucklab.seqmodels.forecast.differencing import Choice
from pucklab.seqmodels.forecast.fit import (
    COMMAND,
    FINAL,
    best_epochs,
    final_prepared,
    fit_seeds,
    seed_dir,
)
from pucklab.seqmodels.forecast.select import Searched, candidate_folder, search, train_scale
from pucklab.seqmodels.forecast.series import Series, stamp
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared, fingerprint, load, prepare
from pucklab.seqmodels.trainer import Result


@dataclass
class Fitted:
    """``RunResult.details`` of a forecast run: how each seed's training ended, what the
    validation part chose, the backtest."""

    fits: dict[int, Result]  # early-stopped on the validation part
    final: dict[int, Result]  # the final fits, on the training and validation parts
    searched: Searched | None
    outcome: Outcome | None

    @property
    def backtest(self) -> fc.Backtest | None:
        return self.outcome.backtest if self.outcome else None


def run(settings: ForecastSettings, run_dir: Path | str | None = None, *,
        report: Report | None = None, resume: bool = False) -> RunResult:
    """Choose the differencing and lookback on the validation part, train one network per seed,
    combine, then backtest everything against the baselines.

    Args:
        settings: What to train and compare; validated here.
        run_dir: The run folder (default ``runs/forecast-<data>-<cell>__<time>``); with
            ``resume=True``, a folder this command wrote: finished networks are kept, the others
            go on from their ``last.pt``.
        report: ``report(step, metrics)`` after each validation of each network (``seed``,
            ``val_loss``, ``best_val_loss``); steps count on across networks.
        resume: Continue the run in ``run_dir``.

    Returns:
        ``metrics``: ``val_loss`` (mean over the final networks of their best validation loss,
        scaled MSE), ``val_mase`` (the network ensemble's validation MASE) and the default
        forecaster's test metrics (``test_mase`` ...); ``table``: the backtest, model -> metrics,
        the default forecaster first.
    """
    settings.validate()
    settings = settings.resolved()
    series = load(settings)
    base = prepare(settings, series)  # every problem with the data, before a folder exists
    resolve_device(settings.train.device)
    if settings.csv is not None:  # a resume or predict from elsewhere finds it
        settings = settings.replace(csv=str(Path(settings.csv).resolve()))

    def same_data(folder: Path) -> None:
        if fingerprint(base.y) != saved_fact(folder, "series", "fingerprint", kind=str):
            raise RunError(f"the data of {folder} changed since it was trained (the series "
                           "differs); start a new run")

    with open_run(COMMAND, settings, run_dir, resume=resume, facts=_facts(base),
                  name=f"forecast-{settings.source()}-{settings.cell}",
                  started=_any_network_started, load=same_data) as opened:
        folder = opened.dir
        say = None if settings.train.progress is False else print
        found = search(settings, series, folder, opened.resumed, report, say)
        fits, models = dict(found.fits), dict(found.models)
        if _failure(fits) is None:
            rest = [s for s in settings.seeds if s not in models]
            more, more_models = fit_seeds(settings, found.prep, candidate_folder(
                folder, found.chosen), rest, opened.resumed, report, found.steps)
            fits.update(more)
            models.update(more_models)
        prep = _chosen(found)
        final = final_prepared(prep)
        final_fits: dict[int, Result] = {}
        calibration = None
        failed = _failure(fits)
        if failed is None:  # the final fit: training and validation parts together
            chosen = candidate_folder(folder, found.chosen)
            epochs = best_epochs(fits, {s: seed_dir(chosen, s) for s in fits})
            done = found.steps + sum(f.steps for f in fits.values())
            final_fits, final_models = fit_seeds(settings, final, folder / FINAL, list(fits),
                                                 opened.resumed, report, done,
                                                 final_epochs=epochs)
            failed = _failure(final_fits)
            calib = calibration_prepared(prep)
            if failed is None and calib is not None:  # where the weights are set: .calibrate
                done += sum(f.steps for f in final_fits.values())
                calib_fits, calib_models = fit_seeds(
                    settings, calib, folder / CALIBRATION, list(fits), opened.resumed, report,
                    done, final_epochs=epochs, through_validation=False)
                failed = _failure(calib_fits)
                calibration = Calibration(CALIBRATION, calib, calib_models, calib.scale)
        if failed is not None:
            return RunResult(folder, {}, stopped=failed.stopped, message=failed.message,
                             details=Fitted(fits, final_fits, found, None))
        outcome = run_backtest(prep, final, settings, models, final_models,
                               train_scale(prep, prep.season), calibration)
        _record(folder, prep, found, outcome)
        table = show.summary_table(settings, outcome)
        show.write_outputs(folder, prep, settings, outcome, table)
    net = table[DEFAULT]
    metrics = {"val_loss": float(np.mean([f.best_val_loss for f in fits.values()])),
               "val_mase": outcome.val_mase, **{f"test_{k}": net[k] for k in fc.METRICS}}
    return RunResult(folder, metrics, files=[folder / "backtest.csv", folder / "forecasts.csv",
                                             folder / "forecast.png"],
                     table=table, details=Fitted(fits, final_fits, found, outcome))


def _failure(fits: dict[int, Result]) -> Result | None:
    """The last fit, when it ended in a non-finite loss (the fits stop there)."""
    last = list(fits.values())[-1] if fits else None
    return last if last is not None and last.stopped is Stop.NON_FINITE else None


def _any_network_started(run_dir: Path) -> bool:
    """Whether a forecast run holds a network's checkpoint to go on from."""
    return any((d / "checkpoints").is_dir() for d in [*run_dir.glob("candidates/*/seed-*"),
                                                       *run_dir.glob(f"{FINAL}/seed-*"),
                                                       *run_dir.glob(f"{CALIBRATION}/seed-*")])


def _chosen(found: Searched) -> Prepared:
    """The chosen candidate's prepared series, saying why it was chosen."""
    scores = ", ".join(f"{k} {v:.4f}" for k, v in found.scores.items())
    why = (f"chosen on validation (MASE: {scores}); the tests suggested {found.tests.kind}: "
           f"{found.tests.reason}") if len(found.scores) > 1 else found.tests.reason
    prep = found.prep
    prep.difference = Choice(found.chosen.difference, why)
    return prep


def _facts(prep: Prepared) -> dict[str, Any]:
    """What config.json records of the data beside the settings."""
    s: Series = prep.series
    return {"series": {"name": s.name, "points": len(s), "freq": s.freq, "season": prep.season,
                       "lookback": prep.lookback, "interpolated": s.interpolated,
                       "dropped": s.dropped, "start": stamp(s.index[0]),
                       "end": stamp(s.index[-1]), "fingerprint": fingerprint(s.values)},
            "split": asdict(prep.split), "mase_scale": prep.scale,
            "transform": prep.transform.to_dict(), "difference": prep.difference.to_dict()}


def _record(folder: Path, prep: Prepared, found: Searched, outcome: Outcome) -> None:
    """config.json gets what the validation part chose, and what predict needs to repeat it."""
    config = {k: v for k, v in load_config(folder).items() if k != "versions"}
    config.update(_facts(prep))
    config["selection"] = found.to_dict()
    config["combination"] = outcome.combination.to_dict()
    config["intervals"] = {**outcome.conformal.to_dict(), "of": "network"}
    config["members"] = outcome.members
    save_config(folder, config)


def saved_settings(run_dir: Path | str) -> ForecastSettings:
    return load_run_settings(run_dir, ForecastSettings, COMMAND)


def check(settings: ForecastSettings) -> None:
    """What :func:`run` checks before it starts, without starting: the settings, the series
    (loaded and split) and the device (``--print-config`` and sweeps call it)."""
    settings.validate()
    settings = settings.resolved()
    prepare(settings)
    resolve_device(settings.train.device)


def reseed(settings: ForecastSettings, k: int) -> dict[str, Any]:
    """The k-th seed run of a ``sweep --seeds`` trial: the ensemble's seeds shifted past the
    previous run's, so the K runs share no network (seeds 0-4, then 5-9, ...)."""
    step = max(settings.seeds) + 1
    return {"seeds": [s + k * step for s in settings.seeds]}


#: What ``sweep forecast`` searches with: the validation loss (never the test part), minimised.
TRAINABLE = Trainable(COMMAND, ForecastSettings, run, metric="val_loss", direction="minimize",
                      metrics=("val_loss", "val_mase", *(f"test_{k}" for k in fc.METRICS)),
                      check=check, reseed=reseed)
