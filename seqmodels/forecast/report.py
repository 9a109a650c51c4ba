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
from pucklab.seqmodels.forecast.series import stamp
from pucklab.seqmodels.forecast.settings import ForecastSettings
from pucklab.seqmodels.forecast.task import Prepared


def summary_table(args: ForecastSettings, bt: fc.Backtest,
                  seed_table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """One row per model: the network (mean over seeds) then each baseline."""
    rows = {args.cell: {m: float(np.mean([r[m] for r in seed_table.values()]))
                        for m in fc.METRICS}}
    if len(seed_table) > 1:
        rows[args.cell].update({f"{m}_std": float(np.std([r[m] for r in seed_table.values()]))
                                for m in fc.METRICS})
    for name in args.baselines:
        rows[name] = fc.scores(bt.actual, bt.forecasts[name], bt.scale)
    return rows


def _csv_text(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def write_outputs(run_dir: Path, prep: Prepared, args: ForecastSettings, bt: fc.Backtest,
                   table: dict[str, dict[str, float]], seed_table: dict[str, dict[str, float]]
                   ) -> None:
    rows = table
    main = _csv_text(["model", *fc.METRICS],
                     [[name, *(_fmt(r[m]) for m in fc.METRICS)] for name, r in rows.items()])
    atomic_write(run_dir / "backtest.csv", lambda f: f.write(main))
    seeds = _csv_text(["model", *fc.METRICS],
                      [[name, *(_fmt(r[m]) for m in fc.METRICS)] for name, r in seed_table.items()])
    atomic_write(run_dir / "backtest_seeds.csv", lambda f: f.write(seeds))
    names = list(bt.forecasts)
    index = prep.series.index
    long = [[stamp(index[t]), h + 1, stamp(index[t + 1 + h]), _fmt(bt.actual[i, h]),
             *(_fmt(bt.forecasts[n][i, h]) for n in names)]
            for i, t in enumerate(bt.origins) for h in range(bt.actual.shape[1])]
    body = _csv_text(["origin", "step", "time", "actual", *names], long)
    atomic_write(run_dir / "forecasts.csv", lambda f: f.write(body))
    plot_backtest(run_dir / "forecast.png", prep, args, bt)


def plot_backtest(path: Path, prep: Prepared, args: ForecastSettings, bt: fc.Backtest,
                  shown: tuple[str, ...] = ("seasonal_naive", "ets", "arima")) -> None:
    """History and actuals with the forecasts of the last three non-overlapping origins."""
    plt = pyplot()
    h = args.horizon
    picks = [len(bt.origins) - 1 - k * h for k in range(3) if len(bt.origins) - 1 - k * h >= 0]
    first = max(0, int(bt.origins[picks[-1]]) - 4 * max(h, prep.season))
    idx = prep.series.index
    xs = np.asarray(idx)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(xs[first:], prep.y[first:], color="black", lw=1.2, label="actual")
    if prep.split.test_start >= first:
        ax.axvline(xs[prep.split.test_start], color="grey", ls=":", lw=1)
    net = next(n for n in bt.forecasts if n.startswith(f"{args.cell}/"))
    styles = {net: ("tab:red", f"{args.cell} ({net.split('/')[1]})")}
    colours = iter(["tab:blue", "tab:green", "tab:purple", "tab:orange"])
    for name in shown:
        if name in bt.forecasts:
            label = f"{name} (m=1: naive)" if name == "seasonal_naive" and prep.season == 1 else name
            styles[name] = (next(colours), label)
    for k, i in enumerate(picks):
        t = int(bt.origins[i])
        for name, (colour, label) in styles.items():
            ax.plot(xs[t + 1:t + 1 + h], bt.forecasts[name][i], color=colour, lw=1.4,
                    label=label if k == 0 else None, alpha=0.9)
    ax.set_title(f"{args.source()}: {h}-step forecasts from the last three non-overlapping "
                 "backtest origins")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def format_table(table: dict[str, dict[str, float]], seeds: int = 1) -> str:
    lines = [f"{'model':<16}{'MAE':>11}{'RMSE':>11}{'sMAPE %':>10}{'MASE':>9}"]
    for i, (name, r) in enumerate(table.items()):
        label = f"{name} ({seeds} seeds)" if i == 0 and seeds > 1 else name
        lines.append(f"{label:<16}{r['mae']:>11.4g}{r['rmse']:>11.4g}{r['smape']:>10.3f}"
                     f"{r['mase']:>9.3f}" + (f"  ± {r['mase_std']:.3f}" if "mase_std" in r else ""))
    return "\n".join(lines)
