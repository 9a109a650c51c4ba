"""A series made ready for training, and the training task the shared Trainer drives.

:func:`prepare` loads and cleans the series, cuts it by time (train / validation / test), fits
the scaler on the training part only and checks MASE is defined; :class:`WindowTask` serves
shuffled training windows and the validation loss.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pucklab.runs.store import RunError
from pucklab.seqmodels.forecast.differencing import Choice, choose
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.series import Series, load_series
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.windows import (
    DESEASONED,
    Split,
    Transform,
    difference_lags,
    make_split,
    mase_scale,
    windows,
)


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
    difference: Choice  # what --difference meant here (auto: chosen from the training part)

    @property
    def y(self) -> np.ndarray:
        return self.series.values


def load(args: ForecastSettings) -> Series:
    return load_series(args.dataset, args.csv, args.column, args.time_column, args.missing,
                       args.resample)


def prepare(args: ForecastSettings, series: Series | None = None) -> Prepared:
    """Load and cut the series; fit the scaler on the training part; check MASE is defined."""
    series = series if series is not None else load(args)
    season = args.season or series.season()
    lookback = args.lookback or max(3 * args.horizon, 2 * season)
    if args.difference == "auto":  # decided on the training part, which no differencing moves
        train_end = make_split(len(series), lookback, args.horizon, args.val_frac,
                               args.test_frac).val_start
        choice = _fitting(choose(series.values[:train_end], season), len(series), lookback,
                          season, args)
    else:
        choice = Choice(args.difference, "given by --difference")
    lags = difference_lags(choice.kind, season)
    split = make_split(len(series), lookback, args.horizon, args.val_frac, args.test_frac,
                       sum(lags), args.origin_step)
    if len(split.val_origins()) < 1:
        raise RunError(f"the validation part ({split.test_start - split.val_start} points) is "
                       f"shorter than --horizon {args.horizon}; raise --val-frac")
    transform = Transform.fit(series.values, lags, split.val_start,
                              season if choice.kind in DESEASONED else 0)
    scale = mase_scale(series.values[:split.test_start], season)
    return Prepared(series, season, lookback, split, transform, transform.forward(series.values),
                    scale, choice)


def _fitting(choice: Choice, n: int, lookback: int, season: int,
             args: ForecastSettings) -> Choice:
    """``choice``, or less differencing where a short series cannot spare the points it costs
    (a seasonal difference loses a season): auto never makes a series too short."""
    fallbacks = {"both": ("first", "none"), "seasonal": ("none",), "first": ("none",)}
    for kind in (choice.kind, *fallbacks.get(choice.kind, ())):
        try:
            make_split(n, lookback, args.horizon, args.val_frac, args.test_frac,
                       sum(difference_lags(kind, season)), args.origin_step)
        except RunError:
            continue
        if kind == choice.kind:
            return choice
        return Choice(kind, f"{choice.reason}; but the series is too short to lose the points "
                            f"{choice.kind} differencing costs, so {kind}")
    return choice  # too short for anything: make_split says so


class WindowTask:
    """Sliding windows of the training part, shuffled within it; validation on the next part.

    Batch ``k`` of epoch ``e`` is a fixed function of (seed, e, k), so a resumed run draws the
    same batches as an uninterrupted one without saving any sampler state. The loss is the mean
    squared error over all H steps in scaled units; the validation loss is the same on the
    validation windows, forecast as at test time (recursive models feed themselves back).
    """

    units = "MSE, scaled"

    def __init__(self, prep: Prepared, horizon: int, batch_size: int, strategy: str,
                 seed: int, through_validation: bool = False) -> None:
        lb, sp = prep.lookback, prep.split
        # the final fit trains on the validation windows too (the validation loss is then
        # in-sample: watched, never a reason to stop)
        train = np.concatenate([sp.train_origins(), sp.val_origins()]) if through_validation \
            else sp.train_origins()
        x, y = windows(prep.z, train, lb, horizon)
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

    def train_loss(self, model: nn.Module, step: int) -> torch.Tensor:
        idx = self._batch(step)
        x, y = self.x[idx], self.y[idx]
        if self.strategy == "recursive":  # every position predicts the next value
            return F.mse_loss(model(x), torch.cat([x[:, 1:], y[:, :1]], dim=1))
        return F.mse_loss(model(x), y)

    def val_loss(self, model: nn.Module) -> float:
        assert isinstance(model, Forecaster)
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


def fingerprint(y: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(y, dtype=np.float64).tobytes()).hexdigest()[:16]
