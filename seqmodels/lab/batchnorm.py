"""``lab batch-norm``: normalising each layer's inputs over the mini-batch, with a trainable
scale and shift, stabilises deep networks; at prediction time one sample uses the statistics
gathered in training.

A deep MLP (10 hidden layers of 64 ReLU units, He's start, the best for ReLU in ``lab
initialisation``) on scikit-learn's digits, plain minibatch SGD (batches of 64, each epoch's
incomplete last batch dropped, as batch norm needs), trained with and without
``nn.BatchNorm1d`` after every hidden Linear, at learning rates from 0.01 to 10. Measured per
condition, rate and seed: the final test accuracy (a run that diverged counts 0), the updates
to 90 % test accuracy, and whether the run diverged; per condition, the highest rate at which
every seed still reached 90 %. Then, for the batch-norm networks trained
at the rate the plain network trained best at:

- eval mode: a sample's logits alone, twice, and inside the whole test batch are the same
  (the running statistics make a prediction a function of the sample only);
- train mode (batch statistics): the test set's accuracy as one batch, against eval mode's, and
  how often a sample's predicted class changes with the one other sample it is batched with;
  a batch of one has no spread to normalise by, and torch refuses it.

Each condition x rate x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
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
from pucklab.seqmodels.basics.nets import as_tensors, first_update, mlp, train_classifier

CONDITIONS = {"plain": False, "batch norm": True}
WIDTH, BATCH, TARGET = 64, 64, 0.9
#: Train mode: each of the first 100 test samples in 10 batches of 8 with random others.
SAMPLES, BATCHES, GROUP = 100, 10, 8


@dataclass
class BatchNormSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    steps: int | None = setting(None, "SGD updates per run", sizes=(1500, 200))
    depth: int = setting(10, "hidden layers")
    lrs: list[float] | None = setting(None, "SGD learning rates to sweep", metavar="LR",
                                      sizes=([0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0], [0.1, 1.0]))

    def check(self) -> None:
        super().check()
        assert self.steps is not None and self.lrs is not None
        if self.steps < 1 or self.depth < 1 or min(self.lrs) <= 0:
            raise RunError("--steps and --depth must be >= 1, --lrs > 0")


def train(batch_norm: bool, lr: float, seed: int, ns: BatchNormSettings,
          device: torch.device) -> tuple[nn.Sequential, list[dict[str, float]]]:
    """One network of the sweep, trained; its curve."""
    assert ns.steps is not None
    split = digits(seed)
    model = mlp([64] + [WIDTH] * ns.depth + [split.classes], "relu", "he", seed,
                batch_norm=batch_norm).to(device)
    rows = train_classifier(model, split, torch.optim.SGD(model.parameters(), lr=lr),
                            ns.steps, BATCH, seed, every=max(1, ns.steps // 50), device=device,
                            drop_last=True)
    return model, rows


def prediction_modes(model: nn.Sequential, seed: int, device: torch.device) -> dict[str, Any]:
    """Eval mode against train mode (batch statistics) on the test set of ``seed``'s split."""
    _, _, x, y = as_tensors(digits(seed), device)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.eval()
        batch = model(x)
        alone = torch.cat([model(x[i:i + 1]) for i in range(len(x))])
        again = torch.cat([model(x[i:i + 1]) for i in range(len(x))])
        eval_acc = float((batch.argmax(1) == y).float().mean())
        model.train()  # batch statistics; momentum 0 so the running statistics stay as trained
        momenta = [(m, m.momentum) for m in model if isinstance(m, nn.BatchNorm1d)]
        for m, _ in momenta:
            m.momentum = 0.0
        try:
            train_acc = float((model(x).argmax(1) == y).float().mean())
            flips = []
            for i in range(min(SAMPLES, len(x))):
                others = torch.randint(0, len(x) - 1, (BATCHES, GROUP - 1), generator=gen)
                others = others + (others >= i).long()  # never the sample itself
                classes = torch.stack([model(torch.cat([x[i:i + 1], x[o]]))[0].argmax()
                                       for o in others])  # one forward pass per batch
                flips.append(float((classes != classes.mode().values).float().mean()))
            try:
                model(x[:1])
                single = "ran"
            except ValueError:  # "Expected more than 1 value per channel when training"
                single = "refused"
        finally:
            for m, momentum in momenta:
                m.momentum = momentum
            model.eval()
    return {"eval_alone_vs_batch": float((alone - batch).abs().max()),
            "eval_repeat": float((alone - again).abs().max()),
            "eval_accuracy": eval_acc, "train_mode_accuracy": train_acc,
            "batch_flips": float(np.mean(flips)), "single_in_train_mode": single}


