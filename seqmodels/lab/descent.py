"""``lab gradient-descent``: batch, stochastic and mini-batch gradient descent, and the
learning rate: too small, good, too large, large then decaying; momentum and Adam.

One small network (64 -> 32 tanh -> 10, Xavier start) on scikit-learn's digits, every condition
for the same number of epochs (passes over the 1,347 training images), so they see the same data
and differ in how many updates they make of it and how large:

- batch size: all 1,347 (batch gradient descent), 1 (stochastic) and 32 (mini-batch);
- at batch 32, plain SGD at a too small, a good and a too large learning rate, and a large rate
  decayed to zero over the run (cosine, ``torch.optim.lr_scheduler.CosineAnnealingLR``);
- momentum and Adam from the shared optimisers (``pucklab.runs.optim.make_optimizer``).

Measured: final training loss (all training images), test accuracy, updates and seconds; a
run "diverged" when its final loss is not finite or above its loss before training;
the figure puts the curves against updates and against wall time.

Each condition x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.optim import make_optimizer
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.tables import number
from pucklab.seqmodels.basics.data import digits
from pucklab.seqmodels.basics.nets import as_tensors, mlp, train_classifier

SIZES = (64, 32, 10)
POINTS = 60  # recorded points per curve


@dataclass(frozen=True)
class Condition:
    name: str
    batch: int  # 0 = the whole training set
    lr: float
    optimizer: str = "sgd"
    decay: bool = False  # cosine decay of the learning rate to 0 over the run


CONDITIONS = (
    Condition("batch GD", 0, 0.5),
    Condition("stochastic GD", 1, 0.01),
    Condition("mini-batch GD", 32, 0.1),
    Condition("lr too small", 32, 0.001),
    Condition("lr too large", 32, 20.0),
    Condition("large, then decaying", 32, 0.5, decay=True),
    Condition("momentum 0.9", 32, 0.1, optimizer="momentum"),
    Condition("adam", 32, 0.003, optimizer="adam"),
)


@dataclass
class DescentSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    epochs: int | None = setting(None, "passes over the training set per condition", low=1,
                                 sizes=(20, 3))


def measure(cond: Condition, seed: int, epochs: int, device: torch.device) -> dict[str, Any]:
    split = digits(seed)
    x, y, _, _ = as_tensors(split, device)
    n = len(y)
    batch = cond.batch or n
    steps = epochs * math.ceil(n / batch)
    model = mlp(SIZES, "tanh", "xavier", seed).to(device)
    with torch.no_grad():
        start_loss = float(nn.functional.cross_entropy(model(x), y))
    opt = make_optimizer(cond.optimizer, model.parameters(), cond.lr)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
                 if cond.decay else None)
    rows = train_classifier(model, split, opt, steps, batch, seed,
                            every=max(1, steps // POINTS), scheduler=scheduler, device=device)
    with torch.no_grad():
        loss = float(nn.functional.cross_entropy(model(x), y))
    return {"rows": rows, "updates": rows[-1]["update"], "seconds": rows[-1]["seconds"],
            "train_loss": loss if math.isfinite(loss) else math.inf,
            "test_accuracy": rows[-1]["test_accuracy"], "start_loss": start_loss}


def tasks(ns: DescentSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{c.name.replace(',', '').replace(' ', '-')}-seed{seed}", seed,
                 {"condition": c.name}) for c in CONDITIONS for seed in seeds]


def measure_task(ns: DescentSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One condition and seed (seconds of work: a retried task runs again)."""
    assert ns.epochs is not None
    cond = next(c for c in CONDITIONS if c.name == task.params["condition"])
    return measure(cond, task.seed, ns.epochs, resolve_device(ns.device))


def _diverged(r: dict[str, Any]) -> bool:
    return not math.isfinite(r["train_loss"]) or r["train_loss"] > r["start_loss"]


def compare(results: dict[Condition, list[dict[str, Any]]]) -> list[Claim]:
    """Seed by seed (a seed: the same data and initial weights for every condition); losses
    and times in orders of magnitude."""
    by = {c.name: runs for c, runs in results.items()}

    def log(name: str, key: str) -> list[float]:
        return [float(np.log10(r[key])) for r in by[name]]

    return [
        Claim("mini-batch ends at a lower training loss than batch GD in the same epochs "
              "(log10 of the loss, mini-batch - batch)",
              difference(log("mini-batch GD", "train_loss"), log("batch GD", "train_loss")),
              higher=False),
        Claim("mini-batch takes less time than stochastic GD (log10 of the seconds, "
              "mini-batch - stochastic)",
              difference(log("mini-batch GD", "seconds"), log("stochastic GD", "seconds")),
              higher=False),
        Claim("too small a learning rate ends at a higher loss than a good one (log10 of the "
              "loss, too small - good)",
              difference(log("lr too small", "train_loss"), log("mini-batch GD", "train_loss"))),
        Claim("too large a learning rate diverges (share of runs diverged)",
              difference([float(_diverged(r)) for r in by["lr too large"]], 0.0)),
        Claim("large, then decaying ends lower than the good constant rate (log10 of the loss, "
              "decaying - constant)",
              difference(log("large, then decaying", "train_loss"),
                         log("mini-batch GD", "train_loss")), higher=False),
    ]


