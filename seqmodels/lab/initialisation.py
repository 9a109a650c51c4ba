"""``lab initialisation``: zero, too small, too large, Xavier and He starts of a deep MLP.

The MLP of ``lab activations`` (8 hidden layers of 64 units, scikit-learn's digits, plain
minibatch SGD), with tanh and with ReLU, started five ways
(:func:`~pucklab.seqmodels.basics.nets.init_linear`): all weights zero, N(0, 0.01^2),
N(0, 1), Xavier (made for tanh) and He (made for ReLU). Measured per start and seed:

- the spread (std) of every hidden layer's outputs on the test inputs before training: a good
  start keeps it steady with depth, a small one lets it die out, a large one saturates tanh and
  blows ReLU up;
- symmetry: after training, how different the units of a layer are (the std across units of
  their incoming weights, smallest over the hidden layers); zero start gives every unit the same
  gradient, so they stay identical, 0;
- the training curve, the updates to 90 % test accuracy and the final accuracy.

Each activation x start x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError
from pucklab.seqmodels.basics.data import digits
from pucklab.seqmodels.basics.nets import (
    LARGE_STD,
    SMALL_STD,
    as_tensors,
    first_update,
    hidden_outputs,
    mlp,
    train_classifier,
)

STARTS = ("zero", "small", "large", "xavier", "he")
LABELS = {"zero": "zero", "small": f"N(0, {SMALL_STD:g}^2)", "large": f"N(0, {LARGE_STD:g})",
          "xavier": "Xavier", "he": "He"}
ACTIVATIONS = ("tanh", "relu")
WIDTH = 64
TARGET = 0.9


@dataclass
class InitialisationSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    steps: int | None = setting(None, "SGD updates", sizes=(2000, 300))
    lr: float = setting(0.05, "SGD learning rate")
    depth: int = setting(8, "hidden layers")

    def check(self) -> None:
        super().check()
        assert self.steps is not None
        if self.steps < 1 or self.lr <= 0 or self.depth < 1:
            raise RunError("--steps and --depth must be >= 1, --lr > 0")


def unit_spread(model: torch.nn.Sequential) -> float:
    """Smallest, over the hidden layers, std across units of their incoming weights (mean over
    inputs): 0 when every unit of some layer is the same unit."""
    linears = [m for m in model if isinstance(m, torch.nn.Linear)][:-1]
    return min(float(m.weight.detach().std(dim=0, unbiased=False).mean()) for m in linears)


def measure(activation: str, start: str, seed: int, ns: InitialisationSettings, steps: int,
            device: torch.device) -> dict[str, Any]:
    split = digits(seed)
    x_test = as_tensors(split, device)[2]
    model = mlp([64] + [WIDTH] * ns.depth + [split.classes], activation, start, seed).to(device)
    spread = [float(o.std()) for o in hidden_outputs(model, x_test)]
    rows = train_classifier(model, split, torch.optim.SGD(model.parameters(), lr=ns.lr), steps,
                            64, seed, every=max(1, steps // 100), device=device)
    return {"spread": spread, "rows": rows, "units": unit_spread(model)}


def tasks(ns: InitialisationSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{a}-{start}-seed{seed}", seed, {"activation": a, "start": start})
            for a in ACTIVATIONS for start in STARTS for seed in seeds]


def measure_task(ns: InitialisationSettings, task: Task, folder: Path, resume: bool
                 ) -> dict[str, Any]:
    """One activation, start and seed (seconds of work: a retried task runs again)."""
    assert ns.steps is not None
    return measure(task.params["activation"], task.params["start"], task.seed, ns, ns.steps,
                   resolve_device(ns.device))


RECOMMENDED = {"tanh": "xavier", "relu": "he"}


def compare(results: dict[tuple[str, str], list[dict[str, Any]]]) -> list[Claim]:
    """The start made for each activation against the three that stall, seed by seed (a seed:
    the same data and batches)."""
    def accuracy(activation: str, start: str) -> list[float]:  # a run that diverged: 0
        return [0.0 if math.isnan(acc := r["rows"][-1]["test_accuracy"]) else acc
                for r in results[activation, start]]

    return [Claim(f"{a}: {LABELS[good]} ends at a higher test accuracy than {LABELS[bad]} "
                  f"({LABELS[good]} - {LABELS[bad]})",
                  difference(accuracy(a, good), accuracy(a, bad)))
            for a, good in RECOMMENDED.items() for bad in ("zero", "small", "large")]


def aggregate(ns: InitialisationSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    conds = [(a, s) for a in ACTIVATIONS for s in STARTS]
    results: dict[tuple[str, str], list[dict[str, Any]]] = {c: [] for c in conds}
    for task in tasks(ns, ns.seed_list()):
        results[task.params["activation"], task.params["start"]].append(found[task.key])
    rows = []
    for (activation, start), runs in results.items():
        spread = np.mean([r["spread"] for r in runs], axis=0)
        finals = [r["rows"][-1] for r in runs]
        rows.append({"activation": activation, "start": LABELS[start],
                     "output_std_layer_1": spread[0], f"output_std_layer_{ns.depth}": spread[-1],
                     "unit_spread_after": float(np.mean([r["units"] for r in runs])),
                     f"updates_to_{TARGET:.0%}": float(np.median(
                         [first_update(r["rows"], TARGET) for r in runs])),
                     "final_test_accuracy": interval([f["test_accuracy"] for f in finals]),
                     "diverged": f"{sum(not math.isfinite(f['train_loss']) for f in finals)}"
                                 f"/{len(runs)}"})
    return LabOutcome(list(rows[0]), rows, conclude(rows, ns),
                      lambda fig: draw(fig, results),
                      {"output_std_layer_1": ".2e", f"output_std_layer_{ns.depth}": ".2e",
                       "unit_spread_after": ".2e", f"updates_to_{TARGET:.0%}": ".0f",
                       "final_test_accuracy": ".3f"}, compare(results))


def conclude(rows: list[dict[str, Any]], ns: InitialisationSettings) -> list[str]:
    def row(activation: str, start: str) -> dict[str, Any]:
        return next(r for r in rows if r["activation"] == activation
                    and r["start"] == LABELS[start])

    deep = f"output_std_layer_{ns.depth}"
    key = f"updates_to_{TARGET:.0%}"
    zero_identical = all(row(a, "zero")["unit_spread_after"] == 0 for a in ACTIVATIONS)
    def rank(activation: str, start: str) -> tuple[float, float]:
        r = row(activation, start)
        return r[key], -r["final_test_accuracy"].mean

    best = {a: min(STARTS, key=functools.partial(rank, a)) for a in ACTIVATIONS}
    recommended = RECOMMENDED

    def reach(r: dict[str, Any]) -> str:
        return "never" if math.isinf(r[key]) else f"{r[key]:.0f} updates"

    return [
        "Zero start: every unit of a layer gets the same gradient; the spread between units "
        "after training was "
        + ", ".join(f"{a} {row(a, 'zero')['unit_spread_after']:.1e}" for a in ACTIVATIONS)
        + (" (identical units)." if zero_identical else ".")
        + " Test accuracy " + ", ".join(f"{a} {row(a, 'zero')['final_test_accuracy'].mean:.3f}"
                                        for a in ACTIVATIONS) + ".",
        f"Output spread at layer 1 -> layer {ns.depth} before training: "
        + "; ".join(f"{a} {LABELS[s]} {row(a, s)['output_std_layer_1']:.2g} -> "
                    f"{row(a, s)[deep]:.2g}" for a in ACTIVATIONS for s in STARTS if s != "zero")
        + " (tanh's outputs are at most 1 in size).",
        f"To {TARGET:.0%} test accuracy: "
        + "; ".join(f"{a} {LABELS[s]} {reach(row(a, s))}" for a in ACTIVATIONS for s in STARTS)
        + ". Fastest start (median updates, then accuracy): "
        + ", ".join(f"{a} {LABELS[best[a]]}"
                    + (" (the one made for it)" if best[a] == recommended[a] else "")
                    for a in ACTIVATIONS) + ".",
    ]


def draw(fig: Any, results: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    colours = dict(zip(STARTS, ("grey", "tab:blue", "tab:red", "tab:green", "tab:purple"),
                       strict=True))
    for (activation, start), runs in results.items():
        style = "-" if activation == "tanh" else "--"
        label = f"{activation}, {LABELS[start]}"
        if start != "zero":  # zero start: every output is 0, nothing to draw on a log scale
            spread = np.mean([r["spread"] for r in runs], axis=0)
            ax1.plot(np.arange(1, len(spread) + 1), spread, style, marker="o", ms=3,
                     color=colours[start], label=label)
        r = runs[0]["rows"]
        ax2.plot([row["update"] for row in r], [row["test_accuracy"] for row in r], style,
                 color=colours[start], lw=1, label=label)
    ax1.set(yscale="log", xlabel="hidden layer", ylabel="std of its outputs before training",
            title="the start, layer by layer")
    ax2.set(xlabel="SGD update", ylabel="test accuracy (first seed)", title="training")
    ax1.legend(fontsize=7, ncol=2)
    ax2.legend(fontsize=7, ncol=2)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)


INITIALISATION = LabExperiment(
    "initialisation", "Zero start keeps units identical; too small or too large stalls; Xavier "
    "(tanh) and He (ReLU) train.", None, InitialisationSettings,
    duration="about 2 minutes", tasks=tasks, measure=measure_task, aggregate=aggregate)
