"""Splits by time, differencing, scaling and the windows a forecaster learns from.

Index conventions, as in series.py: ``y`` has ``n`` points; a forecast made at *origin* ``t``
sees ``y[:t + 1]`` and predicts ``y[t + 1 : t + 1 + H]``. Everything that is *fitted* (the
scaler) sees the training part only; differencing is not fitted (each difference uses the point
itself and an older one), so it cannot leak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pucklab.runs.store import RunError, require_choice

DIFFERENCES = ("none", "first", "seasonal", "both")


# -- splits ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """Where validation and test targets start; which origins each part uses."""

    n: int
    val_start: int
    test_start: int
    lookback: int
    horizon: int
    offset: int  # first index with a differenced value (sum of the differencing lags)
    origin_step: int = 1

    def train_origins(self) -> np.ndarray:
        first = self.offset + self.lookback - 1
        return np.arange(first, self.val_start - self.horizon)

    def val_origins(self) -> np.ndarray:
        first = max(self.val_start - 1, self.offset + self.lookback - 1)
        return np.arange(first, self.test_start - self.horizon)

    def test_origins(self) -> np.ndarray:
        first = max(self.test_start - 1, self.offset + self.lookback - 1)
        return np.arange(first, self.n - self.horizon, self.origin_step)


def make_split(n: int, lookback: int, horizon: int, val_frac: float, test_frac: float,
               offset: int = 0, origin_step: int = 1) -> Split:
    """Cut ``n`` points by time; a :class:`RunError` says what is too short for what."""
    for name, frac in (("--val-frac", val_frac), ("--test-frac", test_frac)):
        if not 0 < frac < 1:
            raise RunError(f"{name} must be in (0, 1), got {frac}")
    if val_frac + test_frac >= 1:
        raise RunError("--val-frac + --test-frac must leave a training part (< 1)")
    if lookback < 1 or horizon < 1 or origin_step < 1:
        raise RunError("--lookback, --horizon and --origin-step must be >= 1")
    test_start = n - max(horizon, round(test_frac * n))
    val_start = test_start - max(horizon, round(val_frac * n))
    split = Split(n, val_start, test_start, lookback, horizon, offset, origin_step)
    need = offset + lookback + 2 * horizon + max(horizon, round(val_frac * n)) \
        + max(horizon, round(test_frac * n))
    if len(split.train_origins()) < 1 or len(split.test_origins()) < 1:
        raise RunError(f"series too short: {n} points, but --lookback {lookback} + --horizon "
                       f"{horizon} with a validation and a test part"
                       + (f" and {offset} points lost to differencing" if offset else "")
                       + f" need about {need}; shorten --lookback / --horizon")
    return split


# -- differencing and scaling --------------------------------------------------------------------
def difference_lags(kind: str, season: int) -> tuple[int, ...]:
    """``--difference`` as lags: first (1,), seasonal (m,), both (1, m)."""
    require_choice("--difference", kind, DIFFERENCES)
    if kind in ("seasonal", "both") and season < 2:
        raise RunError(f"--difference {kind} needs a seasonal period >= 2; give --season M")
    return {"none": (), "first": (1,), "seasonal": (season,), "both": (1, season)}[kind]


def difference(y: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """``(1 - B^lag)`` applied for each lag; same length as ``y``, NaN where undefined."""
    z = np.asarray(y, dtype=float).copy()
    for lag in lags:
        shifted = np.full_like(z, np.nan)
        shifted[lag:] = z[:-lag]
        z = z - shifted
    return z


def undifference(history: np.ndarray, future: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """Invert :func:`difference`: ``future`` differenced values after ``history`` -> levels.

    ``future`` may be (H,) or (batch, H); ``history`` is the observed series up to the origin.
    """
    future = np.asarray(future, dtype=float)
    levels = [np.asarray(history, dtype=float)]
    for lag in lags:
        levels.append(difference(levels[-1], (lag,)))
    out = future
    for k in range(len(lags), 0, -1):  # undo the last difference first
        lag, below = lags[k - 1], levels[k - 1]
        restored = np.empty_like(out)
        steps = out.shape[-1]
        for h in range(steps):
            back = h - lag  # index into the future part, or into history when negative
            prev = restored[..., back] if back >= 0 else below[len(below) + back]
            restored[..., h] = out[..., h] + prev
        out = restored
    return out


@dataclass
class Transform:
    """Differencing then standard scaling; the scaler is fitted on the training part only."""

    lags: tuple[int, ...]
    mean: float
    std: float

    @property
    def offset(self) -> int:
        return sum(self.lags)

    @classmethod
    def fit(cls, y: np.ndarray, lags: tuple[int, ...], train_end: int) -> Transform:
        z = difference(y[:train_end], lags)[sum(lags):]
        std = float(z.std())
        return cls(tuple(lags), float(z.mean()), std if std > 1e-12 else 1.0)

    def forward(self, y: np.ndarray) -> np.ndarray:
        return (difference(y, self.lags) - self.mean) / self.std

    def inverse(self, history: np.ndarray, z_future: np.ndarray) -> np.ndarray:
        return undifference(history, np.asarray(z_future) * self.std + self.mean, self.lags)

    def to_dict(self) -> dict[str, Any]:
        return {"lags": list(self.lags), "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transform:
        return cls(tuple(int(v) for v in d["lags"]), float(d["mean"]), float(d["std"]))


def windows(z: np.ndarray, origins: np.ndarray, lookback: int, horizon: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``z[t-L+1 .. t]`` and targets ``z[t+1 .. t+H]`` for each origin ``t``."""
    origins = np.asarray(origins, dtype=int)
    x = np.stack([z[t - lookback + 1:t + 1] for t in origins]) if len(origins) else \
        np.zeros((0, lookback))
    y = np.stack([z[t + 1:t + 1 + horizon] for t in origins]) if len(origins) else \
        np.zeros((0, horizon))
    return x, y


def mase_scale(y_insample: np.ndarray, season: int) -> float:
    """MASE's denominator: the in-sample MAE of the one-step seasonal-naive forecast.

    A constant in-sample part makes it 0, and MASE undefined: that is an error, said plainly.
    """
    m = max(1, season)
    if len(y_insample) <= m:
        raise RunError(f"MASE needs more than {m} in-sample points (season {m})")
    scale = float(np.mean(np.abs(y_insample[m:] - y_insample[:-m])))
    size = float(np.max(np.abs(y_insample)))
    if not scale > 1e-12 * max(size, 1e-300) or not math.isfinite(scale):
        what = "constant" if np.ptp(y_insample) <= 1e-12 * max(size, 1e-300) else \
            f"an exact repeat every {m} steps"
        raise RunError(f"the series is {what} before the test part: every in-sample "
                       f"seasonal-naive error is 0, so MASE is undefined"
                       + ("; nothing to forecast" if m == 1 or what == "constant" else
                          " (last season's value is already exact; try another --season)"))
    return scale
