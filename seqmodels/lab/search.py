"""``lab hyperparameter-search``: grid, random, coarse-to-fine and TPE search at equal budgets.

The course: search grid or random, and "random puts more samples on the parameters that
matter"; search wide first, then narrow around the best (coarse to fine). Each strategy gets the
same number of trials of the same real objective -- the best validation loss of a GRU
forecaster of the yearly sunspot numbers -- over a space where one setting matters a lot (the
learning rate, log scale) and one barely (dropout), repeated with several seeds. Every trial is
a ``sweep`` trial: the same space, samplers and objective as ``sweep forecast`` (Optuna, an
in-memory study per strategy and seed), and an ordinary forecast run folder.

Each strategy x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task, start_afresh
from pucklab.runs.search_space import Param
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.sweep_study import SweepConfig, make_sampler
from pucklab.runs.sweep_trial import objective

STRATEGIES = ("grid", "random", "coarse-to-fine", "tpe")
COLOURS = {"grid": "tab:grey", "random": "tab:blue", "coarse-to-fine": "tab:green",
           "tpe": "tab:orange"}
SPACE = (Param("lr", "float", 1e-4, 1e-1, log=True), Param("dropout", "float", 0.0, 0.5))
IMPORTANT = "lr"
Trace = list[dict[str, Any]]  # one dict per trial, in trial order: its params and value


@dataclass
class SearchSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(10)
    trials: int | None = setting(None, "trials per strategy and seed (16: a 4 x 4 grid)", low=1,
                                 sizes=(16, 4))
    epochs: int | None = setting(None, "epochs per trial", low=1, sizes=(12, 2))
    hidden: int = setting(32, "GRU hidden units", low=1)


def _config(strategy: str, trials: int, seed: int, epochs: int, hidden: int,
            device: str = "cpu") -> SweepConfig:
    points = max(2, math.isqrt(trials))  # grid: points per parameter, points**2 <= trials
    # one network per trial: levels at the default lookback (what forecast chooses for
    # sunspots), no validation search of its own
    fixed = {"dataset": "sunspots", "horizon": 10, "cell": "gru", "hidden": hidden,
             "epochs": float(epochs), "seeds": [seed], "baselines": ["naive"],
             "difference": "none", "lookback": 30, "progress": False, "device": device}
    return SweepConfig("forecast", [dict(p.__dict__, choices=[]) for p in SPACE], fixed,
                       trials, strategy, "none", seed, "val_loss", "minimize", points)


def search(strategy: str, trials: int, seed: int, epochs: int, hidden: int,
           folder: Path, device: str = "cpu") -> Trace:
    """One strategy's trials, in order (a grid runs each point once, so at most points**2)."""
    import optuna

    from pucklab.seqmodels.forecast.runner import TRAINABLE

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = _config(strategy, trials, seed, epochs, hidden, device)
    study = optuna.create_study(direction="minimize", sampler=make_sampler(cfg),
                                pruner=optuna.pruners.NopPruner())
    n = min(trials, cfg.grid_points ** len(SPACE)) if strategy == "grid" else trials
    study.optimize(objective(cfg, TRAINABLE, folder), n_trials=n)
    return [{**t.params, "value": t.value, "stage": t.user_attrs.get("stage", 0)}
            for t in sorted(study.trials, key=lambda t: t.number)]


def best_so_far(trace: Trace, trials: int) -> np.ndarray:
    """The lowest value after each trial (a grid that ran out stays at its best)."""
    values = np.minimum.accumulate([t["value"] for t in trace])
    return np.concatenate([values, np.full(trials - len(values), values[-1])])


def spread_decades(trace: Trace) -> float:
    """How many decades of the learning rate a set of trials spans."""
    lrs = [t[IMPORTANT] for t in trace]
    return float(np.log10(max(lrs) / min(lrs))) if lrs else math.nan


def tasks(ns: SearchSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{strategy}-seed{seed}", seed, {"strategy": strategy})
            for seed in seeds for strategy in STRATEGIES]


