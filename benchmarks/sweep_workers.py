"""Sweep worker scaling: the same sweep with one worker and with two, in one run.

Each sweep runs ``--trials`` forecast trials (sunspots, one 64-unit LSTM per trial, a fixed
number of epochs, random lr, no pruning) in a fresh folder, as a user would: ``sweep forecast
... --workers N``. Wall time counts everything the command does (worker start, storage, the
results files). Prints trials per hour of each and the ratio. Target: two workers >= 1.8x the
trials per hour of one, on 2 cores.

    python benchmarks/sweep_workers.py                 # about 6 minutes on 2 cores
    python benchmarks/sweep_workers.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

from pucklab.runs.provenance import publish
from pucklab.runs.sweep import main as sweep

TARGET = 1.8


def timed_sweep(workers: int, trials: int, epochs: int, folder: Path) -> float:
    """Seconds the plain ``sweep forecast`` command takes with ``workers`` workers."""
    argv = ["forecast", "--fixed", "dataset=sunspots", "horizon=10", f"epochs={epochs}",
            "patience=0", "hidden=64", "progress=false", "baselines=naive", "seeds=[0]",
            "difference=none", "lookback=30", "--param", "lr=log:1e-4:1e-2",
            "--sampler", "random", "--pruner", "none", "--trials", str(trials),
            "--workers", str(workers), "--run-dir", str(folder)]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = sweep(argv)
    if code != 0:
        raise SystemExit(f"sweep with {workers} worker(s) exited {code}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=24,
                        help="per sweep: enough that the fixed costs (start, results files) "
                        "weigh little against the trials, as in a real sweep")
    parser.add_argument("--epochs", type=int, default=250, help="per trial")
    parser.add_argument("--out", type=Path, help="also write sweep_workers.md there")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            seconds = timed_sweep(workers, args.trials, args.epochs, Path(tmp) / f"w{workers}")
            rows.append((workers, seconds, args.trials / seconds * 3600))
    ratio = rows[1][2] / rows[0][2]
    lines = ["| workers | wall time | trials/hour |", "|---|---|---|"]
    lines += [f"| {w} | {s:.1f} s | {r:.0f} |" for w, s, r in rows]
    lines += ["", f"2 workers / 1 = {ratio:.2f}x the trials per hour (target >= {TARGET}x: "
              f"{'met' if ratio >= TARGET else 'NOT met'}); {os.cpu_count()} CPUs, "
              f"{args.trials} trials of {args.epochs} epochs each."]
    report = "\n".join(lines)
    print(report)
    if args.out:
        header = ("`sweep forecast` with one worker, then two, on the same trials (sunspots, a "
                  "64-unit LSTM per trial, random lr, no pruning); wall time of the whole "
                  "command.\n\n")
        publish(args.out / "sweep_workers.md", header + report)


if __name__ == "__main__":
    main()
