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

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
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
from pucklab.runs.figures import progress_bar
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings
from pucklab.runs.optim import make_optimizer
from pucklab.runs.settings import setting
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


def run_descent(ns: DescentSettings, seeds: list[int], run_dir: Path) -> LabOutcome:
    epochs = ns.epochs
    assert epochs is not None
    device = resolve_device(ns.device)
    results: dict[Condition, list[dict[str, Any]]] = {c: [] for c in CONDITIONS}
    jobs = [(c, s) for c in CONDITIONS for s in seeds]
    for cond, seed in progress_bar(ns.progress, iterable=jobs, leave=False, desc="runs"):
        results[cond].append(measure(cond, seed, epochs, device))
    rows = []
    for cond, runs in results.items():
        losses = [r["train_loss"] for r in runs]
        diverged = sum(not math.isfinite(v) or v > r["start_loss"]
                       for v, r in zip(losses, runs, strict=True))
        rows.append({"condition": cond.name, "optimizer": cond.optimizer,
                     "batch": cond.batch or "all", "lr": cond.lr
                     if not cond.decay else f"{cond.lr:g} -> 0",
                     "updates": int(runs[0]["updates"]),
                     "seconds": float(np.mean([r["seconds"] for r in runs])),
                     "final_train_loss": float(np.mean(losses)),
                     "test_accuracy": float(np.nanmean([r["test_accuracy"] for r in runs]))
                     if diverged < len(runs) else math.nan,
                     "diverged": f"{diverged}/{len(runs)}"})
    return LabOutcome(list(rows[0]), rows, conclude(rows, epochs),
                      lambda fig: draw(fig, results),
                      {"seconds": ".2f", "final_train_loss": ".4f", "test_accuracy": ".3f"})


def conclude(rows: list[dict[str, Any]], epochs: int) -> list[str]:
    by = {r["condition"]: r for r in rows}
    full, sgd, mini = by["batch GD"], by["stochastic GD"], by["mini-batch GD"]
    small, good, large = by["lr too small"], by["mini-batch GD"], by["lr too large"]
    decay = by["large, then decaying"]
    plain = [small, good, large, decay]
    best_plain = min(plain, key=lambda r: r["final_train_loss"])

    def loss(r: dict[str, Any]) -> str:
        return "inf" if math.isinf(r["final_train_loss"]) else f"{r['final_train_loss']:.3f}"

    return [
        f"In {epochs} epochs: batch GD made {full['updates']} updates (training loss "
        f"{loss(full)}), mini-batch {mini['updates']} ({loss(mini)}), stochastic "
        f"{sgd['updates']} ({loss(sgd)}) and took {sgd['seconds'] / mini['seconds']:.1f}x "
        "mini-batch's time: mini-batch is the compromise of updates per second and per epoch: "
        + ("held." if mini["final_train_loss"] < full["final_train_loss"]
           and mini["seconds"] < sgd["seconds"] else "did not hold here."),
        f"Learning rate at batch 32: too small ({small['lr']:g}) ended at {loss(small)}, good "
        f"({good['lr']:g}) {loss(good)}, too large ({large['lr']:g}) {loss(large)} "
        f"({large['diverged']} runs diverged or ended above the starting loss): "
        + ("held." if small["final_train_loss"] > good["final_train_loss"]
           and large["diverged"][0] != "0" else "did not hold here."),
        f"Large, then decaying ({decay['lr']}) ended at {loss(decay)}; it was the best plain-SGD "
        "schedule: " + ("held." if best_plain is decay else
                        f"did not hold here (best: {best_plain['condition']})."),
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
    "neither too small nor too large, and large-then-decaying is best.", run_descent,
    DescentSettings, duration="under a minute")
