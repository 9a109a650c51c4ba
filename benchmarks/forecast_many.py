"""``forecast``'s plain command on many public series it was never tuned on: does the default
forecaster beat the classical baselines on series of other frequencies and shapes?

Each series is forecast with the command a user would type (``forecast --dataset ...`` or
``forecast --csv FILE --column y --time-column time --horizon H``), nothing else, as a
subprocess. Per series the table gives the test MASE of the default forecaster (the first row of
``backtest.csv``, what ``forecast predict`` uses), the network ensemble (with the seeds' own
spread), the fixed combination, seasonal naive, ETS and ARIMA -- all measured in the same run,
on the same origins -- what the validation part chose, the 80% / 95% interval coverage of the
default, ETS and ARIMA, and the wall time. Then the mean rank of each row over the series.
Beside the default, the *former rule*: the same run's networks and baselines with the weights
and intervals set on the validation part instead of the calibration part (recomputed, no
training), so that the rule's effect is measured in one run; and *mix conformal*: the
default's intervals under the rule before quantile averaging (conformal intervals from the
mix's own calibration errors, Student-t where too few), recomputed the same way.

The series ship offline: statsmodels' data sets, and pmdarima's (a benchmark-only extra,
``pip install -e ".[bench]"``). Horizons: 12 for monthly, 8 for quarterly, 6 for yearly and
for heartrate (10 for sunspots, the README's command).

    python benchmarks/forecast_many.py --out benchmarks/results   # 8-15 minutes on 2 cores
    python benchmarks/forecast_many.py --series nile lynx         # a few of them
    python benchmarks/forecast_many.py --flags="--seed 5 6 7 8 9" --out benchmarks/results

``--flags`` adds the same flags to every command (other seeds, ``--no-autoregressive`` ...): a
check that the plain command's table does not rest on its seeds or on one setting. Its table
goes to ``forecast_many_<flags>.md`` beside the plain one.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pucklab.runs.provenance import publish  # noqa: E402
from pucklab.runs.store import LAST_CHECKPOINT, load_config  # noqa: E402

# The command runs in a subprocess; importing its module here also puts the forecast code in
# this script's provenance fingerprint, so a change to it marks the published table stale.
from pucklab.seqmodels.forecast import cli as forecast_cli  # noqa: E402
from pucklab.seqmodels.forecast import metrics as fc  # noqa: E402
from pucklab.seqmodels.forecast.backtest import DEFAULT, Outcome, run_backtest  # noqa: E402
from pucklab.seqmodels.forecast.calibrate import (  # noqa: E402
    CALIBRATION,
    VALIDATION,
    Calibration,
    calibration_prepared,
)
from pucklab.seqmodels.forecast.combine import (  # noqa: E402
    LEVELS,
    Conformal,
    combined,
    coverage,
    interval_scores,
)
from pucklab.seqmodels.forecast.fit import (  # noqa: E402
    FINAL,
    final_prepared,
    kept_network,
    seed_dir,
)
from pucklab.seqmodels.forecast.model import Forecaster  # noqa: E402
from pucklab.seqmodels.forecast.runner import saved_settings  # noqa: E402
from pucklab.seqmodels.forecast.select import Candidate, candidate_folder, train_scale  # noqa: E402
from pucklab.seqmodels.forecast.task import load, prepare  # noqa: E402

ROWS = ("default", "lstm", "combination", "seasonal_naive", "ets", "arima")


def _statsmodels(name: str) -> pd.DataFrame:
    import importlib

    return importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data


def _pmdarima(name: str) -> pd.Series:
    import pmdarima.datasets as pm

    return getattr(pm, f"load_{name}")(as_series=True)


def _frame(values: np.ndarray, times: object) -> pd.DataFrame:
    return pd.DataFrame({"time": times, "y": np.asarray(values, dtype=float)})


def elnino() -> pd.DataFrame:
    wide = _statsmodels("elnino")
    months = wide.columns[1:]
    values = wide[months].to_numpy().ravel()
    times = pd.date_range(f"{int(wide['YEAR'].iloc[0])}-01-01", periods=len(values), freq="MS")
    return _frame(values, times.strftime("%Y-%m-%d"))


def macro(column: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        m = _statsmodels("macrodata")
        times = pd.PeriodIndex.from_fields(year=m["year"].astype(int),
                                           quarter=m["quarter"].astype(int), freq="Q")
        return _frame(m[column].to_numpy(), times.to_timestamp().strftime("%Y-%m-%d"))
    return load


def monthly(name: str, first: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        y = _pmdarima(name)
        return _frame(y.to_numpy(), pd.date_range(first, periods=len(y), freq="MS")
                      .strftime("%Y-%m-%d"))
    return load


def quarterly(name: str, first: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        y = _pmdarima(name)
        return _frame(y.to_numpy(), pd.date_range(first, periods=len(y), freq="QS")
                      .strftime("%Y-%m-%d"))
    return load


def indexed(name: str) -> Callable[[], pd.DataFrame]:
    """A pmdarima series whose times are plain numbers (years for lynx, ticks for heartrate)."""
    def load() -> pd.DataFrame:
        y = _pmdarima(name)
        return _frame(y.to_numpy(), np.asarray(y.index, dtype=int))
    return load


#: name -> (kind, shape, what to run): a data set's flags, or a loader of a CSV's frame.
SERIES: dict[str, tuple[str, str, list[str] | Callable[[], pd.DataFrame], int]] = {
    "sunspots": ("yearly", "cycle", ["--dataset", "sunspots"], 10),
    "nile": ("yearly", "level shift", ["--dataset", "nile"], 6),
    "lynx": ("yearly", "cycle", indexed("lynx"), 6),
    "co2": ("monthly", "trend + season", ["--dataset", "co2", "--resample", "MS"], 12),
    "elnino": ("monthly", "stable season", elnino, 12),
    "airpassengers": ("monthly", "trend x season", monthly("airpassengers", "1949-01-01"), 12),
    "wineind": ("monthly", "season + noise", monthly("wineind", "1980-01-01"), 12),
    "realgdp": ("quarterly", "trend", macro("realgdp"), 8),
    "unemp": ("quarterly", "cycle", macro("unemp"), 8),
    "woolyrnq": ("quarterly", "season + shifts", quarterly("woolyrnq", "1965-01-01"), 8),
    "ausbeer": ("quarterly", "trend + season", quarterly("ausbeer", "1956-01-01"), 8),
    # added after the calibration part was designed on the 11 above: series it never saw
    "austres": ("quarterly", "smooth trend", quarterly("austres", "1971-04-01"), 8),
    "realinv": ("quarterly", "trend + cycle", macro("realinv"), 8),
    "cpi": ("quarterly", "trend, changing slope", macro("cpi"), 8),
    "heartrate": ("no calendar", "wandering level", indexed("heartrate"), 6),
}


def command(name: str, work: Path, extra: Sequence[str] = ()) -> list[str]:
    """The plain command's flags for a series (writing its CSV first where it needs one),
    then ``extra``."""
    _, _, source, horizon = SERIES[name]
    if isinstance(source, list):
        return [*source, "--horizon", str(horizon), *extra]
    path = work / f"{name}.csv"
    source().to_csv(path, index=False)
    return ["--csv", path.name, "--column", "y", "--time-column", "time", "--horizon",
            str(horizon), *extra]


def forecast(argv: list[str], work: Path, run_dir: Path) -> tuple[dict[str, dict[str, float]],
                                                               dict[str, object], float]:
    """Run ``forecast ARGV`` in ``work``; its backtest table, config and wall time."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", forecast_cli.__name__, *argv, "--run-dir", str(run_dir),
           "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"forecast {' '.join(argv)} failed:\n{done.stderr}")
    with open(run_dir / "backtest.csv", newline="") as f:
        table = {r["model"]: {k: float(v) for k, v in r.items() if k != "model" and v}
                 for r in csv.DictReader(f)}
    return table, json.loads((run_dir / "config.json").read_text()), wall


