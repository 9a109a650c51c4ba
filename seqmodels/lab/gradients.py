"""``lab vanishing-gradients``: how fast dL/dh_t shrinks with the distance T - t from the loss,
for our explicit RNN, LSTM and GRU cells at standard initialisation.

Each cell x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
``pucklab.runs.registry``; ``pucklab.runs.lab`` runs them
and writes results.csv / results.md / figure.png. Every conclusion is a sentence filled in
from the measured numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pucklab.runs.lab import LabExperiment, LabOutcome, LabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference
from pucklab.runs.store import RunError
from pucklab.seqmodels.cells import CELLS

# -- vanishing gradients -------------------------------------------------------------------------
FORGET_BIAS_LABEL = "lstm, forget bias 1"


def _make_cell(kind: str, inputs: int, hidden: int) -> nn.Module:
    cell = CELLS["lstm" if kind == FORGET_BIAS_LABEL else kind](inputs, hidden)
    if kind == FORGET_BIAS_LABEL:  # gates i, f, g, o: start the forget gate open (Gers et al.)
        with torch.no_grad():
            cell.bias_ih[hidden:2 * hidden] += 1.0
    return cell.double()


def gradient_norms(kind: str, length: int, hidden: int, inputs: int, batch: int, seed: int
                   ) -> np.ndarray:
    """Mean over a batch of ||dL/dh_t|| for t = T-1 .. 0 (index = distance from the loss).

    Random N(0, 1) inputs drive the cell for ``length`` steps from a zero state; the loss is a
    fixed random readout of the last hidden state. float64, so tiny norms do not underflow.
    """
    torch.manual_seed(seed)
    cell = _make_cell(kind, inputs, hidden)
    x = torch.randn(length, batch, inputs, dtype=torch.float64)
    readout = torch.randn(hidden, dtype=torch.float64)
    state, hs = None, []
    for t in range(length):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    (hs[-1] @ readout).sum().backward()
    return np.array([hs[length - 1 - d].grad.norm(dim=1).mean().item() for d in range(length)])


def _distance_below(ratio: np.ndarray, level: float) -> float:
    below = np.flatnonzero(ratio < level)
    return float(below[0]) if len(below) else math.inf


@dataclass
class VanishingSettings(LabSettings):
    seeds: int | None = lab_seeds(5)
    length: int | None = setting(None, "sequence length T", sizes=(200, 60))
    hidden: int = setting(64, "hidden units")

    def check(self) -> None:
        super().check()
        assert self.length is not None
        if self.length < 2 or self.hidden < 1:
            raise RunError("--length must be >= 2 and --hidden >= 1")


KINDS = ["rnn", "lstm", "gru", FORGET_BIAS_LABEL]
Curves = dict[str, np.ndarray]  # kind -> (seeds, T) ratios to the norm at the loss


def tasks(ns: VanishingSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{kind.replace(', ', '-').replace(' ', '-')}-seed{seed}", seed, {"cell": kind})
            for kind in KINDS for seed in seeds]


def measure(ns: VanishingSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One cell's gradient norms at every distance from the loss, for one seed (a second of
    work: a retried task simply runs again)."""
    assert ns.length is not None
    return {"norms": gradient_norms(task.params["cell"], ns.length, ns.hidden, 16, 32,
                                    task.seed).tolist()}


def curves_of(ns: VanishingSettings, found: dict[str, dict[str, Any]]
              ) -> tuple[Curves, dict[str, float]]:
    """Every cell's gradient-norm ratios per seed, and its mean norm at the loss."""
    per_seed: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}
    for task in tasks(ns, ns.seed_list()):
        per_seed[task.params["cell"]].append(np.array(found[task.key]["norms"]))
    curves = {kind: np.stack([n / n[0] for n in norms]) for kind, norms in per_seed.items()}
    return curves, {kind: float(np.mean([n[0] for n in norms]))
                    for kind, norms in per_seed.items()}


def compare(curves: Curves, d: int) -> list[Claim]:
    """In orders of magnitude of the gradient kept ``d`` steps back, seed by seed (a seed
    gives every cell the same inputs)."""
    def log10(kind: str) -> list[float]:
        return list(np.log10(np.maximum(curves[kind][:, d], 1e-300)))

    return [Claim(f"the {b} keeps more gradient than the {a} {d} steps back "
                  f"(log10 of the ratio, {b} - {a})", difference(log10(b), log10(a)))
            for a, b in (("rnn", "lstm"), ("rnn", "gru"), ("lstm", FORGET_BIAS_LABEL))]


