"""``lab memory-length``: RNN, LSTM, GRU and a chrono-initialised LSTM under the same step
budget on the recall task; held-out accuracy against the lag.

Each cell x lag x seed is one task (:mod:`pucklab.runs.lab_tasks`): a Trainer run in its own
folder; ``--workers`` spreads them over processes.

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.lab import LabExperiment, LabOutcome, LabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError
from pucklab.seqmodels.lab.recall import SYMBOLS, train_recall

MEMORY_CELLS = ("rnn", "lstm", "gru", "lstm-chrono")
CHANCE = 1 / SYMBOLS
SOLVED = 0.95  # mean held-out accuracy that counts as solved
Accuracies = dict[tuple[str, int], list[float]]


@dataclass
class MemorySettings(LabSettings):
    seeds: int | None = lab_seeds(5)
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


def tasks(ns: MemorySettings, seeds: list[int]) -> list[Task]:
    """One Trainer run per cell x lag x seed."""
    assert ns.lags
    return [Task(f"{cell}-lag{lag}-seed{seed}", seed, {"cell": cell, "lag": lag})
            for cell in MEMORY_CELLS for lag in sorted(set(ns.lags)) for seed in seeds]


def measure(ns: MemorySettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """Held-out accuracy of one run. A retried task starts again (its run is seconds long)."""
    assert ns.steps is not None
    if resume:
        shutil.rmtree(folder)
    return {"accuracy": train_recall(task.params["cell"], task.params["lag"], ns.steps,
                                     ns.hidden, ns.lr, task.seed, folder,
                                     chrono_max=ns.longest())}


def accuracies(ns: MemorySettings, found: dict[str, dict[str, Any]]) -> Accuracies:
    acc: Accuracies = {}
    for task in tasks(ns, ns.seed_list()):
        acc.setdefault((task.params["cell"], task.params["lag"]), []).append(
            found[task.key]["accuracy"])
    return acc


def table(acc: Accuracies, lags: list[int], seeds: list[int]) -> list[dict[str, Any]]:
    return [{"cell": c, "lag": lag, "accuracy": interval(acc[c, lag]),
             "seeds_solved": f"{sum(a >= SOLVED for a in acc[c, lag])}/{len(seeds)}",
             "chance": CHANCE} for c in MEMORY_CELLS for lag in lags]


def longest_solved(rows: list[dict[str, Any]], cell: str) -> int | None:
    """The longest lag ``cell`` solved with every shorter lag solved too (no gap)."""
    mine = [r for r in rows if r["cell"] == cell]
    unsolved = [r["lag"] for r in mine if r["accuracy"].mean < SOLVED]
    return max([r["lag"] for r in mine if not unsolved or r["lag"] < min(unsolved)],
               default=None)


def compare(acc: Accuracies, lags: list[int]) -> list[Claim]:
    """The claim's comparisons, seed by seed (a seed draws the same sequences for every cell):
    the RNN above chance at the shortest lag; the LSTMs above the RNN at the longest."""
    short, long = lags[0], lags[-1]
    return [
        Claim(f"the RNN recalls above chance at lag {short} (accuracy - chance)",
              difference(acc["rnn", short], CHANCE)),
        Claim(f"the LSTM recalls better than the RNN at lag {long} (lstm - rnn accuracy)",
              difference(acc["lstm", long], acc["rnn", long])),
        Claim(f"the chrono-initialised LSTM recalls better than the RNN at lag {long} "
              "(lstm-chrono - rnn accuracy)",
              difference(acc["lstm-chrono", long], acc["rnn", long])),
    ]


def conclude(rows: list[dict[str, Any]], steps: int, seeds: list[int],
             chrono_max: int) -> list[str]:
    conclusions = []
    reach = {c: longest_solved(rows, c) for c in MEMORY_CELLS}
    for c in MEMORY_CELLS:
        mine = [r for r in rows if r["cell"] == c]
        near_chance = [r["lag"] for r in mine if r["accuracy"].mean < CHANCE + 0.1]
        longest = mine[-1]
        text = (f"{c} recalled with {longest['accuracy'].format('.2f')} accuracy at lag "
                f"{longest['lag']}")
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
        means = np.array([np.mean(acc[c, lag]) for lag in lags])
        lows = np.array([interval(acc[c, lag]).low for lag in lags])
        highs = np.array([interval(acc[c, lag]).high for lag in lags])
        ax.errorbar(lags, means, yerr=[means - lows, highs - means], marker="o", capsize=3,
                    label=c)
    ax.axhline(CHANCE, color="grey", ls=":", lw=1, label="chance")
    ax.set(xscale="log", xlabel="lag (distractor steps between symbol and recall)",
           ylabel="held-out accuracy (mean, 95% interval)", ylim=(0, 1.05),
           title=f"recall after a lag, {steps} Adam steps per run, {hidden} units")
    ax.legend()


def aggregate(ns: MemorySettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    assert ns.lags and ns.steps is not None
    lags, steps, seeds = sorted(set(ns.lags)), ns.steps, ns.seed_list()
    acc = accuracies(ns, found)
    rows = table(acc, lags, seeds)
    return LabOutcome(list(rows[0]), rows, conclude(rows, steps, seeds, ns.longest()),
                      lambda fig: draw(fig, acc, lags, steps, ns.hidden),
                      {"accuracy": ".3f", "chance": ".3f"}, compare(acc, lags))


MEMORY_LENGTH = LabExperiment(
    "memory-length", "A plain RNN copes with a few steps of memory; an LSTM with long ones.",
    None, MemorySettings, duration="about 12 minutes with --workers 2 (22 with 1)",
    tasks=tasks, measure=measure, aggregate=aggregate)
