"""``lab activations``: sigmoid, tanh, ReLU and leaky ReLU in a deep MLP.

An MLP of 8 hidden layers of 64 units on scikit-learn's digits, trained by plain minibatch SGD
(no Adam: its per-parameter scaling would hide vanishing gradients). Each activation starts
from its recommended initialisation (Xavier for sigmoid and tanh, He for the ReLUs), so the
activation is what differs. Measured per activation and seed:

- the weight-gradient norm of every layer at the start (does it vanish towards the input?);
- the training curve and the updates to 90 % test accuracy;
- at the end, the share of sigmoid / tanh outputs saturated (derivative under 1 % of its peak),
  and of ReLU-family units *never active* (output <= 0 on every test input) and *dead* (no
  gradient through them on any test input: the never-active ReLUs; a leaky ReLU always passes
  1 % of its gradient).

Each activation x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
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
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError
from pucklab.seqmodels.basics.data import digits
from pucklab.seqmodels.basics.nets import (
    as_tensors,
    first_update,
    hidden_outputs,
    layer_grad_norms,
    mlp,
    train_classifier,
)

CHOICES = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he", "leaky_relu": "he"}
DEPTH, WIDTH = 8, 64
TARGET = 0.9  # test accuracy the "updates to" column counts to
PROBE = 256  # training examples of the gradient measurement at the start


@dataclass
class ActivationsSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    steps: int | None = setting(None, "SGD updates", sizes=(2000, 300))
    lr: float = setting(0.05, "SGD learning rate")
    depth: int = setting(DEPTH, "hidden layers")

    def check(self) -> None:
        super().check()
        assert self.steps is not None
        if self.steps < 1 or self.lr <= 0 or self.depth < 1:
            raise RunError("--steps and --depth must be >= 1, --lr > 0")


def saturated(activation: str, outs: list[torch.Tensor]) -> float:
    """Share of (unit, input) outputs whose derivative is under 1 % of the activation's peak."""
    if activation == "sigmoid":
        return float(np.mean([float((o * (1 - o) < 0.01 * 0.25).float().mean()) for o in outs]))
    if activation == "tanh":
        return float(np.mean([float((1 - o ** 2 < 0.01).float().mean()) for o in outs]))
    return math.nan


