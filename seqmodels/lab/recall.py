"""The ``lab`` experiments on the recall task: a symbol, ``lag`` distractors, then a cue to
name the symbol. Small, exact and fast, so one task serves two claims of the course:

* ``gradient-clipping``: an Elman RNN trained with plain SGD at a learning rate that explodes,
  with and without ``torch.nn.utils.clip_grad_norm_``.
* ``memory-length``: RNN, LSTM and GRU under the same step budget, accuracy against the lag.

Registered as entry points of ``pucklab.lab`` (pyproject.toml), like :mod:`pucklab.seqmodels.lab`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from pucklab.runs import RunError
from pucklab.runs.lab import LabExperiment, LabOutcome

# -- the task, and the gradient-clipping experiment ----------------------------------------------
SYMBOLS, DISTRACTORS = 8, 8
BLOWN_UP = 3  # a run "blew up" when its loss went above this many times chance


def recall_batch(lag: int, batch: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A symbol at t = 0, ``lag`` random distractor symbols, then a recall cue; the target is
    the first symbol. One-hot inputs of SYMBOLS + DISTRACTORS + 1 channels; chance 1/SYMBOLS."""
    sym = torch.randint(0, SYMBOLS, (batch,), generator=gen)
    x = torch.zeros(batch, lag + 2, SYMBOLS + DISTRACTORS + 1)
    rows = torch.arange(batch)
    x[rows, 0, sym] = 1
    if lag:
        noise = torch.randint(SYMBOLS, SYMBOLS + DISTRACTORS, (batch, lag), generator=gen)
        x[rows[:, None], torch.arange(1, lag + 1)[None], noise] = 1
    x[:, -1, -1] = 1
    return x, sym


class RecallNet(nn.Module):
    """A recurrent stack (fused torch.nn) and a linear read-out of its last state.

    ``cell`` is ``rnn``, ``lstm``, ``gru`` (torch.nn's standard initialisation) or
    ``lstm-chrono``: an LSTM with chrono initialisation (Tallec & Ollivier, 2018), forget-gate
    biases log U(1, chrono_max - 1) and input-gate biases their negative, so that at the start
    the units keep their memory over time scales spread up to ``chrono_max`` steps.
    """

    def __init__(self, cell: str, hidden: int, chrono_max: int = 100) -> None:
        super().__init__()
        kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU, "lstm-chrono": nn.LSTM}[cell]
        self.rnn = kind(SYMBOLS + DISTRACTORS + 1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, SYMBOLS)
        if cell == "lstm-chrono":
            forget = torch.log(torch.empty(hidden).uniform_(1, max(chrono_max - 1, 2)))
            with torch.no_grad():  # torch.nn's gate order: input, forget, cell, output
                for bias in (self.rnn.bias_ih_l0, self.rnn.bias_hh_l0):
                    bias[:2 * hidden] = 0.0
                self.rnn.bias_ih_l0[hidden:2 * hidden] = forget
                self.rnn.bias_ih_l0[:hidden] = -forget

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def train_clipping(lr: float, clip: float, steps: int, lag: int, hidden: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-step loss and (pre-clip) gradient norm of an Elman RNN on the recall task, plain
    SGD. A non-finite loss ends the run: the rest of the curve is NaN."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = RecallNet("rnn", hidden)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses, norms = np.full(steps, np.nan), np.full(steps, np.nan)
    # Blown-up weights saturate tanh into denormal floats, which x86 handles 100x slower.
    flush = torch.set_flush_denormal(True)
    try:
        _sgd_steps(model, opt, clip, steps, lag, gen, losses, norms)
    finally:
        if flush:
            torch.set_flush_denormal(False)
    return losses, norms


def _sgd_steps(model: nn.Module, opt: torch.optim.Optimizer, clip: float, steps: int, lag: int,
               gen: torch.Generator, losses: np.ndarray, norms: np.ndarray) -> None:
    for step in range(steps):
        x, y = recall_batch(lag, 32, gen)
        loss = F.cross_entropy(model(x), y)
        if not math.isfinite(loss.item()):
            break
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else math.inf)
        losses[step], norms[step] = loss.item(), float(norm)
        opt.step()


def _gc_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lr", type=float, default=0.5, help="SGD learning rate (default: 0.5, "
                   "where the unclipped RNN blows up)")
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm of the clipped "
                   "runs (default: 1.0)")
    p.add_argument("--steps", type=int, help="SGD steps (default: 1500; 500 with --quick)")
    p.add_argument("--lag", type=int, default=10, help="recall lag (default: 10)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units (default: 64)")


