"""Forecasting data and metrics: loading and cleaning, splits that never leak, differencing,
metrics on hand-computed cases, the baselines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pucklab.runs.store import RunError
from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast.differencing import choose
from pucklab.seqmodels.forecast.series import load_series
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import WindowTask, prepare
from pucklab.seqmodels.forecast.windows import (
    Transform,
    difference,
    difference_lags,
    make_split,
    mase_scale,
    undifference,
    windows,
)


def write_csv(path, values, times=None, column="value"):
    frame = pd.DataFrame({column: values})
    if times is not None:
        frame.insert(0, "time", times)
    frame.to_csv(path, index=False)
    return path


# -- splits and windows ------------------------------------------------------------------------
def test_windows_and_splits_never_leak_the_future(tmp_path):
    n = 200
    y = np.arange(n, dtype=float) ** 1.1  # values identify their positions
    args = ForecastSettings(csv=str(write_csv(tmp_path / "s.csv", y)), horizon=7, lookback=12,
                        val_frac=0.15, test_frac=0.2, difference="first")
    prep = prepare(args)
    sp = prep.split
    train_o, val_o, test_o = sp.train_origins(), sp.val_origins(), sp.test_origins()
    # Every training target precedes the validation part, every validation target the test part.
    assert train_o.max() + args.horizon < sp.val_start
    assert val_o.min() + 1 == sp.val_start and val_o.max() + args.horizon < sp.test_start
    assert test_o.min() + 1 == sp.test_start and test_o.max() + args.horizon == n - 1
    # Inputs end at the origin, targets start right after it.
    x, t = windows(np.arange(n, dtype=float), test_o, 12, 7)
    assert (x[:, -1] == test_o).all() and (t[:, 0] == test_o + 1).all()
    assert (x[:, 0] == test_o - 11).all()
    # The scaler is fitted on the training part only: changing the rest changes nothing.
    y2 = y.copy()
    y2[sp.val_start:] = 1e6
    refit = Transform.fit(y2, prep.transform.lags, sp.val_start)
    assert refit == prep.transform
    z = np.diff(y[:sp.val_start])
    assert prep.transform.mean == pytest.approx(z.mean()) and prep.transform.std == pytest.approx(z.std())
    # The task's training windows hold nothing from the validation or test parts.
    task = WindowTask(prep, args.horizon, 16, "direct", seed=0)
    z_train_max = prep.z[:sp.val_start][1:].max()
    assert float(task.x.max()) <= z_train_max + 1e-5 and float(task.y.max()) <= z_train_max + 1e-5
    assert len(task.x) == len(train_o)


def test_split_reports_series_too_short():
    with pytest.raises(RunError, match="series too short"):
        make_split(40, lookback=30, horizon=10, val_frac=0.1, test_frac=0.2)
    split = make_split(100, lookback=10, horizon=5, val_frac=0.1, test_frac=0.2)
    assert split.test_start == 80 and split.val_start == 70


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=30, max_size=60),
       st.sampled_from([(), (1,), (4,), (1, 4), (1, 1)]), st.integers(1, 9))
def test_undifference_inverts_difference(values, lags, horizon):
    y = np.asarray(values)
    hist, fut = y[:-horizon], y[-horizon:]
    z = difference(y, lags)
    np.testing.assert_allclose(undifference(hist, z[-horizon:], lags), fut, atol=1e-6)
    # and batched: two rows at once
    both = undifference(hist, np.stack([z[-horizon:], z[-horizon:]]), lags)
    np.testing.assert_allclose(both[1], fut, atol=1e-6)


def _seasonal(n, multiplicative, season=12):
    t = np.arange(n)
    pattern = np.sin(2 * np.pi * t / season) + 0.5 * np.cos(4 * np.pi * t / season)
    return (50 + t) * (1 + 0.2 * pattern) if multiplicative else 50 + 0.5 * t + 8 * pattern


@pytest.mark.parametrize("multiplicative", [False, True])
def test_deseasoned_transform_finds_the_season_and_inverts_exactly(multiplicative):
    """The hybrid's split: smoothing's seasonal indices, fitted on the training part, come out
    of the series before differencing and go back into the forecasts; a growing season is
    found to multiply, a constant one to add (by AIC), and the indices are the true pattern."""
    season, train_end = 12, 96
    y = _seasonal(140, multiplicative)
    tr = Transform.fit(y, (1,), train_end, season)
    assert tr.multiplicative == multiplicative and len(tr.seasonal) == season
    t = np.arange(season)
    truth = np.sin(2 * np.pi * t / season) + 0.5 * np.cos(4 * np.pi * t / season)
    truth = 1 + 0.2 * truth if multiplicative else 8 * truth
    np.testing.assert_allclose(tr.seasonal, truth / truth.mean() if multiplicative
                               else truth - truth.mean(), atol=0.02 if multiplicative else 0.3)
    z = tr.forward(y)
    for origin in (40, 100, 130):  # inverse of the true future differences: the values back
        back = tr.inverse(y[:origin + 1], np.stack([z[origin + 1:origin + 9]] * 2))
        np.testing.assert_allclose(back[1], y[origin + 1:origin + 9], rtol=1e-9)
    # fitted on the training part only; stored and read back unchanged (old files: no season)
    y2 = y.copy()
    y2[train_end:] = 1e6
    assert Transform.fit(y2, (1,), train_end, season) == tr
    assert Transform.from_dict(tr.to_dict()) == tr
    plain = Transform.fit(y, (1,), train_end)
    old = {k: v for k, v in plain.to_dict().items() if k in ("lags", "mean", "std")}
    assert Transform.from_dict(old) == plain


def test_deseason_is_asked_for_never_searched(tmp_path):
    """--difference deseason+first prepares the hybrid's transform; auto's candidates leave the
    deseasoned kinds out (they did not earn a place on the benchmark)."""
    from pucklab.seqmodels.forecast.select import _kinds

    y = _seasonal(160, True)
    times = pd.date_range("2000-01-01", periods=len(y), freq="MS").strftime("%Y-%m-%d")
    path = write_csv(tmp_path / "s.csv", y, times)
    args = ForecastSettings(csv=str(path), time_column="time", horizon=6,
                            difference="deseason+first")
    prep = prepare(args)
    assert prep.season == 12 and len(prep.transform.seasonal) == 12
    assert prep.transform.lags == (1,) and prep.transform.multiplicative
    kinds, _ = _kinds(args.replace(difference="auto"), prep.series, 12, 18)
    assert sorted(kinds) == ["both", "first", "none", "seasonal"]


def test_deseason_needs_a_season_and_two_of_them():
    with pytest.raises(RunError, match="seasonal period"):
        make_split(100, 10, 5, 0.1, 0.2, 0) and difference_lags("deseason", 1)
    with pytest.raises(RunError, match="two seasons"):
        Transform.fit(_seasonal(40, False), (), 20, 12)


# -- loading and cleaning ----------------------------------------------------------------------
def test_missing_values_are_interpolated_or_refused(tmp_path):
    values = [np.nan, 1.0, 2.0, np.nan, np.nan, 5.0, 6.0, np.nan]
    path = write_csv(tmp_path / "gaps.csv", values)
    s = load_series(csv_path=str(path), column="value")
    np.testing.assert_allclose(s.values, [1, 2, 3, 4, 5, 6])  # linear fill, ends dropped
    assert s.interpolated == 2 and s.dropped == 2
    assert not np.isnan(s.values).any()
    with pytest.raises(RunError, match="2 missing values|4 missing values"):
        load_series(csv_path=str(path), column="value", missing="refuse")
    with pytest.raises(RunError, match="all missing"):
        load_series(csv_path=str(write_csv(tmp_path / "e.csv", [np.nan] * 5)), column="value")


def test_infinite_values_are_one_line_not_a_constant_series(tmp_path):
    values = [1.0, 2.0, math.inf, 4.0, 5.0, 3.0]
    with pytest.raises(RunError, match=r"1 infinite value\(s\) \(first at row 3: 'inf'\)"):
        load_series(csv_path=str(write_csv(tmp_path / "inf.csv", values)), column="value")


def test_auto_differencing_follows_the_series():
    """--difference auto on series whose answer is known: noise stays on levels, a random walk
    is differenced once, a strong season seasonally (which also makes a walk under it
    stationary), and a season on an integrated walk (I(2)) gets both."""
    rng = np.random.default_rng(0)
    t = np.arange(480)
    season = 10 * np.sin(2 * np.pi * t / 12)
    walk = np.cumsum(rng.normal(0, 1, 480))
    cases = {"none": (rng.normal(0, 1, 480), 12), "first": (walk, 1),
             "seasonal": (season + rng.normal(0, 1, 480), 12),
             "both": (season + 0.05 * np.cumsum(walk), 12)}
    for expected, (y, m) in cases.items():
        assert choose(y, m).kind == expected, (expected, choose(y, m))
    sunspots = prepare(ForecastSettings(dataset="sunspots").resolved())
    assert sunspots.difference.kind == "none"  # a stationary cycle stays on levels
    co2 = prepare(ForecastSettings(dataset="co2", resample="MS", horizon=12).resolved())
    assert co2.difference.kind in ("seasonal", "both") and "seasonal strength" in \
        co2.difference.reason
    assert co2.transform.lags[-1] == 12


def test_bundled_datasets_load_offline_with_their_season():
    co2 = load_series(dataset="co2")
    assert co2.freq is not None and co2.season() == 52 and co2.interpolated > 0
    monthly = load_series(dataset="co2", resample="MS")
    assert monthly.season() == 12 and len(monthly) == 526 and not np.isnan(monthly.values).any()
    sun = load_series(dataset="sunspots")
    assert len(sun) == 309 and sun.season() == 1 and sun.future_index(2) == [2009, 2010]
    assert str(monthly.future_index(1)[0].date()) == "2002-01-01"


def test_time_column_dates_give_a_frequency(tmp_path):
    times = pd.date_range("2020-01-01", periods=30, freq="QS").strftime("%Y-%m-%d")
    path = write_csv(tmp_path / "q.csv", np.arange(30.0), list(times))
    s = load_series(csv_path=str(path), column="value", time_column="time")
    assert s.season() == 4
    with pytest.raises(RunError, match="increase strictly"):
        load_series(csv_path=str(write_csv(tmp_path / "r.csv", [1.0, 2.0, 3.0], [3, 2, 1])),
                    column="value", time_column="time")


# -- metrics -----------------------------------------------------------------------------------
def test_metrics_on_hand_computed_cases():
    actual, forecast = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0])
    assert fc.mae(actual, forecast) == pytest.approx(1.0)
    assert fc.rmse(actual, forecast) == pytest.approx(math.sqrt(5 / 3))
    # sMAPE: 100 * mean(2|a - f| / (|a| + |f|)) = 100 * (2/3 + 0 + 4/8) / 3
    assert fc.smape(actual, forecast) == pytest.approx(100 * (2 / 3 + 0.5) / 3)
    assert fc.smape(np.zeros(2), np.zeros(2)) == 0.0  # 0/0 counts as a perfect point
    assert fc.smape(np.array([1.0]), np.array([-1.0])) == pytest.approx(200.0)
    assert fc.mase(actual, forecast, scale=2.0) == pytest.approx(0.5)
    # MASE's scale: mean |y_t - y_{t-m}|; here m = 2 gives |3-1|, |2-4|, |9-3| -> 10/3
    assert mase_scale(np.array([1.0, 4.0, 3.0, 2.0, 9.0]), 2) == pytest.approx(10 / 3)


def test_seasonal_naive_has_mase_one_on_its_own_in_sample_errors():
    rng = np.random.default_rng(0)
    for m in (1, 4, 12):
        y = np.cumsum(rng.normal(size=120)) + np.sin(np.arange(120) * 2 * np.pi / max(m, 2))
        sn = fc.seasonal_naive(m)
        one_step = np.array([sn(y[:t + 1], 1)[0] for t in range(m - 1, len(y) - 1)])
        assert fc.mase(y[m:], one_step, mase_scale(y, m)) == pytest.approx(1.0)


def test_constant_series_says_mase_is_undefined():
    with pytest.raises(RunError, match="MASE is undefined"):
        mase_scale(np.full(50, 3.0), 1)


def test_simple_baselines_by_hand():
    h = np.array([1.0, 3.0, 5.0, 4.0, 7.0])
    np.testing.assert_allclose(fc.naive(h, 3), [7, 7, 7])
    np.testing.assert_allclose(fc.seasonal_naive(2)(h, 3), [4, 7, 4])
    np.testing.assert_allclose(fc.drift(h, 2), [8.5, 10.0])  # slope (7 - 1) / 4


def test_ets_and_arima_follow_a_seasonal_trend():
    t = np.arange(120, dtype=float)
    y = 0.5 * t + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(0, 0.3, 120)
    fs = fc.baseline_forecasters(y[:96], 12, ("seasonal_naive", "ets", "arima"))
    origins = np.arange(95, 108)
    out = fc.run_baselines(y, origins, 12, fs, progress=False)
    actual = fc.actuals(y, origins, 12)
    err = {name: fc.mae(actual, f) for name, f in out.items()}
    assert err["ets"] < 0.5 * err["seasonal_naive"] and err["arima"] < 0.5 * err["seasonal_naive"]


def test_one_filter_pass_forecasts_as_refitting_each_history_would():
    """ETS and ARIMA forecast every origin from one pass over the series; the numbers are those
    of re-running the fixed-parameter model on each history y[:t + 1] alone."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    t = np.arange(100, dtype=float)
    y = 0.3 * t + 4 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(2).normal(0, 0.5, 100)
    origins = np.array([79, 85, 90])
    ets = fc.ets(y[:80], 12)(y, origins, 6)
    arima = fc.arima(y[:80], 12)
    one_pass = arima(y, origins, 6)
    kw = fc.ets_kwargs(80, 12)
    params = ETSModel(y[:80], **kw).fit(disp=False).params
    for i, o in enumerate(origins):
        alone = ETSModel(y[:o + 1], **kw).smooth(params).forecast(6)
        np.testing.assert_allclose(ets[i], alone, rtol=1e-9, atol=1e-9)
    from statsmodels.tsa.arima.model import ARIMA

    order, seasonal = arima.params["order"], arima.params["seasonal_order"]
    fitted = ARIMA(y[:80], order=order, seasonal_order=seasonal, trend="n").fit()
    for i, o in enumerate(origins):
        np.testing.assert_allclose(one_pass[i], fitted.apply(y[:o + 1]).forecast(6),
                                   rtol=1e-6, atol=1e-6)
    # rebuilt from the parameters a run stores (what forecast predict uses): the same numbers
    for model, made in (("ets", fc.ets(y[:80], 12)), ("arima", arima)):
        np.testing.assert_allclose(fc.rebuild(made.params)(y, origins, 6), made(y, origins, 6),
                                   rtol=1e-9, atol=1e-9, err_msg=model)


def test_long_seasons_fit_the_airline_model_only():
    assert fc.arima_orders(52) == [((0, 1, 1), (0, 1, 1, 52))]
    assert len(fc.arima_orders(12)) == 6