def measure(activation: str, seed: int, ns: ActivationsSettings, steps: int,
            device: torch.device) -> dict[str, Any]:
    split = digits(seed)
    x, y, x_test, _ = as_tensors(split, device)
    model = mlp([64] + [WIDTH] * ns.depth + [split.classes], activation, CHOICES[activation],
                seed).to(device)
    nn.functional.cross_entropy(model(x[:PROBE]), y[:PROBE]).backward()
    norms = layer_grad_norms(model)
    rows = train_classifier(model, split, torch.optim.SGD(model.parameters(), lr=ns.lr), steps,
                            64, seed, every=max(1, steps // 100), device=device)
    outs = hidden_outputs(model, x_test)
    never = [float((o <= 0).all(0).float().mean()) for o in outs]
    relu_family = activation in ("relu", "leaky_relu")
    return {"norms": norms, "rows": rows, "never_by_layer": never,
            "saturated": saturated(activation, outs),
            "never_active": float(np.mean(never)) if relu_family else math.nan,
            "dead": float(np.mean(never)) if activation == "relu" else
            (0.0 if relu_family else math.nan)}


def tasks(ns: ActivationsSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{a}-seed{seed}", seed, {"activation": a}) for a in CHOICES for seed in seeds]


def measure_task(ns: ActivationsSettings, task: Task, folder: Path, resume: bool
                 ) -> dict[str, Any]:
    """One activation and seed (seconds of work: a retried task runs again)."""
    assert ns.steps is not None
    return measure(task.params["activation"], task.seed, ns, ns.steps,
                   resolve_device(ns.device))


def compare(results: dict[str, list[dict[str, Any]]]) -> list[Claim]:
    """Seed by seed (a seed: the same data, batches and initial draw for each activation)."""
    def log_ratio(a: str) -> list[float]:
        return [float(np.log10(r["norms"][0] / r["norms"][-1])) for r in results[a]]

    def log_loss(a: str) -> list[float]:
        return [float(np.log10(r["rows"][-1]["train_loss"])) for r in results[a]]

    claims = [Claim(f"sigmoid's gradient shrinks more from the last layer to the first than "
                    f"{a}'s (log10 first/last, sigmoid - {a})",
                    difference(log_ratio("sigmoid"), log_ratio(a)), higher=False)
              for a in ("tanh", "relu")]
    claims += [Claim(f"relu ends at a lower training loss than {a} (log10 of the loss, relu - {a})",
                     difference(log_loss("relu"), log_loss(a)), higher=False)
               for a in ("sigmoid", "tanh")]
    claims.append(Claim("leaky ReLU leaves fewer dead units than ReLU (share, relu - leaky_relu)",
                        difference([r["dead"] for r in results["relu"]],
                                   [r["dead"] for r in results["leaky_relu"]])))
    return claims


def aggregate(ns: ActivationsSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    steps = ns.steps
    assert steps is not None
    results: dict[str, list[dict[str, Any]]] = {a: [] for a in CHOICES}
    for task in tasks(ns, ns.seed_list()):
        results[task.params["activation"]].append(found[task.key])
    rows = []
    for activation, runs in results.items():
        first = np.mean([r["norms"][0] for r in runs])
        last = np.mean([r["norms"][-1] for r in runs])
        reached = [first_update(r["rows"], TARGET) for r in runs]
        rows.append({"activation": activation, "init": CHOICES[activation],
                     "grad_norm_first_layer": first, "grad_norm_last_layer": last,
                     "first_over_last": first / last,
                     f"updates_to_{TARGET:.0%}": float(np.median(reached)),
                     "final_test_accuracy": interval([r["rows"][-1]["test_accuracy"]
                                                      for r in runs]),
                     "final_train_loss": float(np.mean([r["rows"][-1]["train_loss"]
                                                        for r in runs])),
                     "saturated_at_end": float(np.mean([r["saturated"] for r in runs])),
                     "never_active_at_end": float(np.mean([r["never_active"] for r in runs])),
                     "dead_at_end": float(np.mean([r["dead"] for r in runs]))})
    return LabOutcome(list(rows[0]), rows, conclude(rows, ns, steps),
                      lambda fig: draw(fig, results),
                      {"grad_norm_first_layer": ".2e", "grad_norm_last_layer": ".2e",
                       "first_over_last": ".2e", f"updates_to_{TARGET:.0%}": ".0f",
                       "final_test_accuracy": ".3f", "final_train_loss": ".2e",
                       "saturated_at_end": ".1%",
                       "never_active_at_end": ".1%", "dead_at_end": ".1%"}, compare(results))


def conclude(rows: list[dict[str, Any]], ns: ActivationsSettings, steps: int) -> list[str]:
    by = {r["activation"]: r for r in rows}
    key = f"updates_to_{TARGET:.0%}"
    ratios = {a: r["first_over_last"] for a, r in by.items()}
    fastest = min(by, key=lambda a: (by[a][key], -by[a]["final_test_accuracy"].mean))
    dead, leaky_dead = by["relu"]["dead_at_end"], by["leaky_relu"]["dead_at_end"]

    def reach(a: str) -> str:
        return "never" if math.isinf(by[a][key]) else f"{by[a][key]:.0f}"

    return [
        f"At the start, {ns.depth} layers deep, the first layer's gradient was "
        + ", ".join(f"{a} {ratios[a]:.1e}" for a in by)
        + " times the last layer's."
        + f" Sigmoid ended at {by['sigmoid']['final_test_accuracy'].mean:.3f} test accuracy "
        f"after {steps} updates, with {by['sigmoid']['saturated_at_end']:.0%} of its outputs "
        "saturated"
        + (f": the vanishing here is its derivative, at most 1/4 at every layer "
           f"(0.25^{ns.depth} = {0.25 ** ns.depth:.1e}), more than saturation."
           if by["sigmoid"]["saturated_at_end"] < 0.05 else "."),
        f"Updates to {TARGET:.0%} test accuracy (median): "
        + ", ".join(f"{a} {reach(a)}" for a in by)
        + f"; {fastest} was fastest at lr {ns.lr:g}, each with its recommended initialisation. "
        "Training loss at the end: "
        + ", ".join(f"{a} {by[a]['final_train_loss']:.1e}" for a in by)
        + f" (lowest: {min(by, key=lambda a: by[a]['final_train_loss'])}).",
        f"At the end {dead:.1%} of the ReLU units were dead (never active on any test input, "
        f"so no gradient ever reaches them); leaky ReLU: {leaky_dead:.1%} dead, while "
        f"{by['leaky_relu']['never_active_at_end']:.1%} sat in the negative part, still "
        "learning through its 1 % slope."
        + (" No ReLU unit died in these runs." if dead == 0 else ""),
    ]


def draw(fig: Any, results: dict[str, list[dict[str, Any]]]) -> None:
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, k) for k in (1, 2, 3))
    for activation, runs in results.items():
        norms = np.mean([r["norms"] for r in runs], axis=0)
        line, = ax1.plot(np.arange(1, len(norms) + 1), norms, "o-", ms=3, label=activation)
        for k, r in enumerate(runs):
            ax2.plot([row["update"] for row in r["rows"]], [row["train_loss"] for row in r["rows"]],
                     color=line.get_color(), lw=0.8, alpha=0.7,
                     label=activation if k == 0 else None)
        if activation in ("relu", "leaky_relu"):
            never = np.mean([r["never_by_layer"] for r in runs], axis=0)
            ax3.plot(np.arange(1, len(never) + 1), never, "o-", ms=3, color=line.get_color(),
                     label=f"{activation} (never active)")
    ax1.set(yscale="log", xlabel="layer (1 = next to the input)",
            ylabel="weight-gradient norm at the start", title="gradients by depth")
    ax2.set(yscale="log", xlabel="SGD update", ylabel="training loss", title="training")
    ax3.set(xlabel="hidden layer", ylabel="share of units", title="never active at the end")
    for ax in (ax1, ax2, ax3):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)


ACTIVATIONS = LabExperiment(
    "activations", "Sigmoid's gradients vanish with depth; ReLU trains fastest but leaves dead "
    "units; leaky ReLU keeps them alive.", None, ActivationsSettings,
    duration="about a minute", tasks=tasks, measure=measure_task, aggregate=aggregate)