def run_gradient_clipping(ns: argparse.Namespace, seeds: list[int], run_dir: Path) -> LabOutcome:
    steps = ns.steps or (500 if ns.quick else 1500)
    if steps < 10 or ns.lr <= 0 or ns.clip <= 0 or ns.lag < 0:
        raise RunError("--steps must be >= 10, --lr and --clip > 0, --lag >= 0")
    conds = {"no clipping": 0.0, f"clip {ns.clip:g}": ns.clip}
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in conds}
    jobs = [(c, s) for c in conds for s in seeds]
    for cond, seed in tqdm(jobs, disable=not ns.progress, leave=False, desc="runs"):
        curves[cond].append(train_clipping(ns.lr, conds[cond], steps, ns.lag, ns.hidden, seed))
    tail = max(1, steps // 10)
    chance = math.log(SYMBOLS)
    rows = []
    for cond in conds:
        losses = np.stack([c[0] for c in curves[cond]])
        norms = np.stack([c[1] for c in curves[cond]])
        finals = [np.nanmean(lo[-tail:]) if np.isfinite(lo[-tail:]).all() else math.nan
                  for lo in losses]
        diverged = [not np.isfinite(lo[-1]) or np.nanmax(lo) > BLOWN_UP * chance for lo in losses]
        over_clip = [int((n > ns.clip).sum()) for n in norms]
        blown_at = [int(np.argmax(~(lo <= BLOWN_UP * chance))) for lo, d in zip(losses, diverged,
                                                                                strict=True) if d]
        rows.append({"condition": cond, "lr": ns.lr,
                     "final_loss": float(np.nanmean(finals)) if not all(map(math.isnan, finals))
                     else math.nan,
                     "runs_blown_up": f"{sum(diverged)}/{len(seeds)}",
                     "max_grad_norm": float(np.nanmax(norms)),
                     "median_grad_norm": float(np.nanmedian(norms)),
                     f"steps_with_norm_over_{ns.clip:g}": float(np.mean(over_clip)),
                     "first_blow_up_step": float(np.mean(blown_at)) + 1 if blown_at else math.nan})
    a, b = rows
    conclusions = [
        f"With SGD at lr {ns.lr:g} and no clipping, {a['runs_blown_up']} runs blew up (loss "
        f"non-finite or above {BLOWN_UP}x chance, {BLOWN_UP * chance:.2f})"
        + (f", first at step {a['first_blow_up_step']:.0f} on average" if a["runs_blown_up"][0] != "0"
           else "")
        + f"; the largest gradient norm was {a['max_grad_norm']:.3g}, "
        f"{a['max_grad_norm'] / a['median_grad_norm']:.3g}x its median.",
        f"Clipping the norm at {ns.clip:g}: {b['runs_blown_up']} blew up; the loss over the last "
        f"{tail} steps averaged {_loss(b['final_loss'])} against {_loss(a['final_loss'])} "
        f"unclipped (chance {chance:.3f}).",
    ]

    def draw(fig: Any) -> None:
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        x = np.arange(1, steps + 1)
        for (cond, runs), colour in zip(curves.items(), ("tab:red", "tab:blue"), strict=True):
            for k, (lo, no) in enumerate(runs):
                label = cond if k == 0 else None
                ax1.plot(x, lo, color=colour, lw=0.8, alpha=0.7, label=label)
                ax2.plot(x, no, color=colour, lw=0.8, alpha=0.7, label=label)
        ax1.axhline(chance, color="grey", ls=":", lw=1)
        ax1.set(xlabel="SGD step", ylabel="cross-entropy (dotted: chance)", yscale="log",
                title=f"RNN, recall lag {ns.lag}, lr {ns.lr:g}")
        ax2.set(xlabel="SGD step", ylabel="gradient norm before clipping", yscale="log",
                title="gradient norm")
        ax1.legend()
        ax2.legend()

    return LabOutcome(list(rows[0]), rows, conclusions, draw,
                      {"final_loss": ".3f", "max_grad_norm": ".3g", "median_grad_norm": ".3g",
                       f"steps_with_norm_over_{ns.clip:g}": ".1f", "first_blow_up_step": ".0f"})


def _loss(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.3f}"


GRADIENT_CLIPPING = LabExperiment(
    "gradient-clipping", "Exploding gradients: clip the norm.", run_gradient_clipping,
    _gc_arguments, default_seeds=3, duration="under a minute")


# -- memory length -------------------------------------------------------------------------------
MEMORY_CELLS = ("rnn", "lstm", "gru", "lstm-chrono")


def train_recall(cell: str, lag: int, steps: int, hidden: int, lr: float, seed: int,
                 batch: int = 64, chrono_max: int = 100) -> float:
    """Train ``cell`` on the recall task at ``lag`` (Adam, clipping 1); held-out accuracy."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = RecallNet(cell, hidden, chrono_max)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = recall_batch(lag, batch, gen)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y = recall_batch(lag, 2000, torch.Generator().manual_seed(10_000 + seed))
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def _ml_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lags", type=int, nargs="+", help="lags to test (default: 2 5 10 20 50 100; "
                   "2 10 with --quick)")
    p.add_argument("--steps", type=int, help="Adam steps per run, the same for every cell "
                   "(default: 1000; 300 with --quick)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units (default: 64)")
    p.add_argument("--chrono-max", type=int, help="T_max of lstm-chrono's initialisation, the "
                   "longest time scale it starts with (default: the longest lag)")


def run_memory_length(ns: argparse.Namespace, seeds: list[int], run_dir: Path) -> LabOutcome:
    lags = sorted(set(ns.lags or ((2, 10) if ns.quick else (2, 5, 10, 20, 50, 100))))
    steps = ns.steps or (300 if ns.quick else 1000)
    chrono_max = ns.chrono_max or max(lags)
    if min(lags) < 0 or steps < 1 or ns.lr <= 0 or ns.hidden < 1 or chrono_max < 2:
        raise RunError("--lags must be >= 0, --steps and --hidden >= 1, --lr > 0, "
                       "--chrono-max >= 2")
    chance = 1 / SYMBOLS
    acc: dict[tuple[str, int], list[float]] = {}
    jobs = [(c, lag, s) for c in MEMORY_CELLS for lag in lags for s in seeds]
    for cell, lag, seed in tqdm(jobs, disable=not ns.progress, leave=False, desc="runs"):
        acc.setdefault((cell, lag), []).append(
            train_recall(cell, lag, steps, ns.hidden, ns.lr, seed, chrono_max=chrono_max))
    rows = [{"cell": c, "lag": lag, "accuracy": float(np.mean(acc[c, lag])),
             "accuracy_std": float(np.std(acc[c, lag])),
             "seeds_solved": f"{sum(a >= 0.95 for a in acc[c, lag])}/{len(seeds)}",
             "chance": chance} for c in MEMORY_CELLS for lag in lags]
    conclusions = []
    reach = {}
    for c in MEMORY_CELLS:
        mine = [r for r in rows if r["cell"] == c]
        unsolved = [r["lag"] for r in mine if r["accuracy"] < 0.95]
        reach[c] = max([r["lag"] for r in mine if not unsolved or r["lag"] < min(unsolved)],
                       default=None)
        near_chance = [r["lag"] for r in mine if r["accuracy"] < chance + 0.1]
        longest = mine[-1]
        text = f"{c} recalled with {longest['accuracy']:.2f} accuracy at lag {longest['lag']}"
        text += (f"; it solved (mean accuracy >= 0.95) every lag up to {reach[c]}"
                 if reach[c] is not None else "; it solved no lag")
        text += (f"; near chance ({chance:.3f}) from lag {min(near_chance)}" if near_chance
                 else "")
        conclusions.append(text + ".")
    order = sorted(MEMORY_CELLS, key=lambda c: -1 if reach[c] is None else reach[c], reverse=True)
    conclusions.append(
        f"Same budget for every cell ({steps} Adam steps of 64 sequences, {len(seeds)} seeds); "
        "longest lag solved without a gap: " + ", ".join(
            f"{c} {'none' if reach[c] is None else reach[c]}" for c in order)
        + f". lstm-chrono is the LSTM with chrono initialisation (T_max {chrono_max}).")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        for c in MEMORY_CELLS:
            means = [np.mean(acc[c, lag]) for lag in lags]
            stds = [np.std(acc[c, lag]) for lag in lags]
            ax.errorbar(lags, means, yerr=stds, marker="o", capsize=3, label=c)
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
        ax.set(xscale="log", xlabel="lag (distractor steps between symbol and recall)",
               ylabel="held-out accuracy", ylim=(0, 1.05),
               title=f"recall after a lag, {steps} Adam steps per run, {ns.hidden} units")
        ax.legend()

    return LabOutcome(list(rows[0]), rows, conclusions, draw,
                      {"accuracy": ".3f", "accuracy_std": ".3f", "chance": ".3f"})


MEMORY_LENGTH = LabExperiment(
    "memory-length", "A plain RNN copes with a few steps of memory; an LSTM with long ones.",
    run_memory_length, _ml_arguments, default_seeds=3, duration="about 13 minutes")
