"""``lab perceptron``: one layer learns AND and OR but not XOR; one hidden layer learns XOR.

Three learners on the four points of each logic gate, several seeds each:

- Rosenblatt's perceptron (:class:`~pucklab.seqmodels.basics.nets.Perceptron`), his error rule;
- logistic regression (one sigmoid unit) by gradient descent on cross-entropy;
- the same plus one hidden layer of tanh units, trained the same way.

No line separates XOR's two classes, so the first two can get at most 3 of its 4 points right
whatever they do; the hidden layer bends the boundary. The figure draws each learner's decision
boundary on each gate (first seed).

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
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.settings import setting
from pucklab.runs.store import RunError
from pucklab.seqmodels.basics.data import GATES, gate
from pucklab.seqmodels.basics.nets import Perceptron, mlp

LEARNERS = ("perceptron", "logistic regression", "one hidden layer")
GRID = np.linspace(-0.5, 1.5, 81)


@dataclass
class PerceptronSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    steps: int | None = setting(None, "gradient steps of logistic regression and the hidden "
                                "layer, and perceptron epochs", sizes=(1000, 300))
    hidden: int = setting(8, "hidden tanh units (with 4, one seed in ten stayed stuck)")
    lr: float = setting(0.05, "Adam's learning rate for the two gradient learners")

    def check(self) -> None:
        super().check()
        assert self.steps is not None
        if self.steps < 1 or self.hidden < 1 or self.lr <= 0:
            raise RunError("--steps and --hidden must be >= 1, --lr > 0")


def fit(learner: str, name: str, seed: int, ns: PerceptronSettings, steps: int,
        device: torch.device) -> tuple[float, float, Any]:
    """Train one learner on one gate: (final accuracy, first update with all 4 right or inf,
    a function grid points -> output in [0, 1] for the figure)."""
    x, t = gate(name)
    if learner == "perceptron":
        unit = Perceptron(2, seed)
        solved = math.inf
        for epoch in range(1, steps + 1):
            if unit.epoch(x, t) == 0:  # an epoch with no mistake: it has converged
                solved = epoch - 1 if epoch > 1 else 0
                break
        return float((unit.predict(x) == t).mean()), solved, unit.predict
    sizes = [2, 1] if learner == "logistic regression" else [2, ns.hidden, 1]
    model = mlp(sizes, "tanh", seed=seed).double().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=ns.lr)
    xt = torch.from_numpy(x).to(device)
    tt = torch.from_numpy(t).to(device)
    solved = math.inf
    for step in range(1, steps + 1):
        opt.zero_grad()
        logits = model(xt).squeeze(1)
        nn.functional.binary_cross_entropy_with_logits(logits, tt).backward()
        opt.step()
        if math.isinf(solved) and bool(((logits > 0).double() == tt).all()):
            solved = step - 1  # the logits before this step were already all right

    def output(points: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(model(torch.from_numpy(points).to(device))).squeeze(1).cpu().numpy()

    with torch.no_grad():
        final = float(((model(xt).squeeze(1) > 0).double() == tt).double().mean())
    return final, solved, output


def run_perceptron(ns: PerceptronSettings, seeds: list[int], run_dir: Path) -> LabOutcome:
    steps = ns.steps
    assert steps is not None
    device = resolve_device(ns.device)
    rows, boundaries = [], {}
    for learner in LEARNERS:
        for name in GATES:
            results = [fit(learner, name, seed, ns, steps, device) for seed in seeds]
            boundaries[learner, name] = results[0][2]
            solved_at = [r[1] for r in results if not math.isinf(r[1])]
            rows.append({"learner": learner, "gate": name,
                         "solved": f"{sum(r[0] == 1.0 for r in results)}/{len(results)}",
                         "mean_accuracy": float(np.mean([r[0] for r in results])),
                         "median_updates_to_solve": (float(np.median(solved_at)) if solved_at
                                                     else math.inf)})
    return LabOutcome(list(rows[0]), rows, conclude(rows, steps, ns.hidden),
                      lambda fig: draw(fig, boundaries),
                      {"mean_accuracy": ".2f", "median_updates_to_solve": ".0f"})


def conclude(rows: list[dict[str, Any]], steps: int, hidden: int) -> list[str]:
    def row(learner: str, name: str) -> dict[str, Any]:
        return next(r for r in rows if r["learner"] == learner and r["gate"] == name)

    def all_solved(r: dict[str, Any]) -> bool:
        k, n = r["solved"].split("/")
        return k == n

    linear_and_or = all(all_solved(row(lr, g)) for lr in LEARNERS[:2] for g in ("AND", "OR"))
    linear_xor = [row(lr, "XOR") for lr in LEARNERS[:2]]
    hidden_xor = row(LEARNERS[2], "XOR")
    return [
        "The perceptron and logistic regression solved AND and OR in every seed: "
        + ("held." if linear_and_or else "did not hold here.")
        + " (The perceptron rule converged in "
        + " and ".join(f"{row('perceptron', g)['median_updates_to_solve']:.0f}" for g in
                       ("AND", "OR")) + " epochs, median.)",
        "Neither solved XOR: "
        + ", ".join(f"{r['learner']} {r['solved']} seeds, mean accuracy {r['mean_accuracy']:.2f}"
                    for r in linear_xor)
        + (" (held: a line gets at most 3 of XOR's 4 points)."
           if not any(r["solved"][0] != "0" for r in linear_xor) else " (did not hold!)."),
        f"One hidden layer of {hidden} tanh units solved XOR in {hidden_xor['solved']} seeds "
        f"within {steps} steps"
        + (f", after {hidden_xor['median_updates_to_solve']:.0f} steps (median)"
           if not math.isinf(hidden_xor["median_updates_to_solve"]) else "")
        + (": held." if all_solved(hidden_xor) else ": did not hold in every seed here."),
    ]


def draw(fig: Any, boundaries: dict[tuple[str, str], Any]) -> None:
    gx, gy = np.meshgrid(GRID, GRID)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    for k, ((learner, name), output) in enumerate(boundaries.items()):
        ax = fig.add_subplot(len(LEARNERS), len(GATES), k + 1)
        ax.contourf(gx, gy, output(points).reshape(gx.shape), levels=np.linspace(0, 1, 11),
                    cmap="RdBu", alpha=0.6)
        ax.contour(gx, gy, output(points).reshape(gx.shape), levels=[0.5], colors="black",
                   linewidths=1)
        x, t = gate(name)
        ax.scatter(x[:, 0], x[:, 1], c=t, cmap="RdBu", vmin=0, vmax=1, edgecolors="black", s=40)
        ax.set(xticks=[], yticks=[], aspect="equal")
        if k % len(GATES) == 0:
            ax.set_ylabel(learner, fontsize=8)
        if k < len(GATES):
            ax.set_title(name, fontsize=9)


PERCEPTRON = LabExperiment(
    "perceptron", "One layer learns AND and OR but not XOR; one hidden layer learns XOR.",
    run_perceptron, PerceptronSettings, duration="about 20 seconds")
