"""``forecast`` end to end on small series the tests make: a network learns a sine far better
than naive, runs are reproducible and resumable, predict works, bad input is one line."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pucklab.runs.store import load_checkpoint, load_config, save_checkpoint
from pucklab.seqmodels.forecast import cli as forecast_cli
from pucklab.seqmodels.forecast import runner as forecasting
from pucklab.seqmodels.forecast.model import Forecaster
from pucklab.seqmodels.forecast.task import WindowTask

QUICK = ["--hidden", "24", "--batch-size", "16", "--no-progress", "--baselines", "naive",
         "seasonal_naive", "drift"]


def sine_csv(path: Path, n: int = 240, period: int = 20, noise: float = 0.0) -> Path:
    t = np.arange(n)
    y = 10 + 3 * np.sin(2 * np.pi * t / period)
    y += np.random.default_rng(0).normal(0, noise, n) if noise else 0
    pd.DataFrame({"t": t, "y": y}).to_csv(path, index=False)
    return path


def read_table(run_dir: Path) -> dict[str, dict[str, float]]:
    with open(run_dir / "backtest.csv") as f:
        return {row["model"]: {k: float(v) for k, v in row.items() if k != "model" and v}
                for row in csv.DictReader(f)}


def networks(run_dir: Path) -> Path:
    """The folder of the run's final networks: the candidate the validation part chose."""
    return run_dir / "candidates" / load_config(run_dir)["selection"]["chosen"]


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sine")
    path = sine_csv(tmp / "sine.csv")
    run_dir = tmp / "run"
    code = forecast_cli.main(["--csv", str(path), "--column", "y", "--time-column", "t",
                              "--horizon", "8", "--lookback", "24", "--seed", "0",
                              "--epochs", "80", "--lr", "3e-3", "--run-dir", str(run_dir),
                              *QUICK])
    return code, run_dir, path


def test_network_fits_a_noiseless_sine_far_better_than_naive(sine_run, capsys):
    code, run_dir, _ = sine_run
    assert code == 0
    table = read_table(run_dir)
    assert list(table) == ["default", "lstm", "combination", "naive", "seasonal_naive",
                           "drift"]
    assert set(table["default"]) == {"mae", "rmse", "smape", "mase", "coverage_80",
                                     "coverage_95", "pinball"}
    assert set(table["naive"]) == {"mae", "rmse", "smape", "mase"}  # no intervals
    assert table["lstm"]["mase"] < 0.1 * table["naive"]["mase"]
    assert table["default"] == table["lstm"]  # no ETS or ARIMA to mix in: the network alone
    assert table["seasonal_naive"] == table["naive"]  # numbered rows: no season, m = 1
    for name in ("forecast.png", "forecasts.csv", "backtest_seeds.csv", "config.json"):
        assert (run_dir / name).is_file(), name
    for name in ("checkpoints/best.pt", "metrics.csv", "loss_curve.png"):
        assert (networks(run_dir) / "seed-0" / name).is_file(), name


def test_scaler_is_stored_with_the_model_and_fitted_on_train_only(sine_run):
    _, run_dir, _ = sine_run
    config = load_config(run_dir)
    ckpt = load_checkpoint(networks(run_dir) / "seed-0", "best.pt")
    assert ckpt["task"]["transform"] == config["transform"]
    y = pd.read_csv(run_dir.parent / "sine.csv")["y"].to_numpy()
    train = y[:config["split"]["val_start"]]
    for lag in config["transform"]["lags"]:  # whatever differencing was chosen, by hand
        train = train[lag:] - train[:-lag]
    assert config["transform"]["mean"] == pytest.approx(train.mean())
    assert config["transform"]["std"] == pytest.approx(train.std())


