"""The sequence half's ``lab`` experiments: each turns one claim of the course into numbers.

* ``vanishing-gradients``: how fast dL/dh_t shrinks with the distance T - t from the loss, for
  our explicit RNN, LSTM and GRU cells at standard initialisation.
* ``memory-length``: RNN, LSTM and GRU under the same step budget on a recall task (a symbol,
  then ``lag`` distractors, then a cue), accuracy against the lag.
* ``gradient-clipping``: an Elman RNN trained with plain SGD at a learning rate that explodes,
  with and without ``torch.nn.utils.clip_grad_norm_``.
* ``regularisation``: a char-RNN on a small slice of Tiny Shakespeare, where it overfits, with
  no regularisation, dropout, weight decay and early stopping, through the shared Trainer.

Registered as entry points of ``pucklab.lab`` (pyproject.toml); ``pucklab.runs.lab`` runs them
and writes results.csv / results.md / figure.png. Every conclusion is a sentence filled in
from the measured numbers.
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

from pucklab.runs import RunError, read_metrics
from pucklab.runs.lab import LabExperiment, LabOutcome
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


def _vg_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--length", type=int, help="sequence length T (default: 200; 60 with --quick)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units (default: 64)")


def run_vanishing_gradients(ns: argparse.Namespace, seeds: list[int], run_dir: Path) -> LabOutcome:
    length = ns.length or (60 if ns.quick else 200)
    if length < 2 or ns.hidden < 1:
        raise RunError("--length must be >= 2 and --hidden >= 1")
    kinds = ["rnn", "lstm", "gru", FORGET_BIAS_LABEL]
    curves: dict[str, np.ndarray] = {}  # kind -> (seeds, T) ratios to the norm at the loss
    norms0: dict[str, float] = {}
    for kind in tqdm(kinds, disable=not ns.progress, leave=False, desc="cells"):
        per_seed = [gradient_norms(kind, length, ns.hidden, 16, 32, s) for s in seeds]
        curves[kind] = np.stack([n / n[0] for n in per_seed])
        norms0[kind] = float(np.mean([n[0] for n in per_seed]))
    marks = [d for d in (10, 50, 100) if d < length]
    rows = []
    for kind in kinds:
        # geometric mean over seeds: the curves span hundreds of orders of magnitude
        ratio = np.exp(np.log(np.maximum(curves[kind], 1e-300)).mean(axis=0))
        d3 = _distance_below(ratio, 1e-3)
        span = int(d3) if math.isfinite(d3) else length - 1
        row: dict[str, Any] = {"cell": kind, "norm_at_loss": norms0[kind],
                               "distance_to_1e-3": d3,
                               "decay_per_step": float(ratio[span] ** (1 / span))}
        row.update({f"ratio_at_{d}": float(ratio[d]) for d in marks})
        rows.append(row)
    by = {r["cell"]: r for r in rows}
    steps = ", ".join(f"{k} {_steps(by[k]['distance_to_1e-3'])}" for k in kinds[:3])
    decay = ", ".join(f"{k} x{by[k]['decay_per_step']:.2f}" for k in kinds[:3])
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
    if all(math.isfinite(by[k]["distance_to_1e-3"]) for k in kinds):
        conclusions.append(f"No cell keeps its gradient over {length} steps at initialisation; "
                           "the gates make long memory learnable (they can learn to stay open), "
                           "they do not give it for free.")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        dist = np.arange(length)
        for kind in kinds:
            logs = np.log10(np.maximum(curves[kind], 1e-300))
            ax.plot(dist, logs.mean(axis=0), label=kind, lw=1.6)
            ax.fill_between(dist, logs.min(axis=0), logs.max(axis=0), alpha=0.15)
        ax.axhline(-3, color="grey", ls=":", lw=1)
        ax.set_xlabel("distance from the loss, T - t (steps)")
        ax.set_ylabel("log10 ||dL/dh_t|| / ||dL/dh_T||")
        ax.set_ylim(max(-40, ax.get_ylim()[0]), 1)
        ax.set_title(f"gradient reaching back through {ns.hidden}-unit cells at standard init "
                     f"(mean and range of {len(seeds)} seeds)")
        ax.legend()

    cols = ["cell", "norm_at_loss", *[f"ratio_at_{d}" for d in marks], "distance_to_1e-3",
            "decay_per_step"]
    return LabOutcome(cols, rows, conclusions, draw,
                      {**{f"ratio_at_{d}": ".2e" for d in marks}, "decay_per_step": ".3f",
                       "norm_at_loss": ".3g", "distance_to_1e-3": ".0f"})


def _steps(d: float) -> str:
    return f"{d:.0f} steps" if math.isfinite(d) else "never (within T)"


VANISHING_GRADIENTS = LabExperiment(
    "vanishing-gradients",
    "RNN gradients vanish over long sequences; LSTM/GRU gates fix it.",
    run_vanishing_gradients, _vg_arguments, default_seeds=5, duration="under a minute")


# -- gradient clipping ---------------------------------------------------------------------------
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
    """A recurrent stack (fused torch.nn) and a linear read-out of its last state."""

    def __init__(self, cell: str, hidden: int) -> None:
        super().__init__()
        kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = kind(SYMBOLS + DISTRACTORS + 1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, SYMBOLS)

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
MEMORY_CELLS = ("rnn", "lstm", "gru")


def train_recall(cell: str, lag: int, steps: int, hidden: int, lr: float, seed: int,
                 batch: int = 64) -> float:
    """Train ``cell`` on the recall task at ``lag`` (Adam, clipping 1); held-out accuracy."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = RecallNet(cell, hidden)
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
                   "(default: 1500; 300 with --quick)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units (default: 64)")


