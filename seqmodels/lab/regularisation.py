"""``lab regularisation``: dropout, L2 (coupled, as Adam's ``weight_decay`` adds it to the
gradient, and AdamW's decoupled decay), L1 and early stopping against overfitting, on a char-RNN
that memorises a small slice of a corpus.

Every condition x seed is a task (:mod:`pucklab.runs.lab_tasks`): a real ``char-rnn train``
run (:func:`pucklab.seqmodels.charrnn.run`) in its own folder under the lab run's ``tasks/``;
the table and figure come from their ``metrics.csv``, and the sparsity column (share of
weight-matrix entries under 0.01 in size, the bias vectors aside) from each run's last weights:
L1 is the regulariser that pushes weights to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task, continues
from pucklab.runs.metrics import read_metrics
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError, load_checkpoint
from pucklab.seqmodels.charrnn import CharRNNSettings, run
from pucklab.seqmodels.charrnn.data import read_corpus
from pucklab.seqmodels.train_config import TrainConfig


@dataclass
class RegularisationSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    corpus: str = setting("shakespeare", "text to slice")
    chars: int | None = setting(None, "characters of the slice", sizes=(60000, 8000))
    epochs: float | None = setting(None, "epochs per run", sizes=(20.0, 4.0))

    def check(self) -> None:
        super().check()
        assert self.chars is not None and self.epochs is not None
        if self.chars < 2000 or self.epochs <= 0:
            raise RunError(f"--chars must be >= 2000 and --epochs > 0, got {self.chars} and "
                           f"{self.epochs:g}")


SMALL = 0.01  # a weight this small counts as (nearly) zero in the sparsity column
REG_CONDITIONS: dict[str, dict[str, Any]] = {
    "none": {},
    "dropout 0.3": {"dropout": 0.3},
    "L2 1e-4 (adam, coupled)": {"weight_decay": 1e-4},
    "weight decay 0.1 (adamw)": {"optimizer": "adamw", "weight_decay": 0.1},
    "L1 1e-5": {"l1": 1e-5},
    "early stopping (patience 3)": {"patience": 3},
}


def tasks(ns: RegularisationSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{cond.split(' ')[0]}-seed{seed}", seed, {"condition": cond})
            for cond in REG_CONDITIONS for seed in seeds]


def hidden_units(ns: RegularisationSettings) -> int:
    return 64 if ns.quick else 256


def measure(ns: RegularisationSettings, task: Task, folder: Path, resume: bool
            ) -> dict[str, Any]:
    """One ``char-rnn`` run (in ``folder/run``): its metrics rows, how its fit ended and the
    sparsity of its weights. A retried task continues the run from its last checkpoint."""
    assert ns.chars is not None and ns.epochs is not None
    text, _ = read_corpus(ns.corpus)
    if len(text) < ns.chars:
        raise RunError(f"--chars {ns.chars} is more than the corpus holds ({len(text)} "
                       "characters)")
    slice_path = folder / "corpus_slice.txt"
    slice_path.write_text(text[:ns.chars], encoding="utf-8")
    opts = dict(REG_CONDITIONS[task.params["condition"]])
    cfg = TrainConfig(optimizer=opts.pop("optimizer", "adam"), lr=2e-3, epochs=ns.epochs,
                      weight_decay=opts.pop("weight_decay", 0.0), l1=opts.pop("l1", 0.0),
                      patience=opts.pop("patience", 0), seed=task.seed, progress=False,
                      device=ns.device)
    # dropout 0 unless the condition sets it: char-rnn's own default (0.3) would regularise
    # every condition; float32 so that every machine computes the same table
    settings = CharRNNSettings(corpus=str(slice_path), hidden=hidden_units(ns), layers=2,
                               seq_len=64, batch_size=16, train=cfg, precision="fp32",
                               dropout=opts.pop("dropout", 0.0), **opts)
    run_dir = folder / "run"
    result = run(settings, run_dir, resume=continues(run_dir, resume))
    return {"metrics": [{k: v for k, v in m.items() if not math.isnan(v)}
                        for m in read_metrics(run_dir)],
            "kept_val_loss": result.details.val_loss, "epochs": result.details.epochs,
            "small_weights": sparsity(run_dir)}


def sparsity(run_dir: Path, below: float = SMALL) -> float:
    """Share of the weight-matrix entries of the run's saved model smaller than ``below``."""
    model = load_checkpoint(run_dir, command="char-rnn", keys=("model",))["model"]
    matrices = [w for w in model.values() if w.dim() >= 2]
    return float(sum(int((w.abs() < below).sum()) for w in matrices)
                 / sum(w.numel() for w in matrices))


