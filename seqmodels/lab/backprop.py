"""``lab backprop``: backpropagation written by hand in numpy, checked, then trained.

The network is :class:`pucklab.seqmodels.basics.handprop.Network` (64 -> 32 tanh -> 16 ReLU -> 10
softmax on scikit-learn's digits). Per seed:

1. its hand-written gradients on a batch against torch's autograd on the same network
   (:func:`~pucklab.seqmodels.basics.handprop.to_torch`), and against central finite
   differences on every one of its parameters;
2. the same minibatch SGD (same start, same batches, same learning rate) in numpy by hand and in
   torch: test accuracy of both, and how far their weights ended apart.

Each seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in ``pucklab.runs.registry``;
``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, Interval, difference
from pucklab.runs.store import RunError
from pucklab.seqmodels.basics.data import Split, digits
from pucklab.seqmodels.basics.handprop import (
    Network,
    finite_differences,
    relative_error,
    to_torch,
    torch_gradients,
)

SIZES = (64, 32, 16, 10)
ACTIVATIONS = ("tanh", "relu")
CHECK_BATCH = 64  # examples in the gradient checks


@dataclass
class BackpropSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    epochs: int | None = setting(None, "SGD epochs", sizes=(30, 5))
    lr: float = setting(0.1, "SGD learning rate")
    batch_size: int = setting(32, "minibatch size")

    def check(self) -> None:
        super().check()
        assert self.epochs is not None
        if self.epochs < 1 or self.lr <= 0 or self.batch_size < 1:
            raise RunError("--epochs and --batch-size must be >= 1, --lr > 0")


def check(net: Network, split: Split, device: torch.device) -> dict[str, float]:
    """Hand-written gradients against autograd and against finite differences."""
    x, t = split.x_train[:CHECK_BATCH], split.y_train[:CHECK_BATCH]
    net.loss(x, t)
    net.backward()
    hand = [g.copy() for _, g in net.parameters()]
    auto = torch_gradients(to_torch(net, device), x, t)
    numeric = finite_differences(net, x, t)
    rel = np.concatenate([relative_error(h, n).ravel() for h, n in zip(hand, numeric,
                                                                      strict=True)])
    return {"parameters": int(sum(h.size for h in hand)),
            "max_diff_autograd": max(float(np.abs(h - a).max())
                                     for h, a in zip(hand, auto, strict=True)),
            "max_diff_finite_diff": max(float(np.abs(h - n).max())
                                        for h, n in zip(hand, numeric, strict=True)),
            "median_rel_error_fd": float(np.median(rel))}


def train_both(net: Network, split: Split, epochs: int, lr: float, batch: int, seed: int,
               device: torch.device) -> dict[str, Any]:
    """The same SGD by hand and in torch; accuracies per epoch, seconds, final weight gap."""
    model = to_torch(net, device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x_test = torch.from_numpy(split.x_test).to(device)
    rng = np.random.default_rng(seed)
    curves: dict[str, list[float]] = {"hand": [], "torch": []}
    seconds = {"hand": 0.0, "torch": 0.0}
    n = len(split.y_train)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            x, t = split.x_train[idx], split.y_train[idx]
            t0 = time.perf_counter()
            net.loss(x, t)
            net.backward()
            net.sgd_step(lr)
            t1 = time.perf_counter()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(torch.from_numpy(x).to(device)),
                                              torch.from_numpy(t).to(device)).backward()
            opt.step()
            seconds["hand"] += t1 - t0
            seconds["torch"] += time.perf_counter() - t1
        curves["hand"].append(float((net.predict(split.x_test) == split.y_test).mean()))
        with torch.no_grad():
            predicted = model(x_test).argmax(1).cpu().numpy()
        curves["torch"].append(float((predicted == split.y_test).mean()))
    gap = 0.0
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    for mine, theirs in zip(net.linears(), lins, strict=True):
        gap = max(gap, float(np.abs(mine.W - theirs.weight.detach().cpu().numpy().T).max()),
                  float(np.abs(mine.b - theirs.bias.detach().cpu().numpy()).max()))
    return {"curves": curves, "seconds": seconds, "weight_gap": gap}


def tasks(ns: BackpropSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"seed{seed}", seed, {}) for seed in seeds]


def measure(ns: BackpropSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One seed: the gradient checks and both trainings (seconds of work: a retried task runs
    again)."""
    epochs = ns.epochs
    assert epochs is not None
    device = resolve_device(ns.device)
    split = digits(task.seed)
    net = Network(SIZES, ACTIVATIONS, seed=task.seed)
    checked = check(net, split, device)
    trained = train_both(net, split, epochs, ns.lr, ns.batch_size, task.seed, device)
    row = {"seed": task.seed, **checked,
           "test_acc_hand": trained["curves"]["hand"][-1],
           "test_acc_torch": trained["curves"]["torch"][-1],
           "weight_gap_after": trained["weight_gap"],
           "s_per_epoch_hand": trained["seconds"]["hand"] / epochs,
           "s_per_epoch_torch": trained["seconds"]["torch"] / epochs}
    return {"row": row, "curves": trained["curves"]}


