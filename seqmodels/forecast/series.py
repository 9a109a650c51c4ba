"""Time series for forecasting: loading, cleaning, splits, differencing, scaling, windows.

A series comes from one of statsmodels' bundled data sets (offline) or from a column of the
user's CSV. Missing values are interpolated (interior gaps, linearly; leading and trailing gaps
are dropped) or refused, by flag -- never carried on as NaN. Everything that is *fitted* (the
scaler) sees the training part only; differencing is not fitted (each difference uses the point
itself and an older one), so it cannot leak.

Index conventions, used everywhere in the forecasting code: ``y`` has ``n`` points; a forecast
made at *origin* ``t`` sees ``y[:t + 1]`` and predicts ``y[t + 1 : t + 1 + H]``. The split points
``val_start < test_start`` cut the series by time: training targets lie before ``val_start``,
validation targets in ``[val_start, test_start)``, test targets from ``test_start`` on. Inputs of
a validation or test window may reach back into earlier parts: they are the observed past at
that origin, as in any rolling-origin backtest.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pucklab.runs import RunError, require_choice

#: statsmodels data sets with a sensible default column and time column.
KNOWN_DATASETS = {"sunspots": ("SUNACTIVITY", "YEAR"), "co2": ("co2", None),
                  "nile": ("volume", "year")}
MISSING = ("interpolate", "refuse")
DIFFERENCES = ("none", "first", "seasonal", "both")
#: Seasonal period implied by a pandas frequency (its base name, multiple 1).
SEASON_OF_FREQ = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7, "B": 5,
                  "h": 24, "H": 24, "YS": 1, "YE": 1, "Y": 1, "A": 1, "AS": 1}


@dataclass
class Series:
    """A clean univariate series: float64 values without NaN, and their time stamps."""

    values: np.ndarray
    index: pd.Index  # DatetimeIndex (with freq when regular), or numbers, or positions
    name: str
    freq: str | None
    interpolated: int = 0  # interior missing values filled
    dropped: int = 0  # leading / trailing missing values dropped

    def __len__(self) -> int:
        return len(self.values)

    def season(self) -> int:
        """The seasonal period implied by the frequency (12 for monthly ...), 1 if unknown."""
        if self.freq is None:
            return 1
        offset = pd.tseries.frequencies.to_offset(self.freq)
        if offset.n != 1:
            return 1
        code = getattr(offset, "rule_code", None) or offset.name
        return SEASON_OF_FREQ.get(code.split("-")[0], 1)

    def future_index(self, steps: int) -> list[Any]:
        """Time stamps of the next ``steps`` points (positions when the spacing is unknown)."""
        if isinstance(self.index, pd.DatetimeIndex) and self.freq:
            return list(pd.date_range(self.index[-1], periods=steps + 1, freq=self.freq)[1:])
        idx = np.asarray(self.index, dtype=float)
        step = idx[-1] - idx[-2] if len(idx) > 1 else 1.0
        if len(idx) > 2 and not np.allclose(np.diff(idx), step):
            step = 1.0
        future = idx[-1] + step * np.arange(1, steps + 1)
        return [int(v) if float(v).is_integer() else float(v) for v in future]


def stamp(value: Any) -> str:
    """A time stamp as people write it: 2001-12-01 for midnight dates, 1750 for whole years."""
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def dataset_names() -> list[str]:
    """statsmodels' bundled data sets that ``--dataset`` accepts."""
    import pkgutil

    import statsmodels.datasets as smd

    return sorted(m.name for m in pkgutil.iter_modules(smd.__path__)
                  if m.ispkg and m.name not in ("tests", "utils", "template_data"))


def _frame_of_dataset(name: str) -> pd.DataFrame:
    names = dataset_names()
    if name not in names:
        raise RunError(f"unknown data set {name!r}; statsmodels bundles: {', '.join(names)} "
                       "(or pass your own with --csv FILE --column NAME)")
    import importlib

    module = importlib.import_module(f"statsmodels.datasets.{name}")
    try:
        return module.load_pandas().data
    except Exception as err:  # a data set without a pandas loader
        raise RunError(f"data set {name!r} cannot be loaded as a table ({err})") from err


