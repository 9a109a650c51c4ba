"""Forecast evaluation: metrics, classical baselines, the rolling-origin backtest.

Every model -- ours and the baselines -- forecasts from exactly the same origins ``t`` of the
test part, each seeing ``y[:t + 1]`` only, and is scored on every (origin, step) pair. The
statistical baselines are fitted once on everything before the test part (as our networks are
trained once) and then, at each origin, filter the newly observed values with those fixed
parameters: the same information at every origin for every model.

Filtering is causal, so the state at origin ``t`` of one filter pass over the whole series is
the state a pass over ``y[:t + 1]`` ends in. The ETS and ARIMA baselines therefore run their
filter once (statsmodels' ``smooth`` / ``apply`` with the fixed parameters) and forecast every
origin from it with ``predict(start=t + 1, dynamic=...)``: the same numbers as re-running the
model on each history (a test checks it), hundreds of times faster. With a season longer than
:data:`LONG_SEASON` (weekly data, m = 52) ARIMA fits the airline model only, since each
seasonal fit takes tens of seconds there.

Metrics (``actual``, ``forecast`` of any matching shape, averaged over all points):
MAE, RMSE, sMAPE in percent (0..200; a point where both are 0 counts 0), and MASE: MAE divided
by the in-sample MAE of the one-step seasonal-naive forecast (Hyndman & Koehler 2006), so 1.0
means "as good as last season's value one step ahead" and every model shares one scale.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pucklab.runs.figures import progress_bar

BASELINES = ("naive", "seasonal_naive", "drift", "ets", "arima")
METRICS = ("mae", "rmse", "smape", "mase")
LONG_SEASON = 24  # above this, ARIMA's order grid shrinks to the airline model


# -- metrics -----------------------------------------------------------------------------------
def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(forecast)) ** 2)))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    denom = np.abs(a) + np.abs(f)
    ratio = np.divide(2 * np.abs(a - f), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * np.mean(ratio))


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    return mae(actual, forecast) / scale


def scores(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    return {"mae": mae(actual, forecast), "rmse": rmse(actual, forecast),
            "smape": smape(actual, forecast), "mase": mase(actual, forecast, scale)}


# -- baselines ---------------------------------------------------------------------------------
# A forecaster maps (history y[:t+1], horizon) -> (horizon,) forecast.
ForecastFn = Callable[[np.ndarray, int], np.ndarray]
# A backtester maps (series y, origins, horizon) -> (O, horizon) forecasts, row i from
# y[:origins[i] + 1] only.
BacktestFn = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last value, repeated."""
    return np.full(horizon, history[-1], dtype=float)


def seasonal_naive(season: int) -> ForecastFn:
    """The value one season back (``season`` 1 is :func:`naive`)."""
    m = max(1, season)

    def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
        last = history[-m:]
        return np.array([last[h % m] for h in range(horizon)], dtype=float)

    return forecast


def drift(history: np.ndarray, horizon: int) -> np.ndarray:
    """The line through the first and the last value, extended."""
    slope = (history[-1] - history[0]) / max(1, len(history) - 1)
    return history[-1] + slope * np.arange(1, horizon + 1)


