"""Forecasting benchmark: LSTM and GRU against naive, seasonal naive, drift, ETS and ARIMA.

Two real series that statsmodels bundles (offline), each backtested on the same rolling
origins of its last 20% (one origin per step), networks trained once per seed on the first 65%
and early-stopped on the next 15%:

* sunspots -- yearly sunspot numbers 1700-2008, horizon 10 years; no season is inferred from
  yearly data (the ~11-year cycle is not a fixed period), so seasonal naive is naive and MASE is
  scaled by the one-step naive error. The series is modelled in levels.
* co2 -- Mauna Loa weekly CO2 resampled to monthly means (1958-2001), horizon 12 months, season
  12; the networks model first differences so the trend extrapolates.

Networks: ``forecast`` defaults (1 x 64 hidden, direct multi-step head, Adam 1e-3, early
stopping), ``--seeds`` (3) seeds each; their row is the mean (and std) over seeds. Target: the
better network beats seasonal naive and ETS on MASE on both series.

    python benchmarks/forecast.py                            # about 3 minutes on 2 CPU cores
    python benchmarks/forecast.py --out benchmarks/results   # also writes the table and figures
"""

from __future__ import annotations

import argparse
import io
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from pucklab.runs.result import RunResult
from pucklab.runs.store import load_config
from pucklab.seqmodels.forecast import ForecastSettings
from pucklab.seqmodels.forecast import run as run_forecast

SERIES = {
    "sunspots": {"dataset": "sunspots", "horizon": 10},
    "co2": {"dataset": "co2", "resample": "MS", "horizon": 12, "difference": "first"},
}
CELLS = ("lstm", "gru")


def run(name: str, cell: str, seeds: list[int], workdir: Path) -> tuple[RunResult, float]:
    settings = ForecastSettings(**SERIES[name], cell=cell, seeds=seeds).replace(progress=False)
    t0 = time.perf_counter()
    result = run_forecast(settings, workdir / f"{name}-{cell}")
    return result, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds per network (default 3)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--out", type=Path, help="write forecast.md and the figures here")
    ns = p.parse_args()
    seeds = list(range(ns.seed, ns.seed + ns.seeds))
    workdir = Path(tempfile.mkdtemp(prefix="forecast-bench-"))
    out = io.StringIO()

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.write(line + "\n")

    say(f"# Forecasting benchmark ({platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; seeds {seeds})")
    verdicts = []
    for name in SERIES:
        results = {cell: run(name, cell, seeds, workdir) for cell in CELLS}
        first = results[CELLS[0]][0]
        bt = first.details.backtest
        assert bt is not None
        config = load_config(first.run_dir)
        s = config["series"]
        say()
        say(f"## {name}: {s['points']} points ({s['start']} .. {s['end']}), horizon "
            f"{bt.actual.shape[1]}, season {s['season']}, lookback {s['lookback']}, "
            f"{len(bt.origins)} origins; MASE scale {bt.scale:.4g}")
        say()
        say("| model | MASE | sMAPE % | MAE | RMSE | training time per seed |")
        say("|---|---|---|---|---|---|")
        rows = {cell: results[cell][0].table[cell] for cell in CELLS}
        rows.update({b: first.table[b] for b in first.table if b not in CELLS})
        for model, r in rows.items():
            if model in CELLS:
                fits = results[model][0].details.fits.values()
                secs = sum(f.wall_time_s for f in fits) / len(fits)
                say(f"| {model} (mean ± std of {len(seeds)}) | {r['mase']:.3f} ± {r['mase_std']:.3f}"
                    f" | {r['smape']:.3f} ± {r['smape_std']:.3f} | {r['mae']:.4g} | {r['rmse']:.4g}"
                    f" | {secs:.0f} s |")
            else:
                say(f"| {model} | {r['mase']:.3f} | {r['smape']:.3f} | {r['mae']:.4g} | "
                    f"{r['rmse']:.4g} | |")
        best = min(CELLS, key=lambda c: rows[c]["mase"])
        ok = all(rows[best]["mase"] < rows[b]["mase"] for b in ("seasonal_naive", "ets"))
        verdicts.append(f"{name}: best network {best} MASE {rows[best]['mase']:.3f} vs seasonal "
                        f"naive {rows['seasonal_naive']['mase']:.3f}, ETS {rows['ets']['mase']:.3f}"
                        f", ARIMA {rows['arima']['mase']:.3f} -> {'beats' if ok else 'MISSES'} "
                        "seasonal naive and ETS")
        if ns.out:
            ns.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(results[best][0].run_dir / "forecast.png",
                            ns.out / f"forecast_{name}.png")
    say()
    say("## Target: the best recurrent model beats seasonal naive and ETS on MASE")
    for v in verdicts:
        say(f"- {v}")
    if ns.out:
        (ns.out / "forecast.md").write_text(out.getvalue())
        print(f"wrote {ns.out / 'forecast.md'} and forecast_*.png")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
