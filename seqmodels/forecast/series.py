"""Time series for forecasting: loading and cleaning (splits, differencing and scaling are in
windows.py).

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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pucklab.runs.store import RunError, require_choice

#: statsmodels data sets with a sensible default column and time column.
KNOWN_DATASETS = {"sunspots": ("SUNACTIVITY", "YEAR"), "co2": ("co2", None),
                  "nile": ("volume", "year")}
MISSING = ("interpolate", "refuse")
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
    values = converted.to_numpy(dtype=float)
    infinite = np.isinf(values)
    if infinite.any():  # not a gap to fill: a value that cannot be a measurement
        row = int(np.argmax(infinite))
        raise RunError(f"column {name!r} of {source} holds {int(infinite.sum())} infinite "
                       f"value(s) (first at row {row + 1}: {str(col.iloc[row])!r}); fix them, or "
                       "leave them empty to be treated as missing")
    return values


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
            with warnings.catch_warnings():  # pandas guessing a format: refused or fine below
                warnings.simplefilter("ignore", UserWarning)
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
