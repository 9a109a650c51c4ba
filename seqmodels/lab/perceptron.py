"""``lab perceptron``: one layer learns AND and OR but not XOR; one hidden layer learns XOR.

Three learners on the four points of each logic gate, several seeds each:

- Rosenblatt's perceptron (:class:`~pucklab.seqmodels.basics.nets.Perceptron`), his error rule;
- logistic regression (one sigmoid unit) by gradient descent on cross-entropy;
- the same plus one hidden layer of tanh units, trained the same way.

No line separates XOR's two classes, so the first two can get at most 3 of its 4 points right
whatever they do; the hidden layer bends the boundary. The figure draws each learner's decision
boundary on each gate (first seed).

Each learner x gate x seed is one task (:mod:`pucklab.runs.lab_tasks`), so ``--workers``
spreads them over processes. Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
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


def tasks(ns: PerceptronSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{learner.replace(' ', '-')}-{name}-seed{seed}", seed,
                 {"learner": learner, "gate": name})
            for learner in LEARNERS for name in GATES for seed in seeds]


def measure(ns: PerceptronSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One learner on one gate with one seed; the first seed also keeps its output on the
    figure's grid."""
    assert ns.steps is not None
    accuracy, solved, output = fit(task.params["learner"], task.params["gate"], task.seed, ns,
                                   ns.steps, resolve_device(ns.device))
    result: dict[str, Any] = {"accuracy": accuracy,
                              "solved": None if math.isinf(solved) else solved}
    if task.seed == ns.seed:
        gx, gy = np.meshgrid(GRID, GRID)
        result["grid"] = output(np.column_stack([gx.ravel(), gy.ravel()])).tolist()
    return result


def aggregate(ns: PerceptronSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    assert ns.steps is not None
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for task in tasks(ns, ns.seed_list()):
        by.setdefault((task.params["learner"], task.params["gate"]), []).append(found[task.key])
    rows = []
    for (learner, name), runs in by.items():
        solved_at = [r["solved"] for r in runs if r["solved"] is not None]
        rows.append({"learner": learner, "gate": name,
                     "solved": f"{sum(r['accuracy'] == 1.0 for r in runs)}/{len(runs)}",
                     "mean_accuracy": interval([r["accuracy"] for r in runs]),
                     "median_updates_to_solve": (float(np.median(solved_at)) if solved_at
                                                 else math.inf)})
    accuracy = {key: [r["accuracy"] for r in runs] for key, runs in by.items()}
    claims = [Claim(f"{learner} learns {name} (accuracy - 0.75: a learner that solves it is "
                    "never wrong)", difference(accuracy[learner, name], 0.75))
              for learner in LEARNERS for name in ("AND", "OR")]
    claims.append(Claim(f"one hidden layer of {ns.hidden} tanh units learns XOR (accuracy - "
                        "0.75)", difference(accuracy[LEARNERS[2], "XOR"], 0.75)))
    claims += [Claim(f"on XOR the hidden layer beats {learner}, which no line lets get more "
                     "than 3 of 4 points (accuracy, paired by seed)",
                     difference(accuracy[LEARNERS[2], "XOR"], accuracy[learner, "XOR"]))
               for learner in LEARNERS[:2]]
    grids = {key: np.array(runs[0]["grid"]) for key, runs in by.items()}
    return LabOutcome(list(rows[0]), rows, conclude(rows), lambda fig: draw(fig, grids),
                      {"mean_accuracy": ".2f", "median_updates_to_solve": ".0f"}, claims)


def conclude(rows: list[dict[str, Any]]) -> list[str]:
    def median(learner: str, name: str) -> float:
        return float(next(r["median_updates_to_solve"] for r in rows
                          if r["learner"] == learner and r["gate"] == name))

    return [
        "The perceptron rule converged in " + " and ".join(
            f"{median('perceptron', g):.0f}" for g in ("AND", "OR")) + " epochs (median) on AND "
        f"and OR; the hidden layer solved XOR after {median(LEARNERS[2], 'XOR'):.0f} steps "
        "(median; never = in no seed)."]


def draw(fig: Any, grids: dict[tuple[str, str], np.ndarray]) -> None:
    gx, gy = np.meshgrid(GRID, GRID)
    for k, ((learner, name), output) in enumerate(grids.items()):
        ax = fig.add_subplot(len(LEARNERS), len(GATES), k + 1)
        ax.contourf(gx, gy, output.reshape(gx.shape), levels=np.linspace(0, 1, 11),
                    cmap="RdBu", alpha=0.6)
        ax.contour(gx, gy, output.reshape(gx.shape), levels=[0.5], colors="black",
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
    None, PerceptronSettings, duration="about 20 seconds", tasks=tasks, measure=measure,
    aggregate=aggregate)
