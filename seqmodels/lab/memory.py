"""``lab memory-length``: RNN, LSTM, GRU and a chrono-initialised LSTM under the same step
budget on the recall task; held-out accuracy against the lag.

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.figures import progress_bar
from pucklab.runs.lab import LabExperiment, LabOutcome, LabSettings
from pucklab.runs.settings import setting
from pucklab.runs.store import RunError
from pucklab.seqmodels.lab.recall import SYMBOLS, train_recall

MEMORY_CELLS = ("rnn", "lstm", "gru", "lstm-chrono")
CHANCE = 1 / SYMBOLS
SOLVED = 0.95  # mean held-out accuracy that counts as solved
Accuracies = dict[tuple[str, int], list[float]]


@dataclass
class MemorySettings(LabSettings):
    lags: list[int] | None = setting(None, "lags to test", metavar="LAG",
                                     sizes=([2, 5, 10, 20, 50, 100], [2, 10]))
    steps: int | None = setting(None, "Adam steps per run, the same for every cell",
                                sizes=(1000, 300))
    lr: float = setting(1e-3, "Adam learning rate")
    hidden: int = setting(64, "hidden units")
    chrono_max: int | None = setting(None, "T_max of lstm-chrono's initialisation, the longest "
                                     "time scale it starts with (default: the longest lag)")

    def longest(self) -> int:
        """T_max of lstm-chrono: as given, or the longest lag."""
        assert self.lags
        return self.chrono_max if self.chrono_max is not None else max(self.lags)

    def check(self) -> None:
        super().check()
        assert self.lags and self.steps is not None
        if min(self.lags) < 0 or self.steps < 1 or self.lr <= 0 or self.hidden < 1 or \
                self.longest() < 2:
            raise RunError("--lags must be >= 0, --steps and --hidden >= 1, --lr > 0, "
                           "--chrono-max >= 2")


def measure(ns: MemorySettings, lags: list[int], seeds: list[int], steps: int,
            chrono_max: int, run_dir: Path) -> Accuracies:
    """Held-out accuracy of every (cell, lag, seed) run, each a Trainer run of its own."""
    acc: Accuracies = {}
    jobs = [(c, lag, s) for c in MEMORY_CELLS for lag in lags for s in seeds]
    for cell, lag, seed in progress_bar(ns.progress, iterable=jobs, leave=False, desc="runs"):
        acc.setdefault((cell, lag), []).append(
            train_recall(cell, lag, steps, ns.hidden, ns.lr, seed,
                         run_dir / f"{cell}-lag{lag}-seed{seed}", chrono_max=chrono_max))
    return acc


def aggregate(acc: Accuracies, lags: list[int], seeds: list[int]) -> list[dict[str, Any]]:
    return [{"cell": c, "lag": lag, "accuracy": float(np.mean(acc[c, lag])),
             "accuracy_std": float(np.std(acc[c, lag])),
             "seeds_solved": f"{sum(a >= SOLVED for a in acc[c, lag])}/{len(seeds)}",
             "chance": CHANCE} for c in MEMORY_CELLS for lag in lags]


def longest_solved(rows: list[dict[str, Any]], cell: str) -> int | None:
    """The longest lag ``cell`` solved with every shorter lag solved too (no gap)."""
    mine = [r for r in rows if r["cell"] == cell]
    unsolved = [r["lag"] for r in mine if r["accuracy"] < SOLVED]
    return max([r["lag"] for r in mine if not unsolved or r["lag"] < min(unsolved)],
               default=None)


def conclude(rows: list[dict[str, Any]], steps: int, seeds: list[int],
             chrono_max: int) -> list[str]:
    conclusions = []
    reach = {c: longest_solved(rows, c) for c in MEMORY_CELLS}
    for c in MEMORY_CELLS:
        mine = [r for r in rows if r["cell"] == c]
        near_chance = [r["lag"] for r in mine if r["accuracy"] < CHANCE + 0.1]
        longest = mine[-1]
        text = f"{c} recalled with {longest['accuracy']:.2f} accuracy at lag {longest['lag']}"
        text += (f"; it solved (mean accuracy >= {SOLVED}) every lag up to {reach[c]}"
                 if reach[c] is not None else "; it solved no lag")
        text += (f"; near chance ({CHANCE:.3f}) from lag {min(near_chance)}" if near_chance
                 else "")
        conclusions.append(text + ".")
    order = sorted(MEMORY_CELLS, key=lambda c: -1 if (r := reach[c]) is None else r,
                   reverse=True)
    conclusions.append(
        f"Same budget for every cell ({steps} Adam steps of 64 sequences, {len(seeds)} seeds); "
        "longest lag solved without a gap: " + ", ".join(
            f"{c} {'none' if reach[c] is None else reach[c]}" for c in order)
        + f". lstm-chrono is the LSTM with chrono initialisation (T_max {chrono_max}).")
    return conclusions


def draw(fig: Any, acc: Accuracies, lags: list[int], steps: int, hidden: int) -> None:
    ax = fig.add_subplot(1, 1, 1)
    for c in MEMORY_CELLS:
        means = [np.mean(acc[c, lag]) for lag in lags]
        stds = [np.std(acc[c, lag]) for lag in lags]
        ax.errorbar(lags, means, yerr=stds, marker="o", capsize=3, label=c)
    ax.axhline(CHANCE, color="grey", ls=":", lw=1, label="chance")
    ax.set(xscale="log", xlabel="lag (distractor steps between symbol and recall)",
           ylabel="held-out accuracy", ylim=(0, 1.05),
           title=f"recall after a lag, {steps} Adam steps per run, {hidden} units")
    ax.legend()


def run_memory_length(ns: MemorySettings, seeds: list[int], run_dir: Path) -> LabOutcome:
    assert ns.lags and ns.steps is not None
    lags, steps, chrono_max = sorted(set(ns.lags)), ns.steps, ns.longest()
    acc = measure(ns, lags, seeds, steps, chrono_max, run_dir)
    rows = aggregate(acc, lags, seeds)
    return LabOutcome(list(rows[0]), rows, conclude(rows, steps, seeds, chrono_max),
                      lambda fig: draw(fig, acc, lags, steps, ns.hidden),
                      {"accuracy": ".3f", "accuracy_std": ".3f", "chance": ".3f"})


MEMORY_LENGTH = LabExperiment(
    "memory-length", "A plain RNN copes with a few steps of memory; an LSTM with long ones.",
    run_memory_length, MemorySettings, duration="about 13 minutes")