def run_memory_length(ns: argparse.Namespace, seeds: list[int], run_dir: Path) -> LabOutcome:
    lags = sorted(set(ns.lags or ((2, 10) if ns.quick else (2, 5, 10, 20, 50, 100))))
    steps = ns.steps or (300 if ns.quick else 1500)
    if min(lags) < 0 or steps < 1 or ns.lr <= 0 or ns.hidden < 1:
        raise RunError("--lags must be >= 0, --steps and --hidden >= 1, --lr > 0")
    chance = 1 / SYMBOLS
    acc: dict[tuple[str, int], list[float]] = {}
    jobs = [(c, lag, s) for c in MEMORY_CELLS for lag in lags for s in seeds]
    for cell, lag, seed in tqdm(jobs, disable=not ns.progress, leave=False, desc="runs"):
        acc.setdefault((cell, lag), []).append(
            train_recall(cell, lag, steps, ns.hidden, ns.lr, seed))
    rows = [{"cell": c, "lag": lag, "accuracy": float(np.mean(acc[c, lag])),
             "accuracy_std": float(np.std(acc[c, lag])),
             "seeds_solved": f"{sum(a >= 0.95 for a in acc[c, lag])}/{len(seeds)}",
             "chance": chance} for c in MEMORY_CELLS for lag in lags]
    conclusions = []
    for c in MEMORY_CELLS:
        mine = [r for r in rows if r["cell"] == c]
        solved = [r["lag"] for r in mine if r["accuracy"] >= 0.95]
        near_chance = [r["lag"] for r in mine if r["accuracy"] < chance + 0.1]
        longest = mine[-1]
        text = (f"{c.upper()} recalled with {longest['accuracy']:.2f} "
                f"accuracy at lag {longest['lag']}")
        text += (f"; solved (>= 0.95) up to lag {max(solved)}" if solved else "; solved no lag")
        text += (f"; near chance ({chance:.3f}) from lag {min(near_chance)}" if near_chance
                 else "")
        conclusions.append(text + f" ({steps} Adam steps, {len(seeds)} seeds).")

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
    run_memory_length, _ml_arguments, default_seeds=3, duration="about 12 minutes, estimated")


# -- regularisation ------------------------------------------------------------------------------
def _reg_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", default="shakespeare", help="text to slice (default: shakespeare)")
    p.add_argument("--chars", type=int, help="characters of the slice (default: 60000; 8000 "
                   "with --quick)")
    p.add_argument("--epochs", type=float, help="epochs per run (default: 20; 4 with --quick)")


REG_CONDITIONS = {
    "none": {},
    "dropout 0.3": {"dropout": 0.3},
    "weight decay 0.1 (adamw)": {"optimizer": "adamw", "weight_decay": 0.1},
    "early stopping (patience 3)": {"patience": 3},
}