def aggregate(ns: DescentSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    epochs = ns.epochs
    assert epochs is not None
    by_name = {c.name: c for c in CONDITIONS}
    results: dict[Condition, list[dict[str, Any]]] = {c: [] for c in CONDITIONS}
    for task in tasks(ns, ns.seed_list()):
        results[by_name[task.params["condition"]]].append(found[task.key])
    rows = []
    for cond, runs in results.items():
        losses = [r["train_loss"] for r in runs]
        diverged = sum(map(_diverged, runs))
        rows.append({"condition": cond.name, "optimizer": cond.optimizer,
                     "batch": cond.batch or "all", "lr": cond.lr
                     if not cond.decay else f"{cond.lr:g} -> 0",
                     "updates": int(runs[0]["updates"]),
                     "seconds": float(np.mean([r["seconds"] for r in runs])),
                     "final_train_loss": interval(losses) if all(map(math.isfinite, losses))
                     else math.inf,
                     "test_accuracy": float(np.nanmean([r["test_accuracy"] for r in runs]))
                     if diverged < len(runs) else math.nan,
                     "diverged": f"{diverged}/{len(runs)}"})
    return LabOutcome(list(rows[0]), rows, conclude(rows, epochs),
                      lambda fig: draw(fig, results),
                      {"seconds": ".2f", "final_train_loss": ".4f", "test_accuracy": ".3f"},
                      compare(results))


def conclude(rows: list[dict[str, Any]], epochs: int) -> list[str]:
    by = {r["condition"]: r for r in rows}
    full, sgd, mini = by["batch GD"], by["stochastic GD"], by["mini-batch GD"]
    small, good, large = by["lr too small"], by["mini-batch GD"], by["lr too large"]
    decay = by["large, then decaying"]
    plain = [small, good, large, decay]
    best_plain = min(plain, key=lambda r: number(r["final_train_loss"]))

    def loss(r: dict[str, Any]) -> str:
        v = number(r["final_train_loss"])
        return "inf" if math.isinf(v) else f"{v:.3f}"

    return [
        f"In {epochs} epochs: batch GD made {full['updates']} updates (training loss "
        f"{loss(full)}), mini-batch {mini['updates']} ({loss(mini)}), stochastic "
        f"{sgd['updates']} ({loss(sgd)}) and took {sgd['seconds'] / mini['seconds']:.1f}x "
        "mini-batch's time: mini-batch is the compromise of updates per second and per epoch: "
        + "see the verdicts.",
        f"Learning rate at batch 32: too small ({small['lr']:g}) ended at {loss(small)}, good "
        f"({good['lr']:g}) {loss(good)}, too large ({large['lr']:g}) {loss(large)} "
        f"({large['diverged']} runs diverged or ended above the starting loss).",
        f"Large, then decaying ({decay['lr']}) ended at {loss(decay)}; the best plain-SGD "
        f"schedule by the mean was {best_plain['condition']}.",
        f"Momentum 0.9: {loss(by['momentum 0.9'])}, Adam: {loss(by['adam'])} (test accuracy "
        f"{by['momentum 0.9']['test_accuracy']:.3f} and {by['adam']['test_accuracy']:.3f}, "
        f"plain mini-batch {good['test_accuracy']:.3f}).",
    ]


def draw(fig: Any, results: dict[Condition, list[dict[str, Any]]]) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for cond, runs in results.items():
        r = runs[0]["rows"]
        losses = [min(row["train_loss"], 1e3) for row in r]
        line, = ax1.plot([row["update"] for row in r], losses, lw=1.2, label=cond.name)
        ax2.plot([max(row["seconds"], 1e-4) for row in r], losses, lw=1.2,
                 color=line.get_color())
    ax1.set(xscale="log", yscale="log", xlabel="update", ylabel="training loss (first seed)",
            title="against updates")
    ax2.set(xscale="log", yscale="log", xlabel="seconds of training", title="against wall time")
    ax1.legend(fontsize=7)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)


GRADIENT_DESCENT = LabExperiment(
    "gradient-descent", "Mini-batch is the practical compromise; the learning rate must be "
    "neither too small nor too large, and large-then-decaying is best.", None,
    DescentSettings, duration="about a minute", tasks=tasks, measure=measure_task,
    aggregate=aggregate)
