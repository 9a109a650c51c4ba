"""``lab regularisation``: dropout, L2 (coupled, as Adam's ``weight_decay`` adds it to the
gradient, and AdamW's decoupled decay), L1 and early stopping against overfitting, on a char-RNN
that memorises a small slice of a corpus.

Every condition is a real ``char-rnn train`` run (:func:`pucklab.seqmodels.charrnn.run`) in its
own folder under the lab run; the table and figure come from their ``metrics.csv``, and the
sparsity column (share of weight-matrix entries under 0.01 in size, the bias vectors aside) from
each run's last weights: L1 is the regulariser that pushes weights to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.figures import progress_bar
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.metrics import read_metrics
from pucklab.runs.settings import setting
from pucklab.runs.store import RunError, load_checkpoint
from pucklab.seqmodels.charrnn import CharRNNSettings, run
from pucklab.seqmodels.charrnn.data import read_corpus
from pucklab.seqmodels.train_config import TrainConfig


@dataclass
class RegularisationSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(2)
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


Histories = dict[str, list[list[dict[str, float]]]]  # condition -> every seed's metrics rows


def measure(ns: RegularisationSettings, seeds: list[int], corpus: Path, epochs: float, hidden: int,
            run_dir: Path) -> tuple[Histories, dict[str, list[Any]]]:
    """One ``char-rnn`` run per (condition, seed): its metrics rows and how its fit ended."""
    results: Histories = {c: [] for c in REG_CONDITIONS}
    fits: dict[str, list[Any]] = {c: [] for c in REG_CONDITIONS}
    jobs = [(c, s) for c in REG_CONDITIONS for s in seeds]
    for cond, seed in progress_bar(ns.progress, iterable=jobs, leave=False, desc="runs"):
        opts = dict(REG_CONDITIONS[cond])
        cfg = TrainConfig(optimizer=opts.pop("optimizer", "adam"), lr=2e-3, epochs=epochs,
                          weight_decay=opts.pop("weight_decay", 0.0), l1=opts.pop("l1", 0.0),
                          patience=opts.pop("patience", 0), seed=seed, progress=False,
                          device=ns.device)
        # dropout 0 unless the condition sets it: char-rnn's own default (0.25) would
        # regularise every condition
        settings = CharRNNSettings(corpus=str(corpus), hidden=hidden, layers=2, seq_len=64,
                                   batch_size=16, train=cfg, dropout=opts.pop("dropout", 0.0),
                                   **opts)
        result = run(settings, run_dir / f"{cond.split(' ')[0]}-seed{seed}")
        results[cond].append(read_metrics(result.run_dir))
        fits[cond].append((result.details, sparsity(result.run_dir)))
    return results, fits


def sparsity(run_dir: Path, below: float = SMALL) -> float:
    """Share of the weight-matrix entries of the run's saved model smaller than ``below``."""
    model = load_checkpoint(run_dir, command="char-rnn", keys=("model",))["model"]
    matrices = [w for w in model.values() if w.dim() >= 2]
    return float(sum(int((w.abs() < below).sum()) for w in matrices)
                 / sum(w.numel() for w in matrices))


def _column(metrics: list[dict[str, float]], name: str) -> list[float]:
    return [m[name] for m in metrics if not math.isnan(m.get(name, math.nan))]


def aggregate(results: Histories, fits: dict[str, list[Any]]) -> list[dict[str, Any]]:
    rows = []
    for cond in REG_CONDITIONS:
        finals_train, finals_val, bests, gaps = [], [], [], []
        for metrics in results[cond]:
            train, vals = _column(metrics, "train_loss"), _column(metrics, "val_loss")
            last_train = float(np.mean(train[-5:]))
            finals_train.append(last_train)
            finals_val.append(vals[-1])
            bests.append(min(vals))
            gaps.append(vals[-1] - last_train)
        kept = [r.val_loss for r, _ in fits[cond]]  # what the run leaves (best under early stop)
        rows.append({"regulariser": cond, "final_train_loss": float(np.mean(finals_train)),
                     "final_val_loss": float(np.mean(finals_val)),
                     "best_val_loss": float(np.mean(bests)),
                     "kept_model_val_loss": float(np.mean(kept)),
                     "val_minus_train": float(np.mean(gaps)),
                     "epochs_run": float(np.mean([r.epochs for r, _ in fits[cond]])),
                     "small_weights": float(np.mean([sp for _, sp in fits[cond]]))})
    return rows


def conclude(rows: list[dict[str, Any]], hidden: int, chars: int) -> list[str]:
    none = {r["regulariser"]: r for r in rows}["none"]
    best = min(rows, key=lambda r: r["kept_model_val_loss"])
    return [
        f"Unregularised, the {hidden}-unit char-RNN ends with training loss "
        f"{none['final_train_loss']:.3f} and validation loss {none['final_val_loss']:.3f} nats/char "
        f"on a {chars}-character slice (best {none['best_val_loss']:.3f} during training): a gap "
        f"of {none['val_minus_train']:.3f}.",
        "Validation loss of the model each run leaves: " + ", ".join(
            f"{r['regulariser']} {r['kept_model_val_loss']:.3f}" for r in rows)
        + f"; the lowest is {best['regulariser']}.",
        "Train-validation gap at the end: " + ", ".join(
            f"{r['regulariser']} {r['val_minus_train']:.3f}" for r in rows) + ".",
        f"Share of weights under {SMALL:g} in size: " + ", ".join(
            f"{r['regulariser']} {r['small_weights']:.1%}" for r in rows)
        + ". L1 makes the weights sparsest: "
        + ("held." if max(rows, key=lambda r: r["small_weights"])["regulariser"].startswith("L1")
           else "did not hold here."),
    ]


def draw(fig: Any, results: Histories, rows: list[dict[str, Any]]) -> None:
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


def run_regularisation(ns: RegularisationSettings, seeds: list[int], run_dir: Path
                       ) -> LabOutcome:
    chars, epochs = ns.chars, ns.epochs
    assert chars is not None and epochs is not None
    text, _ = read_corpus(ns.corpus)
    if len(text) < chars:
        raise RunError(f"--chars {chars} is more than the corpus holds ({len(text)} characters)")
    slice_path = run_dir / "corpus_slice.txt"
    slice_path.write_text(text[:chars], encoding="utf-8")
    hidden = 64 if ns.quick else 256
    results, fits = measure(ns, seeds, slice_path, epochs, hidden, run_dir)
    rows = aggregate(results, fits)
    return LabOutcome(list(rows[0]), rows, conclude(rows, hidden, chars),
                      lambda fig: draw(fig, results, rows),
                      {k: ".3f" for k in rows[0] if k != "regulariser"}
                      | {"epochs_run": ".1f", "small_weights": ".1%"})


REGULARISATION = LabExperiment(
    "regularisation", "Dropout, L2, L1 and early stopping fight overfitting; L1 makes weights "
    "sparse.", run_regularisation, RegularisationSettings, duration="about 11 minutes")