def run_regularisation(ns: argparse.Namespace, seeds: list[int], run_dir: Path) -> LabOutcome:
    from pucklab.seqmodels import charrnn
    from pucklab.seqmodels.chardata import read_corpus
    from pucklab.seqmodels.trainer import TrainConfig

    chars = ns.chars or (8000 if ns.quick else 60000)
    epochs = ns.epochs or (4.0 if ns.quick else 20.0)
    if chars < 2000 or epochs <= 0:
        raise RunError(f"--chars must be >= 2000 and --epochs > 0, got {chars} and {epochs:g}")
    text, _ = read_corpus(ns.corpus)
    if len(text) < chars:
        raise RunError(f"--chars {chars} is more than the corpus holds ({len(text)} characters)")
    slice_path = run_dir / "corpus_slice.txt"
    slice_path.write_text(text[:chars], encoding="utf-8")
    hidden = 64 if ns.quick else 256
    results: dict[str, list[list[dict[str, float]]]] = {c: [] for c in REG_CONDITIONS}
    summary: dict[str, list[Any]] = {c: [] for c in REG_CONDITIONS}
    jobs = [(c, s) for c in REG_CONDITIONS for s in seeds]
    for cond, seed in tqdm(jobs, disable=not ns.progress, leave=False, desc="runs"):
        opts = dict(REG_CONDITIONS[cond])
        cfg = TrainConfig(optimizer=opts.pop("optimizer", "adam"), lr=2e-3, epochs=epochs,
                          weight_decay=opts.pop("weight_decay", 0.0),
                          patience=opts.pop("patience", 0), seed=seed, progress=False)
        args = charrnn.CharRNNArgs(corpus=str(slice_path), hidden=hidden, layers=2,
                                   seq_len=64, batch_size=16, train=cfg, **opts)
        folder = run_dir / f"{cond.split(' ')[0]}-seed{seed}"
        result = charrnn.train(args, folder)
        results[cond].append(read_metrics(folder))
        summary[cond].append(result)
    rows = []
    for cond in REG_CONDITIONS:
        finals_train, finals_val, bests, gaps = [], [], [], []
        for metrics in results[cond]:
            train = [m["train_loss"] for m in metrics if not math.isnan(m.get("train_loss", math.nan))]
            vals = [m["val_loss"] for m in metrics if not math.isnan(m.get("val_loss", math.nan))]
            last_train = float(np.mean(train[-5:]))
            finals_train.append(last_train)
            finals_val.append(vals[-1])
            bests.append(min(vals))
            gaps.append(vals[-1] - last_train)
        kept = [r.val_loss for r in summary[cond]]  # what the run leaves (best under early stop)
        rows.append({"regulariser": cond, "final_train_loss": float(np.mean(finals_train)),
                     "final_val_loss": float(np.mean(finals_val)),
                     "best_val_loss": float(np.mean(bests)),
                     "kept_model_val_loss": float(np.mean(kept)),
                     "val_minus_train": float(np.mean(gaps)),
                     "epochs_run": float(np.mean([r.epochs for r in summary[cond]]))})
    by = {r["regulariser"]: r for r in rows}
    none = by["none"]
    best = min(rows, key=lambda r: r["kept_model_val_loss"])
    conclusions = [
        f"Unregularised, the {hidden}-unit char-RNN ends with training loss "
        f"{none['final_train_loss']:.3f} and validation loss {none['final_val_loss']:.3f} nats/char "
        f"on a {chars}-character slice (best {none['best_val_loss']:.3f} during training): a gap "
        f"of {none['val_minus_train']:.3f}.",
        "Validation loss of the model each run leaves: " + ", ".join(
            f"{r['regulariser']} {r['kept_model_val_loss']:.3f}" for r in rows)
        + f"; the lowest is {best['regulariser']}.",
        "Train-validation gap at the end: " + ", ".join(
            f"{r['regulariser']} {r['val_minus_train']:.3f}" for r in rows) + ".",
    ]

    def draw(fig: Any) -> None:
        axes = [fig.add_subplot(1, len(rows), k + 1) for k in range(len(rows))]
        for ax, cond in zip(axes, REG_CONDITIONS, strict=True):
            for k, metrics in enumerate(results[cond]):
                tr = [(m["epoch"], m["train_loss"]) for m in metrics
                      if not math.isnan(m.get("train_loss", math.nan))]
                va = [(m["epoch"], m["val_loss"]) for m in metrics
                      if not math.isnan(m.get("val_loss", math.nan))]
                ax.plot(*zip(*tr, strict=True), color="tab:blue", lw=0.8, alpha=0.7,
                        label="train" if k == 0 else None)
                ax.plot(*zip(*va, strict=True), color="tab:red", lw=1.4,
                        label="validation" if k == 0 else None)
            ax.set(title=cond, xlabel="epoch")
        axes[0].set_ylabel("loss (nats/char)")
        axes[0].legend()
        lows = [r["final_train_loss"] for r in rows]
        for ax in axes:
            ax.set_ylim(min(lows) * 0.8, None)

    return LabOutcome(list(rows[0]), rows, conclusions, draw,
                      {k: ".3f" for k in rows[0] if k != "regulariser"} | {"epochs_run": ".1f"})


REGULARISATION = LabExperiment(
    "regularisation", "Dropout, L2 and early stopping fight overfitting.", run_regularisation,
    _reg_arguments, default_seeds=2, duration="about 10 minutes")
