"""How a forecast run reports: the summary table, the CSV files, the figure.

Kept apart from :mod:`pucklab.seqmodels.forecast.runner` (training, backtest) so the library
reads as "what is computed" and this file as "how it is shown". Everything here is a pure
function of a finished backtest.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.figures import pyplot, save_figure
from pucklab.runs.store import atomic_write
from pucklab.seqmodels.forecast import metrics as fc
from pucklab.seqmodels.forecast.backtest import DEFAULT, Outcome
from pucklab.seqmodels.forecast.combine import LEVELS, interval_scores
from pucklab.seqmodels.forecast.series import stamp
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared

INTERVAL_COLUMNS = [*(f"coverage_{round(lv * 100)}" for lv in LEVELS), "pinball"]
COLUMNS = [*fc.METRICS, "mase_seeds_mean", "mase_std", *INTERVAL_COLUMNS]


def summary_table(args: ForecastSettings, outcome: Outcome) -> dict[str, dict[str, float]]:
    """One row per model, the default forecaster first (see
    :mod:`~pucklab.seqmodels.forecast.backtest`): its metrics, the seeds' spread of MASE for
    the network ensemble, and interval coverage and pinball loss where a model has intervals."""
    bt = outcome.backtest
    rows = {}
    for name, forecast in bt.forecasts.items():
        rows[name] = fc.scores(bt.actual, forecast, bt.scale)
        if name in outcome.bounds:
            rows[name].update(interval_scores(bt.actual, outcome.bounds[name], bt.scale))
    seeds = [r["mase"] for r in outcome.seed_table.values()]
    if len(seeds) > 1:
        rows[args.cell]["mase_std"] = float(np.std(seeds))
        rows[args.cell]["mase_seeds_mean"] = float(np.mean(seeds))
    return rows


def _csv_text(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def write_outputs(run_dir: Path, prep: Prepared, args: ForecastSettings, outcome: Outcome,
                  table: dict[str, dict[str, float]]) -> None:
    bt = outcome.backtest

    def cell(r: dict[str, float], column: str) -> str:
        return _fmt(r[column]) if column in r else ""

    main = _csv_text(["model", *COLUMNS],
                     [[name, *(cell(r, c) for c in COLUMNS)] for name, r in table.items()])
    atomic_write(run_dir / "backtest.csv", lambda f: f.write(main))
    seeds = _csv_text(["model", *fc.METRICS],
                      [[name, *(_fmt(r[m]) for m in fc.METRICS)]
                       for name, r in outcome.seed_table.items()])
    atomic_write(run_dir / "backtest_seeds.csv", lambda f: f.write(seeds))
    names = list(bt.forecasts)
    ends = [(lv, k) for lv in LEVELS for k in (0, 1)]
    bounds = outcome.bounds[DEFAULT]
    index = prep.series.index
    long = [[stamp(index[t]), h + 1, stamp(index[t + 1 + h]), _fmt(bt.actual[i, h]),
             *(_fmt(bt.forecasts[n][i, h]) for n in names),
             *(_fmt(bounds[lv][k][i, h]) for lv, k in ends)]
            for i, t in enumerate(bt.origins) for h in range(bt.actual.shape[1])]
    body = _csv_text(["origin", "step", "time", "actual", *names,
                      *(f"{DEFAULT}_{'lower' if k == 0 else 'upper'}_{round(lv * 100)}"
                        for lv, k in ends)], long)
    atomic_write(run_dir / "forecasts.csv", lambda f: f.write(body))
    plot_backtest(run_dir / "forecast.png", prep, args, outcome)


def plot_backtest(path: Path, prep: Prepared, args: ForecastSettings, outcome: Outcome,
                  shown: tuple[str, ...] = ("seasonal_naive", "ets", "arima")) -> None:
    """History and actuals with the forecasts of the last three non-overlapping origins, the
    default forecaster's 80% and 95% intervals shaded."""
    plt = pyplot()
    bt, h = outcome.backtest, args.horizon
    picks = [len(bt.origins) - 1 - k * h for k in range(3) if len(bt.origins) - 1 - k * h >= 0]
    first = max(0, int(bt.origins[picks[-1]]) - 4 * max(h, prep.season))
    xs = np.asarray(prep.series.index)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(xs[first:], prep.y[first:], color="black", lw=1.2, label="actual")
    if prep.split.test_start >= first:
        ax.axvline(xs[prep.split.test_start], color="grey", ls=":", lw=1)
    styles = {DEFAULT: ("tab:red", f"default ({outcome.combination.describe(args.cell)})")}
    colours = iter(["tab:blue", "tab:green", "tab:purple", "tab:orange"])
    for name in shown:
        if name in bt.forecasts:
            label = f"{name} (m=1: naive)" if name == "seasonal_naive" and prep.season == 1 else name
            styles[name] = (next(colours), label)
    bounds = outcome.bounds[DEFAULT]
    for k, i in enumerate(picks):
        t = int(bt.origins[i])
        span = xs[t + 1:t + 1 + h]
        for lv, alpha in zip(sorted(bounds, reverse=True), (0.12, 0.25), strict=False):
            if not np.isfinite(bounds[lv][0][i]).all():  # one calibration error: no interval
                continue
            ax.fill_between(span, bounds[lv][0][i], bounds[lv][1][i], color="tab:red",
                            alpha=alpha, lw=0, label=f"default {lv:.0%}" if k == 0 else None)
        for name, (colour, label) in styles.items():
            ax.plot(span, bt.forecasts[name][i], color=colour, lw=1.4,
                    label=label if k == 0 else None, alpha=0.9)
    ax.set_title(f"{args.source()}: {h}-step forecasts from the last three non-overlapping "
                 "backtest origins")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def format_table(table: dict[str, dict[str, float]], seeds: int = 1) -> str:
    """The backtest as the command prints it: the error metrics, the seeds' spread beside the
    network ensemble, interval coverage and pinball loss where a model has intervals."""
    lines = [f"{'model':<22}{'MAE':>11}{'RMSE':>11}{'sMAPE %':>10}{'MASE':>9}"
             f"{'cover 80%':>11}{'cover 95%':>11}{'pinball':>9}"]
    for name, r in table.items():
        label = f"{name} ({seeds} seeds)" if "mase_std" in r else name
        cover = "".join(f"{r[c]:>11.3f}" if c in r else f"{'':>11}"
                        for c in INTERVAL_COLUMNS[:-1])
        pin = f"{r['pinball']:>9.3f}" if "pinball" in r else f"{'':>9}"
        spread = (f"  (seeds: {r['mase_seeds_mean']:.3f} ± {r['mase_std']:.3f})"
                  if "mase_std" in r else "")
        lines.append(f"{label:<22}{r['mae']:>11.4g}{r['rmse']:>11.4g}{r['smape']:>10.3f}"
                     f"{r['mase']:>9.3f}{cover}{pin}{spread}")
    return "\n".join(lines)