def _column(metrics: list[dict[str, float]], name: str) -> list[float]:
    return [m[name] for m in metrics if not math.isnan(m.get(name, math.nan))]


def table(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for cond in REG_CONDITIONS:
        finals_train, finals_val, bests, gaps = [], [], [], []
        for found in results[cond]:
            train = _column(found["metrics"], "train_loss")
            vals = _column(found["metrics"], "val_loss")
            last_train = float(np.mean(train[-5:]))
            finals_train.append(last_train)
            finals_val.append(vals[-1])
            bests.append(min(vals))
            gaps.append(vals[-1] - last_train)
        # kept: what the run leaves (the best model under early stopping)
        rows.append({"regulariser": cond, "final_train_loss": interval(finals_train),
                     "final_val_loss": interval(finals_val), "best_val_loss": interval(bests),
                     "kept_model_val_loss": interval([f["kept_val_loss"] for f in results[cond]]),
                     "val_minus_train": interval(gaps),
                     "epochs_run": float(np.mean([f["epochs"] for f in results[cond]])),
                     "small_weights": interval([f["small_weights"] for f in results[cond]])})
    return rows


def compare(results: dict[str, list[dict[str, Any]]]) -> list[Claim]:
    """Each regulariser against none, seed by seed (a seed: the same start and batches): the
    validation loss of the model the run leaves; and L1's share of small weights."""
    def kept(cond: str) -> list[float]:
        return [f["kept_val_loss"] for f in results[cond]]

    none = kept("none")
    claims = [Claim(f"{cond} leaves a model of lower validation loss than none "
                    f"({cond} - none, nats/char)", difference(kept(cond), none), higher=False)
              for cond in REG_CONDITIONS if cond != "none"]
    l1 = next(c for c in REG_CONDITIONS if c.startswith("L1"))
    small = {c: [f["small_weights"] for f in results[c]] for c in ("none", l1)}
    return claims + [Claim(f"{l1} makes more weights small (share under {SMALL:g}, "
                           f"{l1} - none)", difference(small[l1], small["none"]))]


def conclude(rows: list[dict[str, Any]], hidden: int, chars: int) -> list[str]:
    none = {r["regulariser"]: r for r in rows}["none"]
    best = min(rows, key=lambda r: r["kept_model_val_loss"].mean)
    return [
        f"Unregularised, the {hidden}-unit char-RNN ends with training loss "
        f"{none['final_train_loss'].mean:.3f} and validation loss "
        f"{none['final_val_loss'].mean:.3f} nats/char on a {chars}-character slice (best "
        f"{none['best_val_loss'].mean:.3f} during training): a gap of "
        f"{none['val_minus_train'].mean:.3f}.",
        "Validation loss of the model each run leaves: " + ", ".join(
            f"{r['regulariser']} {r['kept_model_val_loss'].mean:.3f}" for r in rows)
        + f"; the lowest is {best['regulariser']}.",
        "Train-validation gap at the end: " + ", ".join(
            f"{r['regulariser']} {r['val_minus_train'].mean:.3f}" for r in rows) + ".",
        f"Share of weights under {SMALL:g} in size: " + ", ".join(
            f"{r['regulariser']} {r['small_weights'].mean:.1%}" for r in rows) + ".",
    ]


def draw(fig: Any, results: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]]
         ) -> None:
    axes = [fig.add_subplot(1, len(rows), k + 1) for k in range(len(rows))]
    for ax, cond in zip(axes, REG_CONDITIONS, strict=True):
        for k, metrics in enumerate(f["metrics"] for f in results[cond]):
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
    lows = [r["final_train_loss"].mean for r in rows]
    for ax in axes:
        ax.set_ylim(min(lows) * 0.8, None)


def aggregate(ns: RegularisationSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    assert ns.chars is not None
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in REG_CONDITIONS}
    for task in tasks(ns, ns.seed_list()):
        results[task.params["condition"]].append(found[task.key])
    rows = table(results)
    return LabOutcome(list(rows[0]), rows, conclude(rows, hidden_units(ns), ns.chars),
                      lambda fig: draw(fig, results, rows),
                      {k: ".3f" for k in rows[0] if k != "regulariser"}
                      | {"epochs_run": ".1f", "small_weights": ".1%"}, compare(results))


REGULARISATION = LabExperiment(
    "regularisation", "Dropout, L2, L1 and early stopping fight overfitting; L1 makes weights "
    "sparse.", None, RegularisationSettings,
    duration="about 22 minutes with --workers 2 (30 runs: 6 conditions x 5 seeds)",
    tasks=tasks, measure=measure, aggregate=aggregate)