def recomputed(run_dir: Path, mase: float) -> dict[str, dict[str, float]]:
    """The same run's default forecaster recomputed from its own networks (no training):
    first under the current rule, which must give the run's own MASE, so that what follows
    differs by the rule alone; then ``former`` -- weights and intervals set on the validation
    part, where the networks were chosen -- and ``mixed`` -- the current forecast with
    intervals from the mix's own calibration errors (:class:`Conformal`) instead of averaged
    from its members'. MASE or interval scores (coverage, pinball) of each,
    and ``errors``: how many calibration errors per step set the intervals."""
    settings = saved_settings(run_dir)
    sel = load_config(run_dir)["selection"]
    prep = prepare(settings.replace(difference=sel["difference"], lookback=sel["lookback"]),
                   load(settings))

    def networks(folder: Path, name: str | None = None) -> dict[int, Forecaster]:
        return {seed: kept_network(seed_dir(folder, seed), name)[0] for seed in settings.seeds}

    chosen = networks(candidate_folder(run_dir, Candidate(sel["difference"], sel["lookback"])))
    final = networks(run_dir / FINAL, LAST_CHECKPOINT)
    val_scale = train_scale(prep, prep.season)
    args = (prep, final_prepared(prep), settings, chosen, final, val_scale)
    calib = calibration_prepared(prep)
    held = None if calib is None else Calibration(
        CALIBRATION, calib, networks(run_dir / CALIBRATION, LAST_CHECKPOINT), calib.scale)
    again: Outcome = run_backtest(*args, held)
    bt = again.backtest
    redone = fc.mase(bt.actual, bt.forecasts[DEFAULT], bt.scale)
    if not np.isclose(redone, mase, rtol=1e-5):  # backtest.csv keeps 6 digits
        raise SystemExit(f"{run_dir}: recomputed default MASE {redone} != the run's {mase}")
    if held is None or again.combination.part != CALIBRATION:
        held = Calibration(VALIDATION, prep, chosen, val_scale)
    members = [m for m in ("ets", "arima") if m in settings.baselines]
    errors = held.actual() - combined(held.forecasts(members), again.combination.weights)
    mixed = Conformal.fit(errors, np.zeros_like(errors))
    mixed_scores = interval_scores(bt.actual, {lv: mixed.bounds(bt.forecasts[DEFAULT], lv)
                                               for lv in LEVELS}, bt.scale)
    former = run_backtest(*args)  # no calibration part: the validation part sets the weights
    fb = former.backtest
    row = {"mase": fc.mase(fb.actual, fb.forecasts[DEFAULT], fb.scale)}
    row.update({f"coverage_{round(lv * 100)}": coverage(fb.actual, *former.bounds[DEFAULT][lv])
                for lv in LEVELS})
    return {"former": row, "mixed": mixed_scores, "errors": {"n": float(again.conformal.errors)}}