def aggregate(curves: Curves, norms0: dict[str, float], length: int,
              marks: list[int]) -> list[dict[str, Any]]:
    rows = []
    for kind in KINDS:
        # geometric mean over seeds: the curves span hundreds of orders of magnitude
        ratio = np.exp(np.log(np.maximum(curves[kind], 1e-300)).mean(axis=0))
        d3 = _distance_below(ratio, 1e-3)
        span = int(d3) if math.isfinite(d3) else length - 1
        row: dict[str, Any] = {"cell": kind, "norm_at_loss": norms0[kind],
                               "distance_to_1e-3": d3,
                               "decay_per_step": float(ratio[span] ** (1 / span))}
        row.update({f"ratio_at_{d}": float(ratio[d]) for d in marks})
        rows.append(row)
    return rows


def conclude(rows: list[dict[str, Any]], length: int, marks: list[int],
             seeds: list[int]) -> list[str]:
    by = {r["cell"]: r for r in rows}
    steps = ", ".join(f"{k} {_steps(by[k]['distance_to_1e-3'])}" for k in KINDS[:3])
    decay = ", ".join(f"{k} x{by[k]['decay_per_step']:.2f}" for k in KINDS[:3])
    conclusions = [f"At standard initialisation the gradient falls below 1e-3 of its value at "
                   f"the loss after: {steps} (T = {length}, mean of {len(seeds)} seeds); "
                   f"per step it shrinks by {decay}."]
    if marks:
        d = 50 if 50 in marks else marks[-1]
        r, lo, gr = by["rnn"][f"ratio_at_{d}"], by["lstm"][f"ratio_at_{d}"], by["gru"][f"ratio_at_{d}"]
        conclusions.append(f"{d} steps back the RNN keeps {r:.1e} of it, the LSTM {lo:.1e} "
                           f"({lo / r:.3g}x the RNN's) and the GRU {gr:.1e} ({gr / r:.3g}x).")
    fb, plain = by[FORGET_BIAS_LABEL]["distance_to_1e-3"], by["lstm"]["distance_to_1e-3"]
    conclusions.append(f"Starting the LSTM's forget gate open (bias +1) moves the 1e-3 point "
                       f"from {_steps(plain)} to {_steps(fb)}.")
    if all(math.isfinite(by[k]["distance_to_1e-3"]) for k in KINDS):
        conclusions.append(f"No cell keeps its gradient over {length} steps at initialisation; "
                           "the gates make long memory learnable (they can learn to stay open), "
                           "they do not give it for free.")
    return conclusions


def draw(fig: Any, curves: Curves, length: int, hidden: int, seeds: list[int]) -> None:
    ax = fig.add_subplot(1, 1, 1)
    dist = np.arange(length)
    for kind in KINDS:
        logs = np.log10(np.maximum(curves[kind], 1e-300))
        ax.plot(dist, logs.mean(axis=0), label=kind, lw=1.6)
        ax.fill_between(dist, logs.min(axis=0), logs.max(axis=0), alpha=0.15)
    ax.axhline(-3, color="grey", ls=":", lw=1)
    ax.set_xlabel("distance from the loss, T - t (steps)")
    ax.set_ylabel("log10 ||dL/dh_t|| / ||dL/dh_T||")
    ax.set_ylim(max(-40, ax.get_ylim()[0]), 1)
    ax.set_title(f"gradient reaching back through {hidden}-unit cells at standard init "
                 f"(mean and range of {len(seeds)} seeds)")
    ax.legend()


def aggregate_all(ns: VanishingSettings, found: dict[str, dict[str, Any]], run_dir: Path
                  ) -> LabOutcome:
    length, seeds = ns.length, ns.seed_list()
    assert length is not None
    curves, norms0 = curves_of(ns, found)
    marks = [d for d in (10, 50, 100) if d < length]
    rows = aggregate(curves, norms0, length, marks)
    d = 50 if 50 in marks else (marks[-1] if marks else length - 1)
    cols = ["cell", "norm_at_loss", *[f"ratio_at_{d}" for d in marks], "distance_to_1e-3",
            "decay_per_step"]
    return LabOutcome(cols, rows, conclude(rows, length, marks, seeds),
                      lambda fig: draw(fig, curves, length, ns.hidden, seeds),
                      {**{f"ratio_at_{d}": ".2e" for d in marks}, "decay_per_step": ".3f",
                       "norm_at_loss": ".3g", "distance_to_1e-3": ".0f"},
                      compare(curves, d))


def _steps(d: float) -> str:
    return f"{d:.0f} steps" if math.isfinite(d) else "never (within T)"


VANISHING_GRADIENTS = LabExperiment(
    "vanishing-gradients",
    "RNN gradients vanish over long sequences; LSTM/GRU gates fix it.",
    None, VanishingSettings, duration="under a minute", tasks=tasks, measure=measure,
    aggregate=aggregate_all)
