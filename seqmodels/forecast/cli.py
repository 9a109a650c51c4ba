"""``forecast``: train recurrent forecasters, backtest them against classical baselines, predict.

    forecast --dataset sunspots --cell lstm --horizon 10 [flags]       a new run (forecast -h)
    forecast --dataset co2 --resample MS --difference first --horizon 12 --seed 0 1 2
    forecast --csv FILE --column NAME [--time-column NAME] [flags]    your own series
    forecast --resume RUN_DIR [--epochs E]                            finish an interrupted run
    forecast --print-config [flags]                                   the resolved settings as TOML
    forecast predict RUN_DIR [--dataset NAME | --csv FILE --column NAME] [--out FILE]

A run chooses its differencing and lookback on the validation part, the combination's weights
on the calibration part before it (where no choice was made), then ends
with one table -- the default forecaster (first), the network ensemble, the combination,
naive, seasonal naive, drift, ETS and ARIMA on the same rolling origins of the test part, with
interval coverage -- also written to ``RUN_DIR/backtest.csv``, with ``forecast.png``. Any
problem the user can fix is one line on stderr and exit code 2, never a traceback; a non-finite
loss exits 1; Ctrl-C saves and exits 130.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from pucklab.runs.cli import dispatch, parse_run_args, parse_settings, print_config
from pucklab.runs.device import DEVICES
from pucklab.runs.result import RunResult, Stop
from pucklab.runs.settings import Settings, setting
from pucklab.runs.store import RunError, atomic_write, load_config
from pucklab.seqmodels.forecast.combine import Combination, Conformal
from pucklab.seqmodels.forecast.predict import predict
from pucklab.seqmodels.forecast.report import format_table
from pucklab.seqmodels.forecast.runner import COMMAND, check, run
from pucklab.seqmodels.forecast.series import stamp
from pucklab.seqmodels.forecast.settings import ForecastSettings

PROG = COMMAND
DESCRIPTION = ("Train a recurrent forecaster and backtest it against naive, seasonal naive, "
               "drift, ETS and ARIMA on the same rolling origins.")


@dataclass
class PredictSettings(Settings):
    """``forecast predict``: the next H steps after the end of a series, from a trained run."""

    run_dir: str = setting(help="a folder forecast wrote", positional=True, metavar="RUN_DIR")
    dataset: str | None = setting(None, "a statsmodels data set (default: the run's own data)")
    csv: str | None = setting(None, "a CSV holding the recent history", metavar="FILE")
    column: str | None = setting(None, "column to read (default: the run's)")
    time_column: str | None = setting(None, "column of times (default: the run's)")
    out: str | None = setting(None, "also write time,forecast to this CSV", metavar="FILE")
    device: str = setting("cpu", "where the networks run", choices=DEVICES)

    def check(self) -> None:
        if self.dataset is not None and self.csv is not None:
            raise RunError("give at most one of --dataset or --csv")


def run_train(argv: list[str]) -> int:
    args = parse_run_args(ForecastSettings, argv, PROG, COMMAND, DESCRIPTION)
    if args.print_config:
        return print_config(args, PROG, check)
    return report(run(args.settings, args.run_dir, resume=args.resume))


def report(result: RunResult) -> int:
    """Print what was chosen, how training ended and the backtest table; the exit code."""
    if result.stopped is Stop.NON_FINITE:
        print(f"{PROG}: {result.message}", file=sys.stderr)
        return 1
    config = load_config(result.run_dir)
    s, sp = config["series"], config["split"]
    fits, bt = result.details.fits, result.details.backtest
    print(f"series: {s['name']}, {s['points']} points ({s['start']} .. {s['end']}), season "
          f"{s['season']}"
          + (f"; {s['interpolated']} missing values interpolated" if s["interpolated"] else "")
          + (f"; {s['dropped']} leading/trailing missing dropped" if s["dropped"] else ""))
    sel = config["selection"]
    scores = sel["validation_mase"]
    if len(scores) > 1:
        print("chosen on the validation part (MASE of each candidate's first "
              f"{len(sel['seeds'])} networks): " + ", ".join(
                  f"{k} {v:.4f}" + (" <-" if k == sel["chosen"] else "")
                  for k, v in scores.items()))
        print(f"  (the unit-root and seasonal-strength tests suggested {sel['tests']['chosen']}: "
              f"{sel['tests']['why']})")
    print(f"differencing: {sel['difference']}, lookback {sel['lookback']}")
    comb = Combination.from_dict(config["combination"])
    cell = str(config["settings"]["cell"])
    print(f"default forecaster: {comb.describe(cell)} (weights: 1 / MSE on the {comb.part} part, "
          f"{comb.origins} origins; its MASE there {comb.mase:.4f})")
    final = result.details.final
    for seed, fit in fits.items():
        again = final.get(seed)
        print(f"seed {seed}: early-stopped on validation after {fit.epochs:.0f} epochs "
              f"({fit.wall_time_s:.1f} s, best val loss {fit.best_val_loss:.4f})"
              + (f"; final fit on train + validation: {again.epochs:.0f} epochs "
                 f"({again.wall_time_s:.1f} s)" if again else ""))
    print(f"backtest: {len(bt.origins)} origins x {bt.actual.shape[1]} steps over the last "
          f"{sp['n'] - sp['test_start']} points; MASE scale {bt.scale:.4g} (in-sample "
          f"seasonal-naive MAE, m={s['season']}); intervals: the network's conformal from "
          f"{config['intervals']['errors']} {comb.part} origins "
          f"({Conformal.from_dict(config['intervals']).describe()}), statsmodels' own for ets "
          "and arima, default and combination averaging their members' ends")
    print(format_table(result.table, len(fits)))
    print(f"run: {result.run_dir}  (backtest.csv, forecasts.csv, forecast.png)")
    return 0


def run_predict(argv: list[str]) -> int:
    ns = parse_settings(PredictSettings, argv, f"{PROG} predict", "Forecast the next H steps "
                        "after the end of a series with a trained run's default forecaster, "
                        "with 80% and 95% intervals.")
    p = predict(ns.run_dir, ns.dataset, ns.csv, ns.column, ns.time_column, ns.device)
    ends = [(lv, k) for lv in sorted(p.bounds) for k in (0, 1)]
    header = ["time", "forecast", *(f"{'lower' if k == 0 else 'upper'}_{round(lv * 100)}"
                                    for lv, k in ends)]
    lines = [",".join(header), *(
        ",".join([stamp(t), f"{p.forecast[h]:.6g}",
                  *(f"{p.bounds[lv][k][h]:.6g}" for lv, k in ends)])
        for h, t in enumerate(p.times))]
    text = "\n".join(lines) + "\n"
    if ns.out:
        if Path(ns.out).is_dir():
            raise RunError(f"--out {ns.out} is a folder; give a file name")
        atomic_write(ns.out, lambda f: f.write(text.encode()))
    sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return dispatch(PROG, argv, {"train": run_train, "predict": run_predict}, default=run_train)


if __name__ == "__main__":
    sys.exit(main())
