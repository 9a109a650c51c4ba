"""The plain ``forecast`` commands, as a user types them: does ``--difference auto`` (the
default) hold against the levels the old default modelled, and does weekly co2 finish?

Each row is the command run as a subprocess with nothing but its data flags, beside the same
command with ``--difference none`` (the old default) as the reference measured in the same run:

* co2 monthly (``--resample MS --horizon 12``): target, the network beats seasonal naive and ETS
  on MASE;
* sunspots (``--horizon 10``): target, auto does no worse than levels;
* co2 weekly (``--horizon 12``, 2,284 points, season 52): target, it finishes in a few minutes
  on 2 cores (before: still running after 15 minutes).

    python benchmarks/forecast_defaults.py          # about 10 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "co2 monthly": ["--dataset", "co2", "--resample", "MS", "--horizon", "12"],
    "sunspots": ["--dataset", "sunspots", "--horizon", "10"],
    "co2 weekly": ["--dataset", "co2", "--horizon", "12"],
}
REFERENCE = ["--difference", "none"]


def forecast(argv: list[str], run_dir: Path) -> tuple[dict[str, dict[str, float]], str, float]:
    """Run ``forecast ARGV``; the backtest table, what was differenced and the wall time."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-c", "import sys; from pucklab.runs.launch import forecast; "
           "sys.exit(forecast())", *argv, "--run-dir", str(run_dir), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"forecast {' '.join(argv)} failed:\n{done.stderr}")
    with open(run_dir / "backtest.csv", newline="") as f:
        table = {r["model"]: {k: float(v) for k, v in r.items() if k not in ("model",)
                              and v not in ("", None)} for r in csv.DictReader(f)}
    chosen = json.loads((run_dir / "config.json").read_text())["difference"]["chosen"]
    return table, chosen, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", choices=tuple(CASES), default=list(CASES))
    p.add_argument("--no-reference", action="store_true", help="skip the --difference none runs")
    ns = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="forecast-defaults-"))
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; python "
          f"{platform.python_version()}\n")
    print("| command | differencing | network MASE | seasonal naive | ETS | ARIMA | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name, argv in CASES.items():
        if name not in ns.cases:
            continue
        runs = [(argv, "default")] + ([] if ns.no_reference else [(argv + REFERENCE, "levels")])
        for k, (args, label) in enumerate(runs):
            table, chosen, wall = forecast(args, work / f"{name.replace(' ', '-')}-{k}")
            net = table["lstm"]["mase"]
            print(f"| forecast {' '.join(args)} | {chosen} ({label}) | {net:.3f} | "
                  f"{table['seasonal_naive']['mase']:.3f} | {table['ets']['mase']:.3f} | "
                  f"{table['arima']['mase']:.3f} | {wall:.0f} |", flush=True)


if __name__ == "__main__":
    main()
