"""Short-horizon bias on char-rnn: the 3-minute sweep's best settings against the defaults,
each trained for 3 and for 15 minutes.

The char-rnn sweep in ``benchmarks/results/sweeps/char-rnn-3min`` ranked settings by the best
validation loss after 3 minutes of training. A short horizon favours settings that learn fast
early (small batches, a high learning rate) over settings that end lower (Wu et al., 2018,
"Understanding short-horizon bias in stochastic meta-optimization"). This script measures it:
both settings, both horizons, the plain ``char-rnn train`` on Tiny Shakespeare (through the
same library call), on seeds neither setting was chosen on (both were chosen on seed 0). The
table says whether the 3-minute ranking still holds at 15 minutes.

    PUCKLAB_DATA=../shared/data python benchmarks/short_horizon.py --out benchmarks/results
    # 18-36 minutes per seed on 2 CPU cores; writes char-rnn-15min.md (stamped); the run
    # folders stay in runs/short-horizon__<time>/
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pucklab.runs.config_files import read_config_file
from pucklab.runs.provenance import ROOT, publish
from pucklab.seqmodels.charrnn import CharRNNSettings, run

SWEEP_BEST = ROOT / "benchmarks" / "results" / "sweeps" / "char-rnn-3min" / "best.toml"
SHORT, LONG = 3.0, 15.0  # minutes: the sweep's trial budget, and the budget judged


def contenders() -> dict[str, CharRNNSettings]:
    """The defaults, and the sweep's best trial (its own budget and seed replaced per run)."""
    best = CharRNNSettings.from_dict(read_config_file(SWEEP_BEST), str(SWEEP_BEST))
    return {"defaults": CharRNNSettings(corpus="shakespeare"), "the 3-minute sweep's best": best}


def origin() -> str:
    """Which sweep trial best.toml holds (its first line), so the table names what it ran."""
    first = SWEEP_BEST.read_text().splitlines()[0]
    return first.lstrip("# ").replace("char-rnn settings of ", "")


def describe(s: CharRNNSettings) -> str:
    r = s.resolved()
    return (f"{r.layers} x {r.hidden} {r.cell.upper()}, batch {r.batch_size} x {r.seq_len}, "
            f"dropout {r.dropout:.2f}, {r.train.optimizer} {r.train.lr:.2g}, "
            f"{r.train.schedule}, {r.precision}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--minutes", type=float, nargs=2, default=[SHORT, LONG],
                   metavar=("SHORT", "LONG"), help="the two budgets (default 3 15)")
    p.add_argument("--out", type=Path, help="write char-rnn-15min.md (stamped) here")
    ns = p.parse_args()
    short, long_ = ns.minutes
    # ordinary run folders under runs/ (git-ignored), kept for a look at the curves
    workdir = ROOT / "runs" / f"short-horizon__{time.strftime('%Y%m%d-%H%M%S')}"
    loss: dict[tuple[str, int, float], float] = {}
    steps: dict[tuple[str, int, float], int] = {}
    rows = [f"| settings | seed | best val loss after {short:g} min | after {long_:g} min "
            f"| steps in {long_:g} min |", "|---|---|---|---|---|"]
    settings_of = contenders()
    for seed in ns.seeds:
        for name, settings in settings_of.items():
            for minutes in (short, long_):
                key = (name, seed, minutes)
                slug = "defaults" if name == "defaults" else "sweep-best"
                folder = workdir / f"{slug}-seed{seed}-{minutes:g}min"
                result = run(settings.replace(minutes=minutes, seed=seed, progress=False),
                             folder).details
                loss[key], steps[key] = result.best_val_loss, result.steps
                print(f"{name}, seed {seed}, {minutes:g} min: {loss[key]:.4f}", flush=True)
            rows.append(f"| {name}: {describe(settings)} | {seed} | {loss[name, seed, short]:.4f} "
                        f"| {loss[name, seed, long_]:.4f} | {steps[name, seed, long_]:,} |")
    verdicts = []
    for seed in ns.seeds:
        order = {m: sorted(settings_of, key=lambda n: loss[n, seed, m]) for m in (short, long_)}
        verdicts.append(f"- seed {seed}: best after {short:g} min: {order[short][0]}; after "
                        f"{long_:g} min: {order[long_][0]} -> the short ranking "
                        f"{'holds' if order[short] == order[long_] else 'flips'}")
    report = "\n".join([
        f"Short-horizon bias: `char-rnn train --corpus shakespeare` with each row's settings for "
        f"{short:g} and for {long_:g} minutes, one run after another (lower is better, "
        "nats/char). The sweep's best comes from "
        f"`benchmarks/results/sweeps/char-rnn-3min/best.toml` ({origin()}); both settings were "
        "chosen on seed 0.", "", *rows, "", *verdicts])
    print(report)
    if ns.out:
        publish(ns.out / "char-rnn-15min.md", report, seeds=ns.seeds, inputs=[SWEEP_BEST])
    print(f"run folders: {workdir}")


if __name__ == "__main__":
    main()
