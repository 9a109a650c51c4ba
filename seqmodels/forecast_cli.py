"""``forecast``: train recurrent forecasters, backtest them against classical baselines, predict.

    forecast --dataset sunspots --cell lstm --horizon 10 [flags]       a new run (forecast -h)
    forecast --dataset co2 --resample MS --difference first --horizon 12 --seed 0 1 2
    forecast --csv FILE --column NAME [--time-column NAME] [flags]    your own series
    forecast --resume RUN_DIR [--epochs E]                            finish an interrupted run
    forecast predict RUN_DIR [--dataset NAME | --csv FILE --column NAME] [--out FILE]

A run ends with one table -- the network (mean over seeds) against naive, seasonal naive,
drift, ETS and ARIMA on the same rolling origins of the test part -- also written to
``RUN_DIR/backtest.csv``, with ``forecast.png``. Any problem the user can fix is one line on
stderr and exit code 2, never a traceback; a non-finite loss exits 1; Ctrl-C saves and exits 130.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pucklab.runs import RunError
from pucklab.runs.cli import Parser, guarded
from pucklab.seqmodels import forecast_report, forecasting
from pucklab.seqmodels.forecast import BASELINES
from pucklab.seqmodels.series import DIFFERENCES, MISSING, stamp
from pucklab.seqmodels.trainer import (
    BUDGET,
    OPTIMIZERS,
    SCHEDULES,
    TRAIN_FIELDS,
    resume_flags,
)

PROG = "forecast"


def train_parser() -> Parser:
    d, t = forecasting.ForecastArgs(), forecasting._default_train()
    p = Parser(prog=PROG, argument_default=argparse.SUPPRESS,
               description="Train a recurrent forecaster and backtest it against naive, seasonal "
               "naive, drift, ETS and ARIMA on the same rolling origins.")
    add = p.add_argument
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="a statsmodels data set: sunspots, co2, nile, ... "
                   "(default: sunspots when no --csv)")
    g.add_argument("--csv", metavar="FILE", help="your own series, one row per time")
    g.add_argument("--column", help="the column to forecast (default: the only numeric one)")
    g.add_argument("--time-column", help="the column of dates or numbers that orders the rows")
    g.add_argument("--missing", choices=MISSING, help="missing values: fill interior gaps "
                   f"linearly (dropping leading/trailing ones) or stop (default: {d.missing})")
    g.add_argument("--resample", metavar="FREQ", help="average onto a pandas frequency first, "
                   "e.g. MS for monthly (needs dates)")
    g.add_argument("--season", type=int, help="seasonal period (default: from the frequency, "
                   "12 for monthly, 1 when unknown)")
    g.add_argument("--difference", choices=DIFFERENCES, help="model differences instead of "
                   "levels so trends extrapolate: first, seasonal, both (default: none)")
    g.add_argument("--horizon", type=int, help=f"steps to forecast (default: {d.horizon})")
    g.add_argument("--lookback", type=int, help="input window (default: max(3 x horizon, "
                   "2 x season))")
    g.add_argument("--val-frac", type=float, help=f"validation part (default: {d.val_frac})")
    g.add_argument("--test-frac", type=float, help=f"test part, backtested (default: {d.test_frac})")
    g.add_argument("--origin-step", type=int, help="steps between backtest origins (default: 1)")
    m = p.add_argument_group("model")
    m.add_argument("--cell", choices=("rnn", "lstm", "gru"), help=f"(default: {d.cell})")
    m.add_argument("--impl", choices=("fused", "explicit"), help=f"(default: {d.impl})")
    m.add_argument("--strategy", choices=("direct", "recursive"), help="emit all H steps at once, "
                   f"or one step fed back H times (default: {d.strategy})")
    m.add_argument("--hidden", type=int, help=f"(default: {d.hidden})")
    m.add_argument("--layers", type=int, help=f"(default: {d.layers})")
    m.add_argument("--dropout", type=float, help=f"(default: {d.dropout})")
    m.add_argument("--batch-size", type=int, help=f"(default: {d.batch_size})")
    r = p.add_argument_group("training and evaluation")
    r.add_argument("--seed", dest="seeds", type=int, nargs="+", metavar="SEED",
                   help="one network per seed; the table reports their mean (default: 0)")
    r.add_argument("--baselines", nargs="+", choices=BASELINES, metavar="NAME",
                   help=f"which baselines to run (default: all: {' '.join(BASELINES)})")
    r.add_argument("--optimizer", choices=OPTIMIZERS, help=f"(default: {t.optimizer})")
    r.add_argument("--lr", type=float, help=f"(default: {t.lr})")
    r.add_argument("--weight-decay", type=float, help=f"(default: {t.weight_decay})")
    r.add_argument("--schedule", choices=SCHEDULES, help=f"(default: {t.schedule})")
    r.add_argument("--clip", type=float, help=f"max gradient norm, 0 = off (default: {t.clip})")
    r.add_argument("--epochs", type=float, help=f"(default: {t.epochs:g})")
    r.add_argument("--max-steps", type=int, help="budget in optimiser steps")
    r.add_argument("--minutes", type=float, help="budget in minutes, per seed")
    r.add_argument("--patience", type=int, help="early stopping after this many epochs without "
                   f"a better validation loss, 0 = off (default: {t.patience})")
    r.add_argument("--device", choices=("auto", "cpu", "cuda"), help=f"(default: {t.device})")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, help="progress bars")
    add("--run-dir", help="where to write the run (default: runs/forecast-<data>-<cell>__<time>)")
    add("--resume", metavar="RUN_DIR", help="finish an interrupted run")
    return p


def predict_parser() -> Parser:
    p = Parser(prog=f"{PROG} predict", description="Forecast the next H steps after the end of a "
               "series with a trained run (the mean of its seeds).")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--dataset", help="a statsmodels data set (default: the run's own data)")
    p.add_argument("--csv", metavar="FILE", help="a CSV holding the recent history")
    p.add_argument("--column", help="column to read (default: the run's)")
    p.add_argument("--time-column")
    p.add_argument("--out", metavar="FILE", help="also write time,forecast to this CSV")
    return p


def run_train(argv: list[str]) -> int:
    given: dict[str, Any] = vars(train_parser().parse_args(argv))
    run_dir = given.pop("run_dir", None)
    if "resume" in given:
        resume_dir = given.pop("resume")
        budget, extra = resume_flags(resume_dir, forecasting.saved_args(resume_dir), given)
        result = forecasting.resume(resume_dir, budget, **extra)
    else:
        train_kw = {k: given.pop(k) for k in list(given) if k in TRAIN_FIELDS}
        cfg = forecasting._default_train()
        if any(k in train_kw for k in BUDGET):
            cfg.epochs = None  # a budget given replaces the default one
        for key, value in train_kw.items():
            setattr(cfg, key, value)
        args = forecasting.ForecastArgs(**given, train=cfg)
        result = forecasting.train(args, run_dir)
    return report(result)


def report(result: forecasting.ForecastResult) -> int:
    """Print how training ended and the backtest table; the exit code."""
    if result.stopped != "done":
        if result.stopped.startswith("non-finite"):
            print(f"{PROG}: {result.stopped}", file=sys.stderr)
            return 1
        print(f"{PROG}: interrupted; finish it with: {PROG} --resume {result.run_dir}",
              file=sys.stderr)
        return 130
    config = forecasting.load_config(result.run_dir)
    s, sp = config["series"], config["split"]
    bt = result.backtest
    assert bt is not None
    print(f"series: {s['name']}, {s['points']} points ({s['start']} .. {s['end']}), season "
          f"{s['season']}, lookback {s['lookback']}"
          + (f"; {s['interpolated']} missing values interpolated" if s["interpolated"] else "")
          + (f"; {s['dropped']} leading/trailing missing dropped" if s["dropped"] else ""))
    for seed, fit in result.fits.items():
        print(f"seed {seed}: {fit.steps} steps, {fit.epochs:.0f} epochs, {fit.wall_time_s:.1f} s, "
              f"best val loss {fit.best_val_loss:.4f} ({fit.stopped})")
    print(f"backtest: {len(bt.origins)} origins x {bt.actual.shape[1]} steps over the last "
          f"{sp['n'] - sp['test_start']} points; MASE scale {bt.scale:.4g} (in-sample "
          f"seasonal-naive MAE, m={s['season']})")
    print(forecast_report.format_table(result.table, len(result.fits)))
    print(f"run: {result.run_dir}  (backtest.csv, forecasts.csv, forecast.png)")
    return 0


def run_predict(argv: list[str]) -> int:
    ns = predict_parser().parse_args(argv)
    if ns.dataset is not None and ns.csv is not None:
        raise RunError("give at most one of --dataset or --csv")
    times, mean, _ = forecasting.predict(ns.run_dir, ns.dataset, ns.csv, ns.column, ns.time_column)
    lines = ["time,forecast", *(f"{stamp(t)},{v:.6g}" for t, v in zip(times, mean, strict=True))]
    text = "\n".join(lines) + "\n"
    if ns.out:
        from pathlib import Path

        from pucklab.runs import atomic_write

        if Path(ns.out).is_dir():
            raise RunError(f"--out {ns.out} is a folder; give a file name")
        atomic_write(ns.out, lambda f: f.write(text.encode()))
    sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "predict":
        return guarded(PROG, lambda: run_predict(argv[1:]))
    return guarded(PROG, lambda: run_train(argv[1:] if argv and argv[0] == "train" else argv))

if __name__ == "__main__":
    sys.exit(main())
