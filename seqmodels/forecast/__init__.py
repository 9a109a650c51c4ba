"""Forecasting a time series with recurrent networks, against classical baselines (``forecast``).

    series    loading (statsmodels data sets, CSV) and cleaning (gaps, frequency, season)
    windows   splits by time, differencing, scaling, and the windows a forecaster learns from
    differencing  ``--difference auto``: levels, differences or seasonal ones, from unit-root tests
    metrics   MAE, RMSE, sMAPE, MASE; naive, seasonal naive, drift, ETS, ARIMA; the backtest
    model     the recurrent forecaster (direct or recursive)
    settings  every setting of a run
    task      the prepared series and the training task the shared Trainer drives
    fit       one trainer run per seed, and the networks' forecasts
    select    the differencing and lookback, chosen on the validation part
    combine   the default mix of network, ETS and ARIMA; conformal intervals; their scores
    backtest  every row on the test origins
    runner    ``run(settings, run_dir=None, *, report=None)``: choose, train, backtest
    predict   forecast the future from a trained run
    report    the table, CSV files and figure; cli: the ``forecast`` command
"""

from pucklab.seqmodels.forecast.runner import run
from pucklab.seqmodels.forecast.settings import ForecastSettings

__all__ = ["ForecastSettings", "run"]
