"""Forecasting runs as library functions: train recurrent forecasters, backtest them against
the classical baselines, forecast the future from a trained run.

The ``forecast`` command (forecast_cli.py) is a thin layer over :func:`train`, :func:`resume`
and :func:`predict`; tests and ``benchmarks/forecast.py`` call them directly. A run folder holds
``config.json`` (every setting, the split, the seasonal period), one trainer run per seed
(``seed-<s>/``: checkpoints with the weights *and* the fitted scaler, metrics, loss curve),
``backtest.csv`` (one row per model: mean over seeds for the networks), ``backtest_seeds.csv``,
``forecasts.csv`` (every origin, step, actual and forecast) and ``forecast.png``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from pucklab.runs import (
    RunError,
    discard_unstarted,
    load_checkpoint,
    load_config,
    new_run_dir,
    require_choice,
    save_config,
)
from pucklab.runs.store import checkpoint_path
from pucklab.seqmodels import forecast as fc
from pucklab.seqmodels import forecast_report as report
from pucklab.seqmodels.models import IMPLS, KINDS, STRATEGIES, Forecaster
from pucklab.seqmodels.series import (
    DIFFERENCES,
    Series,
    Split,
    Transform,
    difference_lags,
    load_series,
    make_split,
    mase_scale,
    stamp,
    windows,
)
from pucklab.seqmodels.trainer import (
    Result,
    TrainConfig,
    Trainer,
    resolve_device,
    settings_from_dict,
)

CONFIG_KEY = "forecast"


def _default_train() -> TrainConfig:
    # Small data: many short epochs, validation every epoch, stop after 30 without progress.
    return TrainConfig(optimizer="adam", lr=1e-3, clip=1.0, epochs=300, patience=30, log_every=5,
                       schedule="plateau", plateau_patience=10)


@dataclass
class ForecastArgs:
    """Data, model and evaluation settings of a forecasting run (the trainer's: ``train``)."""

    dataset: str | None = None  # a statsmodels data set; sunspots when neither this nor csv
    csv: str | None = None
    column: str | None = None
    time_column: str | None = None
    missing: str = "interpolate"
    resample: str | None = None  # pandas frequency, e.g. MS (monthly means)
    season: int | None = None  # None: inferred from the frequency (12 for monthly), else 1
    difference: str = "none"
    horizon: int = 10
    lookback: int | None = None  # None: max(3 * horizon, 2 * season)
    val_frac: float = 0.15
    test_frac: float = 0.2
    origin_step: int = 1
    cell: str = "lstm"
    impl: str = "fused"
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0
    strategy: str = "direct"
    batch_size: int = 32
    seeds: list[int] = field(default_factory=lambda: [0])
    baselines: list[str] = field(default_factory=lambda: list(fc.BASELINES))
    train: TrainConfig = field(default_factory=_default_train)

    def check(self) -> None:
        if self.csv is None and self.dataset is None:
            self.dataset = "sunspots"
        require_choice("--cell", self.cell, KINDS)
        require_choice("--impl", self.impl, IMPLS)
        require_choice("--strategy", self.strategy, STRATEGIES)
        require_choice("--difference", self.difference, DIFFERENCES)
        for name in ("horizon", "hidden", "layers", "batch_size", "origin_step"):
            if getattr(self, name) < 1:
                raise RunError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("lookback", "season"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise RunError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise RunError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise RunError("--seed takes one or more distinct integers")
        unknown = [b for b in self.baselines if b not in fc.BASELINES]
        if unknown:
            raise RunError(f"unknown baseline {unknown[0]!r}; choose from {', '.join(fc.BASELINES)}")
        self.train.check()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ForecastArgs:
        return settings_from_dict(cls, d)

    def source(self) -> str:
        return self.dataset if self.dataset else Path(self.csv or "csv").stem


@dataclass
class Prepared:
    """A series made ready: clean values, season, split, fitted transform, MASE scale."""

    series: Series
    season: int
    lookback: int
    split: Split
    transform: Transform
    z: np.ndarray  # transformed series (NaN where differencing is undefined)
    scale: float

    @property
    def y(self) -> np.ndarray:
        return self.series.values


def load(args: ForecastArgs) -> Series:
    return load_series(args.dataset, args.csv, args.column, args.time_column, args.missing,
                       args.resample)


def prepare(args: ForecastArgs, series: Series | None = None) -> Prepared:
    """Load and cut the series; fit the scaler on the training part; check MASE is defined."""
    series = series if series is not None else load(args)
    season = args.season or series.season()
    lags = difference_lags(args.difference, season)
    lookback = args.lookback or max(3 * args.horizon, 2 * season)
    split = make_split(len(series), lookback, args.horizon, args.val_frac, args.test_frac,
                       sum(lags), args.origin_step)
    if len(split.val_origins()) < 1:
        raise RunError(f"the validation part ({split.test_start - split.val_start} points) is "
                       f"shorter than --horizon {args.horizon}; raise --val-frac")
    transform = Transform.fit(series.values, lags, split.val_start)
    scale = mase_scale(series.values[:split.test_start], season)
    return Prepared(series, season, lookback, split, transform, transform.forward(series.values),
                    scale)


class WindowTask:
    """Sliding windows of the training part, shuffled within it; validation on the next part.

    Batch ``k`` of epoch ``e`` is a fixed function of (seed, e, k), so a resumed run draws the
    same batches as an uninterrupted one without saving any sampler state. The loss is the mean
    squared error over all H steps in scaled units; the validation loss is the same on the
    validation windows, forecast as at test time (recursive models feed themselves back).
    """

    units = "MSE, scaled"

    def __init__(self, prep: Prepared, horizon: int, batch_size: int, strategy: str,
                 seed: int) -> None:
        lb, sp = prep.lookback, prep.split
        x, y = windows(prep.z, sp.train_origins(), lb, horizon)
        xv, yv = windows(prep.z, sp.val_origins(), lb, horizon)
        self.x, self.y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
        self.xv, self.yv = (torch.tensor(xv, dtype=torch.float32),
                            torch.tensor(yv, dtype=torch.float32))
        self.batch_size, self.strategy, self.seed = min(batch_size, len(x)), strategy, seed
        self.steps_per_epoch = math.ceil(len(x) / self.batch_size)
        self.transform = prep.transform
        self._order: tuple[int, torch.Tensor] | None = None  # (epoch, its permutation)

    def _batch(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.steps_per_epoch)
        if self._order is None or self._order[0] != epoch:  # one permutation per epoch
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order = (epoch, torch.randperm(len(self.x), generator=gen).to(self.x.device))
        return self._order[1][k * self.batch_size:(k + 1) * self.batch_size]

    def train_loss(self, model: Forecaster, step: int) -> torch.Tensor:
        idx = self._batch(step)
        x, y = self.x[idx], self.y[idx]
        if self.strategy == "recursive":  # every position predicts the next value
            return F.mse_loss(model(x), torch.cat([x[:, 1:], y[:, :1]], dim=1))
        return F.mse_loss(model(x), y)

    def val_loss(self, model: Forecaster) -> float:
        return float(F.mse_loss(model.forecast(self.xv), self.yv))

    def state_dict(self) -> dict[str, Any]:
        return {"transform": self.transform.to_dict()}  # the scaler travels with the weights

    def load_state_dict(self, d: dict[str, Any]) -> None:
        saved = Transform.from_dict(d["transform"])
        if saved != self.transform:
            raise RunError("the series does not give the scaler this run was trained with; "
                           "resume with the same data")

    def to(self, device: torch.device) -> WindowTask:
        self.x, self.y, self.xv, self.yv = (t.to(device) for t in (self.x, self.y, self.xv, self.yv))
        return self


# -- training ----------------------------------------------------------------------------------
@dataclass
class ForecastResult:
    run_dir: Path
    fits: dict[int, Result]  # seed -> how its training ended
    table: dict[str, dict[str, float]]  # model -> metrics (networks: mean over seeds)
    seed_table: dict[str, dict[str, float]]  # "<cell>/seed-<s>" -> metrics
    backtest: fc.Backtest | None
    stopped: str  # "done", "interrupted", "non-finite loss ..."


def seed_dir(run_dir: Path | str, seed: int) -> Path:
    return Path(run_dir) / f"seed-{seed}"


def _fingerprint(y: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(y, dtype=np.float64).tobytes()).hexdigest()[:16]


def train(args: ForecastArgs, run_dir: Path | str | None = None) -> ForecastResult:
    """A new run: train one network per seed, then backtest them against the baselines."""
    args.check()
    if run_dir is not None and (Path(run_dir) / "config.json").exists():
        raise RunError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                       "or choose another --run-dir")
    prep = prepare(args)
    resolve_device(args.train.device)  # fail before a run folder exists
    if run_dir is None:
        run_dir = new_run_dir(f"forecast-{args.source()}-{args.cell}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.csv is not None:
        args.csv = str(Path(args.csv).resolve())  # a resume or predict from elsewhere finds it
    save_config(run_dir, _config(args, prep))
    try:
        return _fit_and_backtest(args, prep, run_dir, resume=False)
    except RunError:
        discard_unstarted(run_dir)
        raise


def _config(args: ForecastArgs, prep: Prepared) -> dict[str, Any]:
    s = prep.series
    return {CONFIG_KEY: args.to_dict(),
            "series": {"name": s.name, "points": len(s), "freq": s.freq, "season": prep.season,
                       "lookback": prep.lookback, "interpolated": s.interpolated,
                       "dropped": s.dropped, "start": stamp(s.index[0]), "end": stamp(s.index[-1]),
                       "fingerprint": _fingerprint(s.values)},
            "split": asdict(prep.split), "mase_scale": prep.scale,
            "transform": prep.transform.to_dict()}


def saved_args(run_dir: Path | str) -> ForecastArgs:
    config = load_config(run_dir)
    if CONFIG_KEY not in config:
        raise RunError(f"{run_dir} is not a forecast run (its config.json has no {CONFIG_KEY})")
    return ForecastArgs.from_dict(config[CONFIG_KEY])


def resume(run_dir: Path | str, budget: dict[str, Any] | None = None,
           **overrides: Any) -> ForecastResult:
    """Continue an interrupted run: finished seeds are kept, the others go on from last.pt."""
    args = saved_args(run_dir)
    for key, value in {**(budget or {}), **overrides}.items():
        setattr(args.train, key, value)
    args.check()
    prep = prepare(args)
    if _fingerprint(prep.y) != load_config(run_dir)["series"]["fingerprint"]:
        raise RunError(f"the data of {run_dir} changed since it was trained (the series "
                       "differs); start a new run")
    save_config(run_dir, {**load_config(run_dir), CONFIG_KEY: args.to_dict()})
    return _fit_and_backtest(args, prep, Path(run_dir), resume=True)


def _fit_and_backtest(args: ForecastArgs, prep: Prepared, run_dir: Path,
                      resume: bool) -> ForecastResult:
    fits: dict[int, Result] = {}
    models: dict[int, Forecaster] = {}
    for i, seed in enumerate(args.seeds):
        cfg = TrainConfig(**{**asdict(args.train), "seed": seed})
        task = WindowTask(prep, args.horizon, args.batch_size, args.strategy, seed)
        torch.manual_seed(seed)  # initial weights from the seed
        model = Forecaster(args.horizon, args.hidden, args.layers, args.dropout, args.cell,
                           args.impl, args.strategy)
        d = seed_dir(run_dir, seed)
        again = resume and checkpoint_path(d).is_file()
        if args.train.progress and len(args.seeds) > 1:
            print(f"seed {seed} ({i + 1}/{len(args.seeds)})", flush=True)
        result = Trainer(model, task, cfg, d, resume=again,
                         extra={"model_args": model.model_args}).fit()
        fits[seed] = result
        if result.stopped == "interrupted" or result.stopped.startswith("non-finite"):
            return ForecastResult(run_dir, fits, {}, {}, None, result.stopped)
        model.load_state_dict(_best_checkpoint(d)["model"])
        models[seed] = model.cpu().eval()
    bt, seed_table = backtest(prep, args, models)
    table = report.summary_table(args, bt, seed_table)
    report.write_outputs(run_dir, prep, args, bt, table, seed_table)
    return ForecastResult(run_dir, fits, table, seed_table, bt, "done")


def _best_checkpoint(d: Path) -> dict[str, Any]:
    """A seed's kept model: best.pt (lowest validation loss), else last.pt (no validation)."""
    name = "best.pt" if checkpoint_path(d, "best.pt").is_file() else "last.pt"
    return load_checkpoint(d, name, map_location="cpu")


def net_forecasts(model: Forecaster, prep: Prepared, origins: np.ndarray) -> np.ndarray:
    """(O, H) forecasts on the original scale from the histories ``y[:t + 1]``."""
    x, _ = windows(prep.z, origins, prep.lookback, 0)
    with torch.no_grad():
        z_future = model.forecast(torch.tensor(x, dtype=torch.float32)).double().numpy()
    return np.stack([prep.transform.inverse(prep.y[:t + 1], z_future[i])
                     for i, t in enumerate(origins)])


def backtest(prep: Prepared, args: ForecastArgs, models: dict[int, Forecaster]
             ) -> tuple[fc.Backtest, dict[str, dict[str, float]]]:
    """All models on the same test origins. The networks' row is the mean of their per-seed
    metrics (not the metric of an ensemble); the per-seed rows come back separately."""
    origins = prep.split.test_origins()
    y, h = prep.y, args.horizon
    actual = fc.actuals(y, origins, h)
    forecasts = {f"{args.cell}/seed-{seed}": net_forecasts(model, prep, origins)
                 for seed, model in models.items()}
    seed_table = {name: fc.scores(actual, f, prep.scale) for name, f in forecasts.items()}
    baselines = fc.baseline_forecasters(y[:prep.split.test_start], prep.season,
                                        tuple(args.baselines))
    forecasts.update(fc.run_baselines(y, origins, h, baselines))
    return fc.Backtest(origins, actual, forecasts, prep.scale), seed_table


# -- prediction --------------------------------------------------------------------------------
def load_models(run_dir: Path | str) -> tuple[list[Forecaster], Transform]:
    """The best network of every seed of a run, and the scaler they were trained with."""
    args = saved_args(run_dir)
    models, transform = [], None
    for seed in args.seeds:
        d = seed_dir(run_dir, seed)
        if not any(checkpoint_path(d, n).is_file() for n in ("best.pt", "last.pt")):
            raise RunError(f"{run_dir} has no trained model for seed {seed}; finish it with "
                           f"forecast --resume {run_dir}")
        ckpt = _best_checkpoint(d)
        model = Forecaster(**ckpt["model_args"])
        model.load_state_dict(ckpt["model"])
        models.append(model.eval())
        transform = Transform.from_dict(ckpt["task"]["transform"])
    assert transform is not None
    return models, transform


def predict(run_dir: Path | str, dataset: str | None = None, csv_path: str | None = None,
            column: str | None = None, time_column: str | None = None
            ) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Forecast the H steps after the end of a series (the run's own, or the one given).

    Returns the future time stamps, the mean forecast over seeds, and every seed's (S, H).
    """
    args = saved_args(run_dir)
    if dataset is not None or csv_path is not None:
        same_kind_csv = csv_path is not None and args.csv is not None
        args.column = column if column is not None else (args.column if same_kind_csv else None)
        args.time_column = time_column if time_column is not None else (
            args.time_column if same_kind_csv else None)
        args.dataset, args.csv = dataset, csv_path
    models, transform = load_models(run_dir)
    series = load(args)
    lookback = int(load_config(run_dir)["series"]["lookback"])
    need = lookback + transform.offset
    if len(series) < need:
        raise RunError(f"the series has {len(series)} points; this run needs the last {need} "
                       f"(--lookback {lookback} + {transform.offset} for differencing)")
    z = transform.forward(series.values)
    x = torch.tensor(z[-lookback:], dtype=torch.float32).unsqueeze(0)
    with torch.no_grad():
        per_seed = np.stack([transform.inverse(series.values, m.forecast(x)[0].double().numpy())
                             for m in models])
    return series.future_index(args.horizon), per_seed.mean(axis=0), per_seed