def _frame_of_csv(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise RunError(f"--csv {path}: no such file")
    try:
        return pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as err:
        raise RunError(f"--csv {path}: cannot read it as CSV ({str(err).splitlines()[0]})") from err


def load_series(dataset: str | None = None, csv_path: str | None = None,
                column: str | None = None, time_column: str | None = None,
                missing: str = "interpolate", resample: str | None = None) -> Series:
    """Load, check and clean one column; every problem is a one-line :class:`RunError`."""
    if (dataset is None) == (csv_path is None):
        raise RunError("give exactly one of --dataset NAME or --csv FILE")
    require_choice("--missing", missing, MISSING)
    if dataset is not None:
        frame = _frame_of_dataset(dataset)
        default_col, default_time = KNOWN_DATASETS.get(dataset, (None, None))
        column = column or default_col
        time_column = time_column or (default_time if column == default_col else None)
        source = f"data set {dataset!r}"
    else:
        frame = _frame_of_csv(csv_path)  # type: ignore[arg-type]
        source = f"--csv {csv_path}"
    if column is None:
        others = [c for c in frame.columns if c != time_column]
        numeric = others if len(others) == 1 else [
            c for c in others if pd.api.types.is_numeric_dtype(frame[c])]
        if len(numeric) != 1:
            raise RunError(f"{source} has columns {', '.join(map(str, frame.columns))}; choose one "
                           "with --column NAME")
        column = str(numeric[0])
    for col, flag in ((column, "--column"), (time_column, "--time-column")):
        if col is not None and col not in frame.columns:
            raise RunError(f"{flag} {col!r} is not in {source}; its columns are "
                           f"{', '.join(map(str, frame.columns))}")
    values = _numeric(frame[column], column, source)
    index = _time_index(frame, time_column, source)
    s = pd.Series(values, index=index)
    if resample:
        if not isinstance(s.index, pd.DatetimeIndex):
            raise RunError(f"--resample needs time stamps; give --time-column (the {source} "
                           "index is not dates)")
        try:
            s = s.resample(resample).mean()
        except ValueError as err:
            raise RunError(f"--resample {resample!r}: {str(err).splitlines()[0]}") from err
    return _clean(s, str(column), missing, source)


def _numeric(col: pd.Series, name: str, source: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col):
        raise RunError(f"column {name!r} of {source} is not numeric (true/false values)")
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna() & (col.astype(str).str.strip() != "")
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise RunError(f"column {name!r} of {source} is not numeric (row {row + 1}: "
                       f"{str(col.iloc[row])!r})")
    return converted.to_numpy(dtype=float)


def _time_index(frame: pd.DataFrame, time_column: str | None, source: str) -> pd.Index:
    if time_column is None:
        index = frame.index
        if isinstance(index, pd.DatetimeIndex):
            return index
        return pd.RangeIndex(len(frame))
    raw = frame[time_column]
    if pd.api.types.is_numeric_dtype(raw):
        index = pd.Index(raw.to_numpy(dtype=float))
    else:
        try:
            index = pd.DatetimeIndex(pd.to_datetime(raw))
        except (ValueError, TypeError) as err:
            raise RunError(f"--time-column {time_column!r} of {source} holds neither numbers nor "
                           "dates") from err
    if index.hasnans:
        raise RunError(f"--time-column {time_column!r} of {source} has empty cells")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise RunError(f"--time-column {time_column!r} of {source} must increase strictly "
                       "(sort the file; one row per time)")
    return index


def _clean(s: pd.Series, name: str, missing: str, source: str) -> Series:
    values = s.to_numpy(dtype=float)
    nan = np.isnan(values)
    if nan.all():
        raise RunError(f"column {name!r} of {source} has no values (all missing)")
    if nan.any() and missing == "refuse":
        first = int(np.argmax(nan))
        raise RunError(f"column {name!r} of {source} has {int(nan.sum())} missing values (first "
                       f"at row {first + 1}); use --missing interpolate to fill them")
    keep = slice(int(np.argmax(~nan)), len(values) - int(np.argmax(~nan[::-1])))
    dropped = len(values) - (keep.stop - keep.start)
    s = s.iloc[keep]
    interpolated = int(s.isna().sum())
    if interpolated:
        # Linear in position (the index is regular or positional); only interior gaps remain.
        s = pd.Series(np.interp(np.arange(len(s)), np.flatnonzero(s.notna()),
                                s.dropna().to_numpy(dtype=float)), index=s.index)
    index = s.index
    freq = None
    if isinstance(index, pd.DatetimeIndex):
        freq = index.freqstr if index.freq is not None else _infer_freq(index)
        if freq is not None and index.freq is None:
            index = pd.DatetimeIndex(index, freq=freq)
    elif not isinstance(index, pd.RangeIndex):
        index = pd.Index(index.to_numpy(dtype=float))
    return Series(s.to_numpy(dtype=float), index, name, freq, interpolated, dropped)


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    if len(index) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset instead of a string
        freq = pd.infer_freq(index)
    return freq if freq is None or isinstance(freq, str) else freq.freqstr


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