def tasks(ns: BatchNormSettings, seeds: list[int]) -> list[Task]:
    assert ns.lrs is not None
    return [Task(f"{cond.replace(' ', '-')}-lr{lr:g}-seed{seed}", seed,
                 {"condition": cond, "lr": lr})
            for cond in CONDITIONS for lr in sorted(set(ns.lrs)) for seed in seeds]


def measure(ns: BatchNormSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One network trained (seconds of work: a retried task runs again); a batch-norm one also
    predicts in eval and in train mode (the aggregate keeps those at the plain network's best
    rate)."""
    device = resolve_device(ns.device)
    norm = CONDITIONS[task.params["condition"]]
    model, rows = train(norm, task.params["lr"], task.seed, ns, device)
    return {"rows": rows, "modes": prediction_modes(model, task.seed, device) if norm else None}


def final_accuracy(run: list[dict[str, float]]) -> float:
    """The last test accuracy; a run that diverged (nan) counts as 0."""
    acc = run[-1]["test_accuracy"]
    return 0.0 if math.isnan(acc) else acc


TOLERANCE = 1e-4  # eval-mode logits this close: the same prediction


def compare(curves: dict[tuple[str, float], list[list[dict[str, float]]]],
            modes: list[dict[str, Any]], lrs: list[float], plain_best: float) -> list[Claim]:
    """Seed by seed: batch norm against plain at every rate above the plain network's best;
    eval mode deterministic; train mode dependent on the batch."""
    claims = [Claim(f"at lr {lr:g} batch norm ends at a higher test accuracy than plain "
                    "(batch norm - plain)",
                    difference([final_accuracy(r) for r in curves["batch norm", lr]],
                               [final_accuracy(r) for r in curves["plain", lr]]))
              for lr in lrs if lr > plain_best]
    gaps = [float(np.log10(max(m["eval_alone_vs_batch"], m["eval_repeat"], 1e-300)))
            for m in modes]
    return claims + [
        Claim(f"eval mode: a sample's logits alone, again and in a batch agree to {TOLERANCE:g} "
              f"(log10 of the largest gap - log10 {TOLERANCE:g})",
              difference(gaps, float(np.log10(TOLERANCE))), higher=False),
        Claim(f"train mode: a sample's class changes with its batch-mates (share of batches of "
              f"{GROUP})", difference([m["batch_flips"] for m in modes], 0.0))]


def aggregate(ns: BatchNormSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    assert ns.lrs is not None
    seeds, lrs = ns.seed_list(), sorted(set(ns.lrs))
    curves: dict[tuple[str, float], list[list[dict[str, float]]]] = {}
    for task in tasks(ns, seeds):
        curves.setdefault((task.params["condition"], task.params["lr"]), []).append(
            found[task.key]["rows"])
    rows = [_row(cond, lr, curves[cond, lr]) for cond in CONDITIONS for lr in lrs]
    plain_best = max((r for r in rows if r["condition"] == "plain"),
                     key=lambda r: r["final_test_accuracy"].mean)["lr"]
    modes = [found[t.key]["modes"] for t in tasks(ns, seeds)
             if t.params["condition"] == "batch norm" and t.params["lr"] == plain_best]
    conclusions = conclude(rows, modes, plain_best, ns)
    summary: dict[str, Any] = {"condition": f"batch norm, lr {plain_best:g}: eval vs train mode"}
    summary.update({k: interval([m[k] for m in modes]) for k in ("eval_accuracy",
                                                                 "train_mode_accuracy")})
    rows.append(summary)
    columns = ["condition", "lr", "final_test_accuracy", f"updates_to_{TARGET:.0%}", "diverged",
               "eval_accuracy", "train_mode_accuracy"]
    return LabOutcome(columns, rows, conclusions, lambda fig: draw(fig, curves, lrs, rows),
                      {"lr": "g", "final_test_accuracy": ".3f",
                       f"updates_to_{TARGET:.0%}": ".0f", "eval_accuracy": ".3f",
                       "train_mode_accuracy": ".3f"},
                      compare(curves, modes, lrs, plain_best))


def _mean(values: Any) -> float:
    return float(np.mean(list(values)))


def _row(cond: str, lr: float, runs: list[list[dict[str, float]]]) -> dict[str, Any]:
    finals = [r[-1] for r in runs]
    return {"condition": cond, "lr": lr,
            "final_test_accuracy": interval([final_accuracy(r) for r in runs]),
            f"updates_to_{TARGET:.0%}": float(np.median([first_update(r, TARGET) for r in runs])),
            "reached": all(math.isfinite(first_update(r, TARGET)) for r in runs),
            "diverged": f"{sum(not math.isfinite(f['train_loss']) for f in finals)}/{len(runs)}"}


def highest_trained(rows: list[dict[str, Any]], cond: str) -> float:
    """The highest rate at which every seed of ``cond`` reached the target (0: none did)."""
    return max((r["lr"] for r in rows if r["condition"] == cond and r["reached"]), default=0.0)


def conclude(rows: list[dict[str, Any]], modes: list[dict[str, Any]], plain_best: float,
             ns: BatchNormSettings) -> list[str]:
    key = f"updates_to_{TARGET:.0%}"
    top = {c: highest_trained(rows, c) for c in CONDITIONS}
    both = [r["lr"] for r in rows if r["condition"] == "plain" and r["reached"]]
    faster = [lr for lr in both
              if next(r for r in rows if r["condition"] == "batch norm" and r["lr"] == lr)[key]
              < next(r for r in rows if r["condition"] == "plain" and r["lr"] == lr)[key]]
    worst_gap = max(max(m["eval_alone_vs_batch"], m["eval_repeat"]) for m in modes)
    flips = _mean(m["batch_flips"] for m in modes)
    return [
        f"Highest learning rate at which every seed reached {TARGET:.0%} test accuracy, "
        f"{ns.depth} ReLU layers deep: plain {_lr(top['plain'])}, with batch norm "
        f"{_lr(top['batch norm'])}.",
        f"Where the plain network reached {TARGET:.0%} (lr {', '.join(f'{x:g}' for x in both)})"
        f", batch norm got there in fewer updates (median) at {len(faster)} of {len(both)} "
        "rates." if both else f"The plain network reached {TARGET:.0%} at no rate.",
        f"Eval mode (running statistics, lr {plain_best:g}): a test sample's logits alone, "
        f"again, and inside the test batch differ by at most {worst_gap:.1e}."
        + f" Test accuracy {_mean(m['eval_accuracy'] for m in modes):.3f} in eval mode, "
        f"{_mean(m['train_mode_accuracy'] for m in modes):.3f} in train mode with the whole "
        "test set as the batch.",
        f"Train mode, batches of {GROUP}: a test sample's predicted class changed with its "
        f"batch-mates in {flips:.1%} of {BATCHES} random batches (each of {SAMPLES} samples); "
        "a batch of one was "
        f"{modes[0]['single_in_train_mode']} by torch (nothing to normalise by).",
    ]


def _lr(lr: float) -> str:
    return f"{lr:g}" if lr > 0 else "none"


def draw(fig: Any, curves: dict[tuple[str, float], list[list[dict[str, float]]]],
         lrs: list[float], rows: list[dict[str, Any]]) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for cond, style in (("plain", "--"), ("batch norm", "-")):
        acc = [next(r for r in rows if r["condition"] == cond and r["lr"] == lr)
               ["final_test_accuracy"].mean for lr in lrs]
        ax1.plot(lrs, acc, style, marker="o", label=cond)
    ax1.axhline(TARGET, color="grey", ls=":", lw=1)
    ax1.set(xscale="log", xlabel="SGD learning rate", ylabel="final test accuracy (mean)",
            title="the learning-rate sweep")
    ax1.legend()
    middle = lrs[len(lrs) // 2]
    for cond, style in (("plain", "--"), ("batch norm", "-")):
        for lr in (lrs[0], middle, lrs[-1]):
            r = curves[cond, lr][0]
            ax2.plot([x["update"] for x in r], [x["test_accuracy"] for x in r], style, lw=1,
                     label=f"{cond}, lr {lr:g}")
    ax2.set(xlabel="SGD update", ylabel="test accuracy (first seed)", title="training")
    ax2.legend(fontsize=7)


BATCH_NORM = LabExperiment(
    "batch-norm", "Normalising each layer's inputs over the mini-batch, with a trainable scale "
    "and shift, stabilises deep networks; at prediction time one sample uses the statistics "
    "gathered in training.", None, BatchNormSettings, duration="about 5 minutes",
    tasks=tasks, measure=measure, aggregate=aggregate)
