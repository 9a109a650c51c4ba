"""``forecast``'s plain command on series that shaped none of its rules: the held-out check.

``benchmarks/forecast_many.py`` is the benchmark the forecast defaults were judged on, so its 15
series have been looked at many times. These 15 never were: the other quarterly columns of
statsmodels' ``macrodata`` (consumption, government spending, income, money, rates, inflation,
population), its ``interest_inflation`` (German inflation and interest rate) and its
``danish_data`` (Danish money, income, prices and two interest rates; 55 quarters, so horizon
4). They were picked before any of them was run, for being the other quarterly series that ship
offline; the table is what the plain command gives on them, whatever it is.

Per series, as in ``forecast_many.py`` and from the same code: the test MASE of the default
forecaster (the first row of ``backtest.csv``), the network ensemble, the fixed combination,
seasonal naive, ETS and ARIMA, what the validation part chose, the default's 80% / 95% interval
coverage (and, recomputed from the same run, under the mix-conformal rule it replaced), how many
calibration errors set the intervals, and the wall time; then each row's mean rank and how
often the default beats each baseline.

    python benchmarks/forecast_unseen.py --out benchmarks/results   # about 6 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_many import (  # noqa: E402
    ROWS,
    _frame,
    _statsmodels,
    cover,
    forecast,
    macro,
    ranks,
    recomputed,
)

from pucklab.runs.provenance import publish  # noqa: E402


def interest_inflation(column: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        d = _statsmodels("interest_inflation")
        times = pd.PeriodIndex.from_fields(year=d["year"].astype(int),
                                           quarter=d["quarter"].astype(int), freq="Q")
        return _frame(d[column].to_numpy(), times.to_timestamp().strftime("%Y-%m-%d"))
    return load


def danish(column: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        d = _statsmodels("danish_data")
        return _frame(d[column].to_numpy(), pd.DatetimeIndex(d.index).strftime("%Y-%m-%d"))
    return load


#: name -> (what it is, loader, horizon)
UNSEEN: dict[str, tuple[str, Callable[[], pd.DataFrame], int]] = {
    **{f"macro {c}": (what, macro(c), 8) for c, what in (
        ("realcons", "US real consumption"), ("realgovt", "US real government spending"),
        ("realdpi", "US real disposable income"), ("m1", "US money stock M1"),
        ("tbilrate", "US 3-month T-bill rate"), ("infl", "US inflation"),
        ("realint", "US real interest rate"), ("pop", "US population"))},
    "german Dp": ("German inflation", interest_inflation("Dp"), 8),
    "german R": ("German interest rate", interest_inflation("R"), 8),
    **{f"danish {c}": (what, danish(c), 4) for c, what in (
        ("lrm", "log real money"), ("lry", "log real income"), ("lpy", "log prices"),
        ("ibo", "bond rate"), ("ide", "deposit rate"))},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", nargs="+", choices=tuple(UNSEEN), default=list(UNSEEN))
    p.add_argument("--out", help="write forecast_unseen.md (stamped) into this folder")
    ns = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="forecast-unseen-"))
    lines = ["| series | what | points | H | chosen | default | lstm | combination | "
             "seasonal naive | ETS | ARIMA | n | cover 80/95 | mix conformal | s |", "|" + "---|" * 15]
    print("\n".join(lines), flush=True)
    all_ranks, beats = [], {"seasonal_naive": 0, "ets": 0, "arima": 0}
    covers: dict[str, list[list[float]]] = {"default": [], "mixed": []}
    pinballs: dict[str, list[float]] = {"default": [], "mixed": []}
    for name in ns.series:
        what, loader, horizon = UNSEEN[name]
        slug = name.replace(" ", "-")
        loader().to_csv(work / f"{slug}.csv", index=False)
        argv = ["--csv", f"{slug}.csv", "--column", "y", "--time-column", "time",
                "--horizon", str(horizon)]
        try:
            table, config, wall = forecast(argv, work, work / f"run-{slug}")
        except SystemExit as failed:  # a row that says so: the plain command failed here
            reason = str(failed).splitlines()[-1]
            lines.append(f"| {name} | {what} | - | {horizon} | failed: {reason} |"
                         + " - |" * 10)
            print(lines[-1], flush=True)
            continue
        mase = {r: table[r]["mase"] for r in ROWS}
        all_ranks.append(ranks(mase))
        for ref in beats:
            beats[ref] += mase["default"] < mase[ref]
        again = recomputed(work / f"run-{slug}", mase["default"])
        for rule, row in (("default", table["default"]), ("mixed", again["mixed"])):
            covers[rule].append([row["coverage_80"], row["coverage_95"]])
            pinballs[rule].append(row["pinball"])
        sel = config["selection"]
        line = (f"| {name} | {what} | {config['series']['points']} | {horizon} | "
                f"{sel['difference']}, L={sel['lookback']} | **{mase['default']:.3f}** | "
                + " | ".join(f"{mase[r]:.3f}" for r in ROWS[1:])
                + f" | {again['errors']['n']:.0f} | {cover(table['default'])} | "
                f"{cover(again['mixed'])} | {wall:.0f} |")
        lines.append(line)
        print(line, flush=True)
    n = len(ns.series)  # a failed series counts as beaten by every baseline
    mean_rank = {r: float(np.mean([rk[r] for rk in all_ranks])) for r in ROWS}
    summary = [
        f"Mean rank by MASE over the {len(all_ranks)} series that ran (1 = best of these 6 "
        "rows): " + ", ".join(
            f"{r} {v:.2f}" for r, v in sorted(mean_rank.items(), key=lambda kv: kv[1])) + ".",
        "",
        f"The default forecaster beats seasonal naive on {beats['seasonal_naive']}/{n}, ETS on "
        f"{beats['ets']}/{n} and ARIMA on {beats['arima']}/{n} of these series (the "
        "benchmark's targets: every one, two thirds, two thirds, and the best mean rank).",
        "",
        "Intervals (the default's ends: the weighted mean of its members' ends, the network's "
        "conformal from *n* calibration errors per step, ETS's and ARIMA's their own): mean "
        "coverage of the 80% / 95% intervals {:.2f} / {:.2f}, mean pinball {:.3f}; with "
        "conformal intervals from the mix's own calibration errors instead (column *mix "
        "conformal*, the rule before, recomputed from the same runs) {:.2f} / {:.2f}, pinball "
        "{:.3f}.".format(*np.mean(covers["default"], axis=0), np.mean(pinballs["default"]),
                         *np.mean(covers["mixed"], axis=0), np.mean(pinballs["mixed"])),
    ]
    text = "\n".join([
        "# forecast on series it was never tuned or judged on: the plain command", "",
        "Each row: `forecast --csv FILE --column y --time-column time --horizon H`, nothing "
        "else (the defaults of `benchmarks/forecast_many.py`'s table). Test MASE (lower is "
        "better; 1.0 = the in-sample one-step seasonal-naive error), the default's interval "
        "coverage of the test values (nominal 0.80 / 0.95), wall time of the command on this "
        "machine (the recomputation of *mix conformal* not included).", "", *lines, "", *summary, ""])
    print("\n" + "\n".join(summary))
    if ns.out:
        out = Path(ns.out) / "forecast_unseen.md"
        publish(out, text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