def test_predict_continues_the_series(sine_run, tmp_path, capsys):
    _, run_dir, path = sine_run
    capsys.readouterr()
    out = tmp_path / "next.csv"
    assert forecast_cli.main(["predict", str(run_dir), "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [int(float(r["time"])) for r in rows] == list(range(240, 248))
    truth = 10 + 3 * np.sin(2 * np.pi * np.arange(240, 248) / 20)
    np.testing.assert_allclose([float(r["forecast"]) for r in rows], truth, atol=0.6)
    assert capsys.readouterr().out.startswith(
        "time,forecast,lower_80,upper_80,lower_95,upper_95\n")
    for r in rows:  # the 95% interval holds the 80% one
        values = [float(r[k]) for k in ("lower_95", "lower_80", "upper_80", "upper_95")]
        assert values == sorted(values) and values[0] < values[-1]
    # another history of the same series: forecast after its end
    other = tmp_path / "other.csv"
    frame = pd.read_csv(path).iloc[:205]
    frame.to_csv(other, index=False)
    assert forecast_cli.main(["predict", str(run_dir), "--csv", str(other)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 9 and lines[1].startswith("205,")
    truth = 10 + 3 * np.sin(2 * np.pi * 205 / 20)
    assert float(lines[1].split(",")[1]) == pytest.approx(truth, abs=0.6)


def test_same_seed_same_numbers_and_resume_equals_uninterrupted(tmp_path):
    path = sine_csv(tmp_path / "noisy.csv", n=160, noise=0.2)
    common = ["--csv", str(path), "--column", "y", "--horizon", "5", "--lookback", "12",
              "--patience", "0", "--seed", "3", "4", *QUICK]
    assert forecast_cli.main([*common, "--epochs", "6", "--run-dir", str(tmp_path / "a")]) == 0
    assert forecast_cli.main([*common, "--epochs", "6", "--run-dir", str(tmp_path / "b")]) == 0
    assert read_table(tmp_path / "a") == read_table(tmp_path / "b")
    # 3 epochs, then resumed to 6: the same numbers as 6 in one go
    assert forecast_cli.main([*common, "--epochs", "3", "--run-dir", str(tmp_path / "c")]) == 0
    assert forecast_cli.main(["--resume", str(tmp_path / "c"), "--epochs", "6",
                              "--no-progress"]) == 0
    assert read_table(tmp_path / "c") == read_table(tmp_path / "a")
    assert (networks(tmp_path / "a") / "seed-4").is_dir()


def test_recursive_strategy_and_explicit_cells(tmp_path):
    path = sine_csv(tmp_path / "s.csv", n=160)
    run = tmp_path / "rec"
    assert forecast_cli.main(["--csv", str(path), "--column", "y", "--horizon", "6",
                              "--lookback", "20", "--strategy", "recursive", "--cell", "gru",
                              "--epochs", "40", "--lr", "3e-3", "--seed", "0", "--difference",
                              "none", "--run-dir", str(run), *QUICK]) == 0
    table = read_table(run)
    assert table["gru"]["mase"] < 0.5 * table["naive"]["mase"]
    # the explicit cells give the same forecasts from the same weights
    ckpt = load_checkpoint(networks(run) / "seed-0", "best.pt")
    assert ckpt["model_args"]["linear"] == 20  # the linear part, on the lookback window
    fused = Forecaster(**ckpt["model_args"]).eval()
    explicit = Forecaster(**{**ckpt["model_args"], "impl": "explicit"}).eval()
    fused.load_state_dict(ckpt["model"])
    explicit.load_state_dict(ckpt["model"])
    x = torch.randn(4, 20)
    torch.testing.assert_close(explicit.forecast(x), fused.forecast(x), atol=1e-5, rtol=1e-5)


def bad(argv, capsys, expect, cwd=None):
    capsys.readouterr()
    code = forecast_cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert expect in err, err


def test_bad_input_is_one_line_exit_2_and_leaves_no_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = sine_csv(tmp_path / "good.csv", n=100)
    pd.DataFrame({"y": ["1", "2", "x"] * 20}).to_csv(tmp_path / "words.csv", index=False)
    pd.DataFrame({"y": [np.nan] * 60}).to_csv(tmp_path / "empty.csv", index=False)
    pd.DataFrame({"y": [4.0] * 100}).to_csv(tmp_path / "flat.csv", index=False)
    pd.DataFrame({"y": [1.0, np.nan, 3.0] * 40}).to_csv(tmp_path / "gaps.csv", index=False)
    cases = [
        (["--dataset", "nosuch"], "unknown data set 'nosuch'"),
        (["--dataset", "co2", "--column", "co3"], "--column 'co3' is not in"),
        (["--csv", "missing.csv", "--column", "y"], "no such file"),
        (["--csv", str(good), "--column", "z"], "--column 'z' is not in"),
        (["--csv", str(tmp_path / "words.csv")], "is not numeric (row 3: 'x')"),
        (["--csv", str(good), "--column", "y", "--lookback", "60", "--horizon", "20"],
         "series too short"),
        (["--csv", str(tmp_path / "empty.csv")], "all missing"),
        (["--csv", str(tmp_path / "flat.csv")], "constant before the test part"),
        (["--csv", str(good), "--column", "y", "--season", "20"], "exact repeat every 20"),
        (["--csv", str(tmp_path / "gaps.csv"), "--missing", "refuse"], "40 missing values"),
        (["--csv", str(good), "--column", "y", "--difference", "seasonal"], "needs a seasonal"),
        (["--csv", str(good), "--column", "y", "--resample", "MS"], "--resample needs time"),
        (["--csv", str(good), "--dataset", "co2"], "exactly one of"),
        (["--csv", str(good), "--column", "y", "--test-frac", "1.5"], "--test-frac must be"),
        (["--csv", str(good), "--column", "y", "--horizon", "0"], "must be >= 1"),
        (["--csv", str(good), "--column", "y", "--seed", "1", "1"], "distinct"),
        (["--csv", str(good), "--column", "y", "--cell", "tcn"], "--cell must be one of"),
        (["--resume", str(tmp_path)], "config.json"),
        (["predict", str(tmp_path / "nothing")], "nothing"),
    ]
    for argv, expect in cases:
        bad(argv, capsys, expect)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_resume_refuses_changes_and_changed_data(sine_run, tmp_path, capsys):
    _, run_dir, path = sine_run
    bad(["--resume", str(run_dir), "--hidden", "8"], capsys, "--hidden cannot change")
    bad(["predict", str(run_dir), "--csv", str(path), "--column", "y", "--dataset", "co2"],
        capsys, "at most one of")
    short = tmp_path / "short.csv"
    pd.read_csv(path).iloc[:10].to_csv(short, index=False)
    bad(["predict", str(run_dir), "--csv", str(short)], capsys, "this run needs the last")
    copy = tmp_path / "copy"  # a forecast run holding checkpoints it did not write
    shutil.copytree(run_dir, copy)
    final = copy / "final" / "seed-0"  # the network predict uses: the final fit's last.pt
    save_checkpoint(final, {"model": {}, "model_args": {"vocab_size": 3}}, command="char-rnn")
    bad(["predict", str(copy)], capsys, "is a char-rnn checkpoint; forecast needs")
    save_checkpoint(final, {"model": {}, "model_args": {"horizon": 3},
                            "task": {"transform": {}}}, command="forecast")
    bad(["predict", str(copy)], capsys, "damaged: its weights do not fit")


def test_forecasting_library_matches_the_cli_table(sine_run):
    _, run_dir, _ = sine_run
    args = forecasting.saved_settings(run_dir)
    assert args.horizon == 8 and args.seeds == [0] and args.season is None


def test_ctrl_c_saves_and_resume_finishes_the_run(tmp_path, monkeypatch, capsys):
    path = sine_csv(tmp_path / "s.csv", n=160, noise=0.1)
    run = tmp_path / "run"
    real = WindowTask.train_loss

    def interrupted(self, model, step):
        if self.seed == 1 and step == 7:
            raise KeyboardInterrupt
        return real(self, model, step)

    monkeypatch.setattr(WindowTask, "train_loss", interrupted)
    argv = ["--csv", str(path), "--column", "y", "--horizon", "5", "--lookback", "12",
            "--epochs", "4", "--seed", "0", "1", "--run-dir", str(run), *QUICK]
    assert forecast_cli.main(argv) == 130
    assert "--resume" in capsys.readouterr().err
    assert not (run / "backtest.csv").exists()
    saved = [load_checkpoint(d)["counters"]["step"] for d in run.glob("candidates/*/seed-1")]
    assert saved == [7]  # saved on Ctrl-C, in the first candidate
    monkeypatch.setattr(WindowTask, "train_loss", real)
    assert forecast_cli.main(["--resume", str(run), "--no-progress"]) == 0
    assert set(read_table(run)) == {"default", "lstm", "combination", "naive",
                                    "seasonal_naive", "drift"}
    # and the resumed run equals one that was never interrupted
    assert forecast_cli.main([*argv[:-len(QUICK) - 2], "--run-dir", str(tmp_path / "b"),
                              *QUICK]) == 0
    assert read_table(run) == read_table(tmp_path / "b")


def test_predict_repeats_the_backtests_last_origin_with_its_averaged_intervals(tmp_path, capsys):
    # With ETS and ARIMA in the mix, the default's interval ends are the weighted mean of the
    # members' ends (the network's conformal, ETS's and ARIMA's own). predict, given the series
    # up to the backtest's last origin, must give that origin's forecast and ends again: the
    # same networks, the same fixed-parameter members, the same averaging.
    path = sine_csv(tmp_path / "noisy.csv", n=200, noise=0.3)
    run_dir = tmp_path / "run"
    assert forecast_cli.main(["--csv", str(path), "--column", "y", "--time-column", "t",
                              "--horizon", "6", "--lookback", "24", "--seed", "0",
                              "--epochs", "30", "--hidden", "16", "--batch-size", "16",
                              "--no-progress", "--baselines", "ets", "arima",
                              "--run-dir", str(run_dir)]) == 0
    config = load_config(run_dir)
    assert config["intervals"]["of"] == "network" and set(config["combination"]["weights"]) == {
        "network", "ets", "arima"}
    rows = list(csv.DictReader(open(run_dir / "forecasts.csv")))
    last = [r for r in rows if r["origin"] == rows[-1]["origin"]]
    head = tmp_path / "head.csv"
    pd.read_csv(path).iloc[:int(float(last[0]["origin"])) + 1].to_csv(head, index=False)
    capsys.readouterr()
    assert forecast_cli.main(["predict", str(run_dir), "--csv", str(head)]) == 0
    again = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    ends = ("lower_80", "upper_80", "lower_95", "upper_95")
    for was, now in zip(last, again, strict=True):
        assert float(now["forecast"]) == pytest.approx(float(was["default"]), rel=1e-4)
        for end in ends:
            assert float(now[end]) == pytest.approx(float(was[f"default_{end}"]), rel=1e-4)