def per_origin(f: ForecastFn) -> BacktestFn:
    """A forecaster run on each history ``y[:t + 1]`` in turn."""
    def backtest(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        return np.stack([f(y[:t + 1], horizon) for t in origins])

    return backtest


@dataclass
class OnePass:
    """Forecasts at every origin from one filter pass: ``filtered(y)`` is a statsmodels results
    object of the whole series with fixed parameters; ``predict`` from ``t + 1`` on, dynamic
    from its first step, uses ``y[:t + 1]`` only. Called like any backtester; ``intervals``
    gives the model's own prediction intervals from the same pass."""

    filtered: Callable[[np.ndarray], Any]
    params: dict[str, Any]  # how to rebuild the model on another series (predict)

    def __call__(self, y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        res = _quiet(lambda: self.filtered(y))
        return np.stack([np.asarray(res.predict(start=int(t) + 1, end=int(t) + horizon,
                                                dynamic=0), dtype=float) for t in origins])

    def intervals(self, y: np.ndarray, origins: np.ndarray, horizon: int,
                  levels: tuple[float, ...]) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """level -> (lower, upper), each (O, H): the model's central prediction intervals."""
        res = _quiet(lambda: self.filtered(y))
        out: dict[float, tuple[list[np.ndarray], list[np.ndarray]]] = {
            lv: ([], []) for lv in levels}
        for t in origins:
            pred = _quiet(functools.partial(res.get_prediction, start=int(t) + 1,
                                            end=int(t) + horizon, dynamic=0))
            for lv in levels:
                bounds = np.asarray(_interval(pred, 1 - lv), dtype=float)
                out[lv][0].append(bounds[:, 0])
                out[lv][1].append(bounds[:, 1])
        return {lv: (np.stack(lo), np.stack(hi)) for lv, (lo, hi) in out.items()}


def _interval(pred: Any, alpha: float) -> Any:
    """A statsmodels prediction's interval: ETS's ``pred_int``, the state-space ``conf_int``."""
    if hasattr(pred, "pred_int"):
        return pred.pred_int(alpha=alpha)
    return pred.conf_int(alpha=alpha)


def _indexed(y: np.ndarray) -> Any:
    """``y`` as a pandas Series: statsmodels' ETS prediction intervals need an indexed series
    (with a plain array ``get_prediction`` fails on ``.index``)."""
    import pandas as pd

    return pd.Series(np.asarray(y, dtype=float))


def _quiet(fit: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of statsmodels' optimisers
        return fit()


def ets_kwargs(n: int, season: int) -> dict[str, Any]:
    """ETS(A, Ad, A) when the data holds two seasons and a bit, else ETS(A, Ad, N)."""
    kw: dict[str, Any] = {"error": "add", "trend": "add", "damped_trend": True}
    if season > 1 and n >= 2 * season + 2:
        kw.update(seasonal="add", seasonal_periods=season)
    return kw


def ets(fit_on: np.ndarray, season: int) -> OnePass:
    """statsmodels ETS (additive errors, damped additive trend, additive season when m > 1),
    parameters fitted on ``fit_on``, then one pass with those parameters over the series."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    kw = ets_kwargs(len(fit_on), season)
    params = _quiet(lambda: ETSModel(fit_on, **kw).fit(disp=False)).params
    return OnePass(lambda y: ETSModel(_indexed(y), **kw).smooth(params),
                   {"model": "ets", "kwargs": kw, "params": np.asarray(params).tolist()})


def arima_orders(season: int) -> list[tuple[tuple[int, int, int], tuple[int, int, int, int]]]:
    """The small grid ARIMA picks from by AIC: (p, d, q) x seasonal (P, D, Q, m); the airline
    model alone for a season longer than :data:`LONG_SEASON`."""
    if season > LONG_SEASON:
        return [((0, 1, 1), (0, 1, 1, season))]
    if season > 1:
        return [((p, 1, q), (0, 1, 1, season)) for p in (0, 1, 2) for q in (0, 1)]
    return [((p, d, q), (0, 0, 0, 0)) for d in (0, 1) for p in (1, 2, 3, 5, 9) for q in (0, 1)]


def arima(fit_on: np.ndarray, season: int) -> OnePass:
    """statsmodels ARIMA, order chosen by AIC on ``fit_on`` from :func:`arima_orders` (the
    airline-model family when seasonal), then one pass with fixed parameters over the series."""
    from statsmodels.tsa.arima.model import ARIMA

    def fit(order: tuple[int, ...], seasonal: tuple[int, ...], trend: str) -> Any:
        return ARIMA(fit_on, order=order, seasonal_order=seasonal, trend=trend).fit()

    best, best_aic = None, math.inf
    for order, seasonal in arima_orders(season):
        if len(fit_on) < 3 * max(1, seasonal[3]) + sum(order) + 2:
            continue
        trend = "c" if order[1] == 0 and seasonal[1] == 0 else "n"
        try:
            res = _quiet(functools.partial(fit, order, seasonal, trend))
        except (ValueError, np.linalg.LinAlgError):
            continue
        aic = float(res.aic)
        if math.isfinite(aic) and aic < best_aic:
            best, best_aic = res, aic
    if best is None:
        raise ValueError("no ARIMA order could be fitted")
    fitted = best
    return OnePass(lambda y: fitted.apply(y),
                   {"model": "arima", "order": list(best.model.order),
                    "seasonal_order": list(best.model.seasonal_order), "trend": best.model.trend,
                    "params": np.asarray(best.params).tolist()})


def rebuild(saved: dict[str, Any]) -> OnePass:
    """An ETS or ARIMA forecaster from its :attr:`OnePass.params` (as a run stores them): the
    same fixed-parameter model, applied to any series (``forecast predict``)."""
    params = np.asarray(saved["params"], dtype=float)
    if saved["model"] == "ets":
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        kw = dict(saved["kwargs"])
        return OnePass(lambda y: ETSModel(_indexed(y), **kw).smooth(params), saved)
    from statsmodels.tsa.arima.model import ARIMA

    order, seasonal = tuple(saved["order"]), tuple(saved["seasonal_order"])
    return OnePass(lambda y: ARIMA(y, order=order, seasonal_order=seasonal,
                                   trend=saved["trend"]).filter(params), saved)


def baseline_forecasters(fit_on: np.ndarray, season: int,
                         which: tuple[str, ...] = BASELINES) -> dict[str, Callable[[], BacktestFn]]:
    """The named baselines, not yet fitted: calling one fits it on ``fit_on`` (the pre-test
    part), so that a caller can show progress between the slow ones."""
    makers: dict[str, Callable[[], BacktestFn]] = {
        "naive": lambda: per_origin(naive), "seasonal_naive": lambda: per_origin(
            seasonal_naive(season)),
        "drift": lambda: per_origin(drift), "ets": lambda: ets(fit_on, season),
        "arima": lambda: arima(fit_on, season)}
    return {name: makers[name] for name in which}


# -- backtest ----------------------------------------------------------------------------------
@dataclass
class Backtest:
    """Forecasts of every model at every origin, and the actual values."""

    origins: np.ndarray  # (O,)
    actual: np.ndarray  # (O, H)
    forecasts: dict[str, np.ndarray]  # model -> (O, H)
    scale: float  # MASE denominator


def run_baselines(y: np.ndarray, origins: np.ndarray, horizon: int,
                  baselines: dict[str, Callable[[], BacktestFn]],
                  progress: bool | None = None) -> dict[str, np.ndarray]:
    """Fit each baseline, then its (O, H) forecasts from the histories ``y[:t + 1]``."""
    out = {}
    bar = progress_bar(progress, total=len(baselines), desc="baselines", unit="model",
                       leave=False)
    for name, make in baselines.items():
        bar.set_postfix_str(name)
        out[name] = make()(y, origins, horizon)
        bar.update(1)
    bar.close()
    return out


def actuals(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    return np.stack([y[t + 1:t + 1 + horizon] for t in origins])