AGREE = 1e-6  # gradients that differ by less agree (float64 throughout)
SAME_WEIGHTS = 1e-9  # weights this close after training: the same training


def compare(rows: list[dict[str, Any]]) -> list[Claim]:
    """Agreement claims as orders of magnitude below a tolerance, over seeds."""
    def below(key: str, tol: float) -> Interval:
        return difference([float(np.log10(max(r[key], 1e-300))) for r in rows],
                          float(np.log10(tol)))

    return [Claim(f"hand-written gradients equal autograd's to {AGREE:g} (log10 of the largest "
                  f"difference - log10 {AGREE:g})", below("max_diff_autograd", AGREE),
                  higher=False),
            Claim(f"... and central finite differences to {AGREE:g} (log10 of the largest "
                  f"difference - log10 {AGREE:g})", below("max_diff_finite_diff", AGREE),
                  higher=False),
            Claim(f"the same SGD by hand and in torch ends with weights within {SAME_WEIGHTS:g} "
                  f"(log10 of the largest gap - log10 {SAME_WEIGHTS:g})",
                  below("weight_gap_after", SAME_WEIGHTS), higher=False)]


def aggregate(ns: BackpropSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    epochs = ns.epochs
    assert epochs is not None
    results = [found[t.key] for t in tasks(ns, ns.seed_list())]
    rows = [r["row"] for r in results]
    curves = [r["curves"] for r in results]
    columns = ["seed", "parameters", "max_diff_autograd", "max_diff_finite_diff",
               "median_rel_error_fd", "test_acc_hand", "test_acc_torch", "weight_gap_after",
               "s_per_epoch_hand", "s_per_epoch_torch"]
    return LabOutcome(columns, rows, conclude(rows, epochs),
                      lambda fig: draw(fig, curves, rows),
                      {"max_diff_autograd": ".1e", "max_diff_finite_diff": ".1e",
                       "median_rel_error_fd": ".1e", "test_acc_hand": ".4f",
                       "test_acc_torch": ".4f", "weight_gap_after": ".1e",
                       "s_per_epoch_hand": ".3f", "s_per_epoch_torch": ".3f"}, compare(rows))


def conclude(rows: list[dict[str, Any]], epochs: int) -> list[str]:
    auto = max(r["max_diff_autograd"] for r in rows)
    fd = max(r["max_diff_finite_diff"] for r in rows)
    acc_h = np.mean([r["test_acc_hand"] for r in rows])
    acc_t = np.mean([r["test_acc_torch"] for r in rows])
    gap = max(r["weight_gap_after"] for r in rows)
    same = all(r["test_acc_hand"] == r["test_acc_torch"] for r in rows)
    speed = np.mean([r["s_per_epoch_torch"] / r["s_per_epoch_hand"] for r in rows])
    return [
        f"Hand-written gradients of all {rows[0]['parameters']:,} parameters equal torch's "
        f"autograd to {auto:.1e} at most, and central finite differences to {fd:.1e}.",
        f"After {epochs} epochs of the same SGD, test accuracy by hand {acc_h:.4f} and in torch "
        f"{acc_t:.4f} ({'identical in every seed' if same else 'not identical in every seed'});"
        f" the weights ended at most {gap:.1e} apart, so the two computed the same training.",
        f"An epoch by hand took {1 / speed:.2f}x the time of torch's on this machine "
        "(numpy's matrix products against torch's, plus autograd's bookkeeping).",
    ]


def draw(fig: Any, curves: list[dict[str, list[float]]], rows: list[dict[str, Any]]) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for k, c in enumerate(curves):
        x = np.arange(1, len(c["hand"]) + 1)
        ax1.plot(x, c["hand"], color="tab:blue", lw=2.5, alpha=0.5,
                 label="numpy, by hand" if k == 0 else None)
        ax1.plot(x, c["torch"], color="black", lw=0.8, ls="--",
                 label="torch, autograd" if k == 0 else None)
    ax1.set(xlabel="epoch", ylabel="test accuracy", title="the same SGD, two implementations")
    ax1.legend()
    names = ["max |hand - autograd|", "max |hand - finite diff.|"]
    for k, key in enumerate(("max_diff_autograd", "max_diff_finite_diff")):
        ax2.scatter([k] * len(rows), [max(r[key], 1e-18) for r in rows], s=30)
    ax2.axhline(1e-6, color="grey", ls="--", lw=1)
    ax2.set(yscale="log", xticks=[0, 1], xticklabels=names, xlim=(-0.6, 1.6),
            ylabel="largest gradient difference (per seed)", title="gradient checks (dashed: 1e-6)")


BACKPROP = LabExperiment(
    "backprop", "Backpropagation by hand is the chain rule: it equals autograd and finite "
    "differences, and trains as well.", None, BackpropSettings, duration="about 15 seconds",
    tasks=tasks, measure=measure, aggregate=aggregate)
