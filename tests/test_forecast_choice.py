"""What ``forecast`` chooses on the validation part, and how it combines and bounds forecasts:
the choice never reads the test part, --difference / --lookback still decide, an ensemble of
identical networks is that network, and interval coverage and conformal quantiles on cases
with known answers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from pucklab.runs.store import load_config
from pucklab.seqmodels.forecast import cli as forecast_cli
from pucklab.seqmodels.forecast.backtest import DEFAULT, run_backtest
from pucklab.seqmodels.forecast.calibrate import Calibration, calibration_prepared
from pucklab.seqmodels.forecast.combine import (
    CONFORMAL,
    STUDENT_T,
    UNBOUNDED,
    Combination,
    Conformal,
    coverage,
    interval_scores,
    inverse_mse_weights,
    pinball,
    quantile_average,
)
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import prepare

QUICK = ["--hidden", "16", "--batch-size", "16", "--no-progress", "--epochs", "8",
         "--baselines", "naive", "seasonal_naive"]


def trend_csv(path, n=150, test_noise=False):
    t = np.arange(n)
    y = 0.05 * t + np.sin(2 * np.pi * t / 9) + np.random.default_rng(1).normal(0, 0.2, n)
    if test_noise:  # the test part (the last 20%) replaced by noise
        cut = n - round(0.2 * n)
        y[cut:] = np.random.default_rng(7).normal(50, 30, n - cut)
    pd.DataFrame({"t": t, "y": y}).to_csv(path, index=False)
    return path


def test_the_choice_never_reads_the_test_part(tmp_path):
    """A series whose test part is noise chooses the same differencing and lookback, with the
    same validation scores to the last digit."""
    chosen = []
    for noisy in (False, True):
        path = trend_csv(tmp_path / f"s{noisy}.csv", test_noise=noisy)
        run = tmp_path / f"run{noisy}"
        assert forecast_cli.main(["--csv", str(path), "--column", "y", "--time-column", "t",
                                  "--horizon", "4", "--seed", "0", "--run-dir", str(run),
                                  *QUICK]) == 0
        config = load_config(run)
        chosen.append((config["selection"], config["combination"], config["intervals"]))
    assert chosen[0] == chosen[1]  # the same choice, weights and interval offsets
    assert chosen[0][1]["part"] == "calibration"
    assert (run / "calibration" / "seed-0" / "checkpoints").is_dir()
    selection = chosen[0][0]
    assert len(selection["validation_mase"]) == 4  # none and first, then 2 more lookbacks
    assert selection["chosen"] == min(selection["validation_mase"],
                                      key=selection["validation_mase"].get)


def test_difference_and_lookback_given_are_not_searched(tmp_path, capsys):
    path = trend_csv(tmp_path / "s.csv")
    run = tmp_path / "run"
    assert forecast_cli.main(["--csv", str(path), "--column", "y", "--horizon", "4",
                              "--difference", "first", "--lookback", "10", "--seed", "0",
                              "--run-dir", str(run), *QUICK]) == 0
    selection = load_config(run)["selection"]
    assert list(selection["validation_mase"]) == ["first-lookback10"]
    assert (selection["difference"], selection["lookback"]) == ("first", 10)
    assert (run / "candidates" / "first-lookback10" / "seed-0" / "checkpoints").is_dir()
    assert "differencing: first, lookback 10" in capsys.readouterr().out


def test_select_seeds_sets_how_many_networks_score_each_candidate(tmp_path):
    """--select-seeds N: the first N seeds' networks score a candidate, each network's own
    score kept beside the ensemble's; one network's is its score, and the mean of several
    forecasts errs no more than its networks do on average (MAE is convex)."""
    path = trend_csv(tmp_path / "s.csv")
    selections = {}
    for n in (1, 3):
        run = tmp_path / f"run{n}"
        assert forecast_cli.main(["--csv", str(path), "--column", "y", "--horizon", "4",
                                  "--difference", "first", "--lookback", "10",
                                  "--seed", "0", "1", "2", "--select-seeds", str(n),
                                  "--run-dir", str(run), *QUICK]) == 0
        selections[n] = load_config(run)["selection"]
    one, three = (selections[n]["validation_mase_seeds"]["first-lookback10"] for n in (1, 3))
    assert len(one) == 1 and len(three) == 3
    assert one[0] == three[0]  # seed 0's network, trained the same way in both runs
    assert selections[1]["validation_mase"]["first-lookback10"] == pytest.approx(one[0])
    ensemble = selections[3]["validation_mase"]["first-lookback10"]
    assert ensemble <= np.mean(three) + 1e-12 and len(set(three)) == 3


def test_an_ensemble_of_identical_networks_is_that_network(tmp_path):
    path = trend_csv(tmp_path / "s.csv")
    settings = ForecastSettings(csv=str(path), column="y", horizon=4, difference="first",
                                lookback=10, baselines=["naive"]).resolved()
    prep = prepare(settings)
    torch.manual_seed(0)
    net = Forecaster(4, 8).eval()
    one = run_backtest(prep, prep, settings, {0: net}, {0: net}, 1.0)
    twins = {0: net, 1: copy.deepcopy(net)}
    two = run_backtest(prep, prep, settings, twins, twins, 1.0)
    np.testing.assert_array_equal(two.backtest.forecasts["lstm"], one.backtest.forecasts["lstm"])
    np.testing.assert_array_equal(two.backtest.forecasts[DEFAULT],
                                  one.backtest.forecasts[DEFAULT])
    assert one.combination.weights == {"network": 1.0}  # no ETS or ARIMA asked for
    assert one.combination.part == "validation"  # no calibration part given


def test_coverage_and_pinball_on_hand_computed_cases():
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])
    lower, upper = np.array([[0.0, 2.5], [3.0, 0.0]]), np.array([[2.0, 3.0], [3.0, 3.9]])
    assert coverage(actual, lower, upper) == 0.5  # 1 in [0, 2], 3 in [3, 3]; 2 and 4 out
    # pinball at q = 0.9: under-forecasts cost 0.9 a unit, over-forecasts 0.1
    assert pinball(np.array([2.0, 0.0]), np.array([1.0, 1.0]), 0.9) == pytest.approx(0.5)
    scores = interval_scores(actual, {0.8: (lower, upper)}, scale=2.0)
    assert scores["coverage_80"] == 0.5
    expected = (pinball(actual, lower, 0.1) + pinball(actual, upper, 0.9)) / 2 / 2.0
    assert scores["pinball"] == pytest.approx(expected)


def test_conformal_intervals_cover_as_promised_on_known_errors():
    # 19 validation errors 1..19 at one step: with the finite-sample rank the 80% interval
    # runs from the 2nd to the 18th smallest (floor(20 x 0.1), ceil(20 x 0.9))
    errors = np.arange(1.0, 20.0)[:, None]
    c = Conformal.fit(errors, np.zeros_like(errors), (0.8,))
    lo, hi = c.bounds(np.zeros(1), 0.8)
    assert (lo[0], hi[0]) == (2.0, 18.0)
    # Gaussian errors: the intervals from 2,000 validation errors cover fresh ones at about
    # their level
    rng = np.random.default_rng(0)
    c = Conformal.fit(rng.normal(0, 1, (2000, 3)), np.zeros((2000, 3)))
    fresh = rng.normal(0, 1, (20_000, 3))
    for level in (0.8, 0.95):
        lo, hi = c.bounds(np.zeros((20_000, 3)), level)
        assert coverage(fresh, lo, hi) == pytest.approx(level, abs=0.015)
    assert Conformal.from_dict(c.to_dict()) == c


def test_too_few_errors_for_a_level_give_the_student_t_interval_not_a_capped_one():
    # 5 errors at each of 2 steps: conformal ranks need 9 (80%) and 39 (95%); both levels fall
    # back to mean -/+ t(4) * sd * sqrt(1 + 1/5), or the errors' range where that is wider
    errors = np.array([[0.0, -2.0], [0.0, 0.0], [0.0, 1.0], [0.0, 3.0], [10.0, 5.0]])
    c = Conformal.fit(errors, np.zeros_like(errors))
    assert c.errors == 5 and c.rule == {0.8: STUDENT_T, 0.95: STUDENT_T}
    for level, t in ((0.8, 1.5332062740589), (0.95, 2.7764451051977)):  # t(4) quantiles
        lo, hi = c.bounds(np.zeros(2), level)
        half = t * errors.std(axis=0, ddof=1) * np.sqrt(1.2)
        np.testing.assert_allclose(lo, np.minimum(errors.mean(axis=0) - half, errors.min(0)))
        np.testing.assert_allclose(hi, np.maximum(errors.mean(axis=0) + half, errors.max(0)))
    # one large error at step 1: at 80% its range is wider (mean 2, half-width 7.51: 9.51 <
    # 10), at 95% the t interval is
    assert c.bounds(np.zeros(2), 0.8)[1][0] == 10.0
    assert (c.bounds(np.zeros(2), 0.95)[1] > errors.max(axis=0)).all()
    assert (c.bounds(np.zeros(2), 0.95)[1] > c.bounds(np.zeros(2), 0.8)[1]).all()
    # 19 errors: enough for 80% (conformal), not for 95% (Student-t), which holds the 80%
    mixed = Conformal.fit(np.arange(1.0, 20.0)[:, None], np.zeros((19, 1)))
    assert mixed.rule == {0.8: CONFORMAL, 0.95: STUDENT_T}
    assert mixed.bounds(np.zeros(1), 0.95)[1][0] >= mixed.bounds(np.zeros(1), 0.8)[1][0] == 18.0
    # one error has no spread: unbounded, said so
    one = Conformal.fit(np.ones((1, 3)), np.zeros((1, 3)))
    assert one.rule == {0.8: UNBOUNDED, 0.95: UNBOUNDED}
    assert np.isinf(one.bounds(np.zeros(3), 0.8)[1]).all()
    assert Conformal.from_dict(c.to_dict()) == c
    old = {"quantiles": {"0.1": [-1.0], "0.9": [1.0]}, "errors": 30}  # a run before the rule
    assert Conformal.from_dict(old).rule == {}


def test_the_student_t_interval_covers_as_promised_on_normal_errors():
    # Known answer: for normal errors the t interval from n = 5 of them holds a sixth with
    # probability exactly the level; widened to the errors' range where that is wider, at least
    # the level, and at 95% no wider (Samuelson: the range lies within 1.79 sd of the mean, the
    # t interval's half-width is 3.04 sd). The capped conformal interval: 4/6 at both levels.
    rng = np.random.default_rng(1)
    inside = {0.8: 0, 0.95: 0}
    trials = 4000
    for _ in range(trials):
        sample = rng.normal(3.0, 2.0, (6, 1))
        c = Conformal.fit(sample[:5], np.zeros((5, 1)))
        for level in inside:
            lo, hi = c.bounds(np.zeros(1), level)
            inside[level] += int(lo[0] <= sample[5, 0] <= hi[0])
    assert inside[0.95] / trials == pytest.approx(0.95, abs=0.012)
    assert 0.79 <= inside[0.8] / trials <= 0.85


def test_the_default_weights_members_by_their_inverse_mse():
    actual = np.zeros((5, 2))
    forecasts = {"network": np.full((5, 2), 1.0), "ets": np.full((5, 2), -2.0),
                 "arima": np.full((5, 2), 4.0)}
    mix = inverse_mse_weights(forecasts, actual, scale=2.0, part="calibration")
    # MSE 1, 4, 16: weights 16/21, 4/21, 1/21
    assert mix.weights == pytest.approx({"network": 16 / 21, "ets": 4 / 21, "arima": 1 / 21})
    assert mix.mse == {"network": 1.0, "ets": 4.0, "arima": 16.0}
    assert mix.mase == pytest.approx(abs(16 - 8 + 4) / 21 / 2.0)
    assert (mix.part, mix.origins) == ("calibration", 5)
    assert Combination.from_dict(mix.to_dict()) == mix
    exact = inverse_mse_weights({**forecasts, "arima": actual}, actual, scale=1.0)
    assert exact.weights == {"arima": 1.0}  # an exact member takes all the weight


def test_the_calibration_part_is_before_the_validation_part_and_nothing_saw_it(tmp_path):
    """The combination's weights come from the stretch before the validation part, as long as
    it, forecast by members fitted on the points before it (and too short a series has none)."""
    path = trend_csv(tmp_path / "s.csv")
    settings = ForecastSettings(csv=str(path), column="y", horizon=4, difference="first",
                                lookback=10).resolved()
    prep = prepare(settings)
    calib = calibration_prepared(prep)
    assert calib is not None
    sp, cs = prep.split, calib.split
    assert cs.test_start == sp.val_start
    assert cs.test_start - cs.val_start == sp.test_start - sp.val_start
    assert cs.train_origins().max() + settings.horizon < cs.val_start  # targets before it
    torch.manual_seed(0)
    held = Calibration("calibration", calib, {0: Forecaster(4, 8).eval()}, calib.scale)
    before = held.forecasts(["ets", "arima"])

    # everything from the calibration part on replaced by noise: the first calibration origin
    # (which sees only the points before the part) is forecast exactly as before
    y = pd.read_csv(path)["y"].to_numpy().copy()
    y[cs.val_start:] = np.random.default_rng(3).normal(40, 9, len(y) - cs.val_start)
    noisy = tmp_path / "noisy.csv"
    pd.DataFrame({"t": np.arange(len(y)), "y": y}).to_csv(noisy, index=False)
    other = calibration_prepared(prepare(settings.replace(csv=str(noisy))))
    assert other is not None and other.transform == calib.transform
    after = Calibration("calibration", other, held.models, other.scale).forecasts(
        ["ets", "arima"])
    for member in ("network", "ets", "arima"):
        np.testing.assert_allclose(after[member][0], before[member][0], rtol=1e-9)
        assert not np.allclose(after[member][-1], before[member][-1])  # later ones see noise

    short = trend_csv(tmp_path / "short.csv", n=30)
    tight = settings.replace(csv=str(short), lookback=14)
    assert calibration_prepared(prepare(tight)) is None


def test_the_mix_interval_ends_are_the_weighted_mean_of_the_members_ends():
    lo_a, hi_a = np.array([[0.0, -1.0]]), np.array([[2.0, 3.0]])
    lo_b, hi_b = np.array([[4.0, 1.0]]), np.array([[8.0, 5.0]])
    members = {"network": {0.8: (lo_a, hi_a)}, "ets": {0.8: (lo_b, hi_b)}}
    mix = quantile_average(members, {"network": 0.25, "ets": 0.75})
    np.testing.assert_allclose(mix[0.8][0], [[3.0, 0.5]])  # 0.25 * 0 + 0.75 * 4, ...
    np.testing.assert_allclose(mix[0.8][1], [[6.5, 4.5]])
    alone = quantile_average(members, {"network": 1.0})  # one member: its own interval
    np.testing.assert_array_equal(alone[0.8][0], lo_a)
    unbounded = {"network": {0.8: (np.full((1, 2), -np.inf), np.full((1, 2), np.inf))},
                 "ets": {0.8: (lo_b, hi_b)}}
    assert np.isinf(quantile_average(unbounded, {"network": 0.5, "ets": 0.5})[0.8][1]).all()