def cover(row: dict[str, float]) -> str:
    return f"{row['coverage_80']:.2f} / {row['coverage_95']:.2f}"


def ranks(mase: dict[str, float]) -> dict[str, float]:
    """Each row's rank by MASE (1 = best; ties share the mean rank)."""
    values = np.array([mase[r] for r in ROWS])
    order = values.argsort().argsort().astype(float) + 1
    for v in set(values.tolist()):
        tied = values == v
        order[tied] = order[tied].mean()
    return dict(zip(ROWS, order.tolist(), strict=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", nargs="+", choices=tuple(SERIES), default=list(SERIES))
    p.add_argument("--out", help="write forecast_many.md (stamped) into this folder")
    p.add_argument("--flags", default="", help="flags added to every command, e.g. "
                   "--flags=\"--seed 5 6 7 8 9\" (the table goes to forecast_many_<flags>.md)")
    ns = p.parse_args()
    extra = shlex.split(ns.flags)
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", " ".join(extra)).strip("-")
    work = Path(tempfile.mkdtemp(prefix="forecast-many-"))
    lines = ["| series | kind | points | H | chosen | default | former rule | lstm (seeds) | "
             "combination | seasonal naive | ETS | ARIMA | n | cover 80/95: default | mix conformal | "
             "former | ETS | ARIMA | s |", "|" + "---|" * 19]
    print("\n".join(lines), flush=True)
    all_ranks, beats = [], {"seasonal_naive": 0, "ets": 0, "arima": 0}
    former_ranks, former_beats = [], {"ets": 0, "arima": 0}
    covers: dict[str, list[list[float]]] = {"default": [], "former": [], "mixed": []}
    pinballs: dict[str, list[float]] = {"default": [], "mixed": []}
    for name in ns.series:
        kind, shape, _, horizon = SERIES[name]
        argv = command(name, work, extra)
        table, config, wall = forecast(argv, work, work / f"run-{name}")
        mase = {r: table[r]["mase"] for r in ROWS}
        all_ranks.append(ranks(mase))
        for ref in beats:
            beats[ref] += mase["default"] < mase[ref]
        again = recomputed(work / f"run-{name}", mase["default"])
        former = again["former"]
        former_ranks.append(ranks({**mase, "default": former["mase"]})["default"])
        for ref in former_beats:
            former_beats[ref] += former["mase"] < mase[ref]
        covers["default"].append([table["default"]["coverage_80"],
                                  table["default"]["coverage_95"]])
        covers["former"].append([former["coverage_80"], former["coverage_95"]])
        covers["mixed"].append([again["mixed"]["coverage_80"], again["mixed"]["coverage_95"]])
        pinballs["default"].append(table["default"]["pinball"])
        pinballs["mixed"].append(again["mixed"]["pinball"])
        sel, comb = config["selection"], config["combination"]
        chosen = (f"{sel['difference']}, L={sel['lookback']}; " + ", ".join(
            f"{'lstm' if m == 'network' else m} {w:.2f}" for m, w in comb["weights"].items())
            + (" (val)" if comb.get("part") != "calibration" else ""))

        lstm = table["lstm"]
        line = (f"| {name} | {kind}, {shape} | {config['series']['points']} | {horizon} | "
                f"{chosen} | **{mase['default']:.3f}** | {former['mase']:.3f} | {mase['lstm']:.3f} "
                f"({lstm['mase_seeds_mean']:.3f} ± {lstm['mase_std']:.3f}) | "
                f"{mase['combination']:.3f} | {mase['seasonal_naive']:.3f} | {mase['ets']:.3f} | "
                f"{mase['arima']:.3f} | {again['errors']['n']:.0f} | {cover(table['default'])} | "
                f"{cover(again['mixed'])} | {cover(former)} | "
                f"{cover(table['ets'])} | "
                f"{cover(table['arima'])} | "
                f"{wall:.0f} |")
        lines.append(line)
        print(line, flush=True)
    n = len(ns.series)
    mean_rank = {r: float(np.mean([rk[r] for rk in all_ranks])) for r in ROWS}
    rank_line = ("Mean rank by MASE over the series (1 = best of these 6 rows): " + ", ".join(
        f"{r} {v:.2f}" for r, v in sorted(mean_rank.items(), key=lambda kv: kv[1])) + ".")
    c_now, c_then = np.mean(covers["default"], axis=0), np.mean(covers["former"], axis=0)
    former_line = (
        "The former rule (column *former rule*: weights and intervals set on the validation "
        "part, where the networks were chosen, recomputed from the same run's networks): beats "
        f"ETS on {former_beats['ets']}/{n} and ARIMA on {former_beats['arima']}/{n}, mean rank "
        f"{np.mean(former_ranks):.2f} in the default's place (the default: ETS {beats['ets']}/"
        f"{n}, ARIMA {beats['arima']}/{n}, {mean_rank['default']:.2f}); mean coverage of the "
        f"80% / 95% intervals {c_then[0]:.2f} / {c_then[1]:.2f} (the default: {c_now[0]:.2f} / "
        f"{c_now[1]:.2f}).")
    c_mixed = np.mean(covers["mixed"], axis=0)
    lower = sum(d < m for d, m in zip(pinballs["default"], pinballs["mixed"], strict=True))
    interval_line = (
        "Intervals (the default's ends: the weighted mean of its members' ends, the network's "
        "conformal from *n* calibration errors per step, ETS's and ARIMA's their own): mean "
        f"coverage of the 80% / 95% intervals {c_now[0]:.2f} / {c_now[1]:.2f}, mean pinball "
        f"{np.mean(pinballs['default']):.3f}; with conformal intervals from the mix's own "
        f"calibration errors instead (column *mix conformal*, the rule before, recomputed from "
        f"the same runs) {c_mixed[0]:.2f} / {c_mixed[1]:.2f}, pinball "
        f"{np.mean(pinballs['mixed']):.3f}; the averaged intervals' pinball lower on {lower}/{n}.")
    best = min(mean_rank, key=mean_rank.__getitem__)
    rank_met = mean_rank["default"] == mean_rank[best]
    targets = [
        f"- the default forecaster beats seasonal naive on every series: "
        f"{beats['seasonal_naive']}/{n} -> {'met' if beats['seasonal_naive'] == n else 'NOT met'}",
        f"- ... ETS on at least two thirds: {beats['ets']}/{n} -> "
        f"{'met' if 3 * beats['ets'] >= 2 * n else 'NOT met'}",
        f"- ... ARIMA on at least two thirds: {beats['arima']}/{n} -> "
        f"{'met' if 3 * beats['arima'] >= 2 * n else 'NOT met'}",
        f"- its mean rank is the best of all rows: {mean_rank['default']:.2f} (best: {best} "
        f"{mean_rank[best]:.2f}) -> {'met' if rank_met else 'NOT met'}",
    ]
    text = "\n".join([
        "# forecast on many series: the plain command" + (f" with `{' '.join(extra)}`"
                                                         if extra else ""), "",
        "Each row: `forecast` with the series' data flags and `--horizon H` only"
        + (f", then `{' '.join(extra)}`" if extra else "") + " (default settings"
        + (" otherwise" if extra else "") + ": differencing and lookback chosen on the "
        "validation part, 5 seeds refitted "
        "on training + validation, each network with a linear autoregression beside it, the "
        "default forecaster the network ensemble, ETS and ARIMA "
        "weighted by their inverse MSE on the calibration part before the validation part; "
        "the chosen column gives the weights, and `(val)` where the series was too short for "
        "a calibration part and the validation part set them). "
        "Test MASE (lower is better; 1.0 = the in-sample one-step seasonal-naive error), "
        "interval coverage of the test values (nominal 0.80 / 0.95), wall time of the command "
        "on this machine.", "", *lines, "", rank_line, "", former_line, "", interval_line, "",
        "Targets:", "",
        *targets, ""])
    print("\n" + "\n\n".join([rank_line, former_line, interval_line]) + "\n\nTargets:\n"
          + "\n".join(targets))
    if ns.out:
        out = Path(ns.out) / (f"forecast_many_{slug}.md" if slug else "forecast_many.md")
        publish(out, text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