def measure(ns: SearchSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One strategy's search for one seed (an in-memory study: a retried task searches again
    from its first trial)."""
    assert ns.trials is not None and ns.epochs is not None
    start_afresh(folder, resume)
    return {"trace": search(task.params["strategy"], ns.trials, task.seed, ns.epochs,
                            ns.hidden, folder, ns.device)}


def aggregate(strategy: str, traces: list[Trace], trials: int) -> dict[str, Any]:
    """One row: the best found (mean, spread over seeds), how many learning rates were tried,
    and how wide the first and the last third of the trials ranged in the learning rate."""
    bests = np.array([best_so_far(t, trials)[-1] for t in traces])
    third = max(1, trials // 3)
    return {"strategy": strategy, "trials": len(traces[0]), "best_val_loss": interval(bests.tolist()),
            "distinct_lr": float(np.mean([len({t[IMPORTANT] for t in tr}) for tr in traces])),
            "best_lr": float(np.median([min(tr, key=lambda t: t["value"])[IMPORTANT]
                                        for tr in traces])),
            "first_third_decades": float(np.mean([spread_decades(t[:third]) for t in traces])),
            "last_third_decades": float(np.mean([spread_decades(t[-third:]) for t in traces]))}


def compare(traces: dict[str, list[Trace]], trials: int) -> list[Claim]:
    """Seed by seed (a seed: the same data and network starts for every strategy): random's
    best against the grid's; coarse-to-fine's last third of trials against its first."""
    finals = {s: [float(best_so_far(tr, trials)[-1]) for tr in traces[s]] for s in STRATEGIES}
    third = max(1, trials // 3)
    narrow = [spread_decades(t[-third:]) - spread_decades(t[:third])
              for t in traces["coarse-to-fine"]]
    return [Claim(f"random search finds a lower best validation loss than the grid at {trials} "
                  "trials (random - grid)", difference(finals["random"], finals["grid"]),
                  higher=False),
            Claim("coarse-to-fine narrows in: its last third of trials spans fewer decades of "
                  "learning rate than its first (last - first)", difference(narrow, 0.0),
                  higher=False)]


def conclude(rows: dict[str, dict[str, Any]], traces: dict[str, list[Trace]],
             trials: int) -> list[str]:
    g, r, c, t = (rows[s] for s in STRATEGIES)
    finals = {s: [best_so_far(tr, trials)[-1] for tr in traces[s]] for s in STRATEGIES}
    wins = sum(a < b for a, b in zip(finals["random"], finals["grid"], strict=True))
    n = len(finals["grid"])
    ranked = sorted(STRATEGIES, key=lambda s: rows[s]["best_val_loss"].mean)
    out = [f"Random vs grid at {trials} trials: random found the lower best validation loss in "
           f"{wins} of {n} seeds; the mean best was {r['best_val_loss'].mean:.4f} for random "
           f"and {g['best_val_loss'].mean:.4f} for the grid. "
           f"Random tried {r['distinct_lr']:.0f} distinct learning rates, the grid "
           f"{g['distinct_lr']:.0f}: its {g['trials']} points repeat each learning rate once "
           "per dropout value.",
           f"Coarse-to-fine narrowed in: its last third of trials spanned "
           f"{c['last_third_decades']:.2f} decades of learning rate against "
           f"{c['first_third_decades']:.2f} in its first third (random: "
           f"{r['first_third_decades']:.2f} -> {r['last_third_decades']:.2f})."
           if c["last_third_decades"] < c["first_third_decades"] else
           f"Coarse-to-fine did not narrow in: its last third spanned "
           f"{c['last_third_decades']:.2f} decades of learning rate against "
           f"{c['first_third_decades']:.2f} in its first.",
           f"Ranking by mean best validation loss: {', '.join(ranked)}; TPE "
           f"{t['best_val_loss'].mean:.4f}, coarse-to-fine {c['best_val_loss'].mean:.4f}. The best "
           f"learning rates found lie around {np.median([rows[s]['best_lr'] for s in STRATEGIES]):.2g}."]
    return out


def _draw(traces: dict[str, list[Trace]], trials: int):
    def draw(fig: Any) -> None:
        ax1, ax2 = fig.subplots(1, 2)
        x = np.arange(1, trials + 1)
        for s in STRATEGIES:
            curves = np.stack([best_so_far(t, trials) for t in traces[s]])
            mean = curves.mean(axis=0)
            ax1.plot(x, mean, color=COLOURS[s], label=s)
            ax1.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=COLOURS[s],
                             alpha=0.15)
            for k, tr in enumerate(traces[s]):
                ax2.scatter([t[IMPORTANT] for t in tr], [t["value"] for t in tr], s=12,
                            color=COLOURS[s], alpha=0.6, label=s if k == 0 else None)
        ax1.set(xlabel="trials", ylabel="best validation loss so far (mean, min-max over seeds)",
                title="GRU on sunspots: equal budgets")
        ax1.set_yscale("log")
        ax1.legend()
        ax2.set(xlabel="learning rate", ylabel="validation loss of the trial", xscale="log",
                yscale="log", title="every trial against the parameter that matters")
        ax2.legend()
    return draw


def aggregate_all(ns: SearchSettings, found: dict[str, dict[str, Any]], run_dir: Path
                  ) -> LabOutcome:
    trials = ns.trials
    assert trials is not None
    traces: dict[str, list[Trace]] = {s: [] for s in STRATEGIES}
    for task in tasks(ns, ns.seed_list()):
        traces[task.params["strategy"]].append(found[task.key]["trace"])
    rows = {s: aggregate(s, traces[s], trials) for s in STRATEGIES}
    columns = ["strategy", "trials", "best_val_loss", "distinct_lr", "best_lr",
               "first_third_decades", "last_third_decades"]
    return LabOutcome(columns, list(rows.values()), conclude(rows, traces, trials),
                      _draw(traces, trials),
                      {"best_val_loss": ".4f", "distinct_lr": ".1f",
                       "best_lr": ".2g", "first_third_decades": ".2f",
                       "last_third_decades": ".2f"}, compare(traces, trials))


HYPERPARAMETER_SEARCH = LabExperiment(
    "hyperparameter-search",
    "random search beats a grid of the same size when few parameters matter, and "
    "coarse-to-fine narrows in on the best",
    None, SearchSettings, duration="about 7 minutes with --workers 2", tasks=tasks,
    measure=measure, aggregate=aggregate_all)
