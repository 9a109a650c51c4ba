"""``lab next-word``: "generating text is a regression task: predict the next word's embedding".

A word-level LSTM language model on a text's words (Tiny Shakespeare by default; the first 90 %
trains, the next 5 % validates, the last 5 % tests; words seen fewer than 5 times in training
are ``<unk>``), trained two ways through the shared Trainer (validated 10 times; early stopping
after 2 validations without a new best keeps the best weights), the same network up to its
head:

- ``softmax``: a Linear layer to one logit per vocabulary word, cross-entropy on the next word;
- ``regression``: a Linear layer to a vector, mean squared error against the next word's fixed
  pretrained vector (our skip-gram's, trained on the training words, scaled to unit length),
  decoded as the vocabulary word whose vector is nearest (cosine).

Measured on the test words whose next word is in the vocabulary, neither model ever guessing
``<unk>``: next-word accuracy (top 1 and top 10, and top 1 by the next word's training count),
perplexity (for softmax; the regression defines no probabilities), and a greedy sample of each
from the same prompt, beside the accuracy of always guessing the most frequent word.

Each head x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task, continues
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError, atomic_write
from pucklab.runs.tables import number
from pucklab.seqmodels.charrnn.data import read_corpus
from pucklab.seqmodels.classify.data import WordVocab
from pucklab.seqmodels.embeddings.corpus import words
from pucklab.seqmodels.embeddings.quality import BANDS
from pucklab.seqmodels.embeddings.train import EmbeddingConfig, train
from pucklab.seqmodels.lab.nextword_model import (
    PROMPT,
    SAMPLE_WORDS,
    WINDOW,
    NextWordTask,
    WordLM,
    evaluate,
    sample,
    windows,
)
from pucklab.seqmodels.train_config import TrainConfig
from pucklab.seqmodels.trainer import Trainer

HEADS = ("softmax", "regression")
MIN_COUNT = 5
VALIDATIONS, PATIENCE = 10, 2
QUICK_WORDS = 30_000


@dataclass
class NextWordSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    corpus: str = setting("shakespeare", "UTF-8 text, or 'shakespeare' (Tiny Shakespeare)")
    steps: int | None = setting(None, "Adam updates per model, at most (early stopping)",
                                sizes=(2000, 100))
    dim: int | None = setting(None, "size of the pretrained word vectors", sizes=(100, 32))
    epochs: int | None = setting(None, "epochs of the vectors' skip-gram", sizes=(5, 1))

    def check(self) -> None:
        super().check()
        assert self.steps is not None and self.dim is not None and self.epochs is not None
        if min(self.steps, self.dim, self.epochs) < 1:
            raise RunError("--steps, --dim and --epochs must be >= 1")


def targets_from(vocab: WordVocab, train_words: list[str], ns: NextWordSettings, seed: int,
                 device: torch.device) -> torch.Tensor:
    """(V, dim) unit-length skip-gram vectors of ``vocab``'s words, trained on the training
    words; ``<unk>`` gets the direction of their mean, ``<pad>`` (never a target) zeros."""
    assert ns.dim is not None
    fit = train(train_words, EmbeddingConfig(dim=ns.dim, epochs=ns.epochs or 1, seed=seed),
                device)
    table = F.normalize(fit.model.all_vectors().detach().cpu(), dim=1)
    found = dict(zip(fit.vocab.words, table, strict=True))
    out = torch.zeros(len(vocab), ns.dim)
    for i, w in enumerate(vocab.words[2:], start=2):
        out[i] = found[w]
    out[1] = F.normalize(table.mean(0), dim=0)
    return out


def fit_head(head: str, data: tuple[torch.Tensor, torch.Tensor], targets: torch.Tensor,
             vocab: int, seed: int, ns: NextWordSettings, run_dir: Path,
             resume: bool = False) -> WordLM:
    torch.manual_seed(seed)
    model = WordLM(vocab, vocab if head == "softmax" else targets.shape[1])
    cfg = TrainConfig(optimizer="adam", lr=2e-3, clip=1.0, max_steps=ns.steps, seed=seed,
                      device=ns.device, progress=False, patience=PATIENCE,
                      eval_every=max(1, (ns.steps or 1) // VALIDATIONS))
    Trainer(model, NextWordTask(*data, head, targets, seed), cfg, run_dir,
            command="lab next-word", resume=resume).fit()
    return model.cpu()


@dataclass
class Data:
    """The corpus as word ids, split 90 / 5 / 5 in order, and what the table compares with."""

    vocab: WordVocab
    tokens: list[str]
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    counts: np.ndarray  # training count of every vocabulary word
    most_frequent_accuracy: float  # always guessing the most frequent real word


def prepare(ns: NextWordSettings) -> Data:
    text, _ = read_corpus(ns.corpus)
    tokens = words(text)[:QUICK_WORDS] if ns.quick else words(text)
    a, b = int(0.9 * len(tokens)), int(0.95 * len(tokens))
    if len(tokens) - b < 10 * WINDOW:
        raise RunError(f"corpus {ns.corpus}: {len(tokens)} words; next-word prediction needs "
                       f"{200 * WINDOW:,} or more")
    vocab = WordVocab.build([tokens[:a]], MIN_COUNT)
    if len(vocab) < 12:
        raise RunError(f"corpus {ns.corpus}: {len(vocab) - 2} words occur {MIN_COUNT} times or "
                       "more; next-word prediction needs 10 or more")
    ids = torch.tensor(vocab.encode(tokens))
    train_ids, test_ids = ids[:a], ids[b:]
    counts = np.bincount(train_ids.numpy(), minlength=len(vocab))
    most = int(np.argmax(counts[2:])) + 2  # the most frequent real word
    nxt = windows(test_ids)[:, 1:].reshape(-1)
    nxt = nxt[nxt > 1]
    return Data(vocab, tokens[:a], train_ids, ids[a:b], test_ids, counts,
                float((nxt == most).float().mean()))


def tasks(ns: NextWordSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{head}-seed{seed}", seed, {"head": head}) for seed in seeds for head in HEADS]


def measure(ns: NextWordSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One head trained and tested (a retried task continues its run from the checkpoint); the
    regression first trains the skip-gram vectors it regresses onto."""
    data, head = prepare(ns), task.params["head"]
    run_dir = folder / "run"
    resumed = continues(run_dir, resume)
    targets = (targets_from(data.vocab, data.tokens, ns, task.seed, resolve_device(ns.device))
               if head == "regression" else torch.zeros(len(data.vocab), 1))
    model = fit_head(head, (data.train, data.val), targets, len(data.vocab), task.seed, ns,
                     run_dir, resumed)
    return {"scores": evaluate(model, head, data.test, targets, data.counts),
            "sample": sample(model, head, data.vocab, targets)}


MARGIN = 0.01  # "as well as": top-1 accuracy no more than this below softmax's


def compare(per_seed: dict[str, list[dict[str, float]]], most: float) -> list[Claim]:
    """Seed by seed (a seed: the same start and batches for both heads)."""
    soft = [r["accuracy"] for r in per_seed["softmax"]]
    reg = [r["accuracy"] for r in per_seed["regression"]]
    return [Claim(f"regression predicts the next word as well as softmax: top-1 accuracy within "
                  f"{MARGIN:g} of softmax's or better (regression - (softmax - {MARGIN:g}))",
                  difference(reg, [s - MARGIN for s in soft])),
            *[Claim(f"{h} beats always guessing the most frequent word (top-1 accuracy, {h} - "
                    "most frequent)", difference([r["accuracy"] for r in per_seed[h]], most))
              for h in HEADS]]


def aggregate(ns: NextWordSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    data = prepare(ns)
    per_seed: dict[str, list[dict[str, float]]] = {h: [] for h in HEADS}
    samples: dict[str, str] = {}
    for task in tasks(ns, ns.seed_list()):
        per_seed[task.params["head"]].append(found[task.key]["scores"])
        samples.setdefault(task.params["head"], found[task.key]["sample"])
    rows: list[dict[str, Any]] = [
        {"model": h, **{k: float(np.mean([r[k] for r in runs])) for k in runs[0]},
         "accuracy": interval([r["accuracy"] for r in runs])}
        for h, runs in per_seed.items()]
    rows.append({"model": "most frequent word", "accuracy": data.most_frequent_accuracy,
                 "perplexity": math.nan})
    text_md = "# Greedy samples (first seed)\n\n" + "\n".join(
        f"- {h}: {s}" for h, s in samples.items()) + "\n"
    atomic_write(run_dir / "samples.md", lambda f: f.write(text_md.encode()))
    columns = ["model", "accuracy", "top10_accuracy", *[f"accuracy_{b}" for b in BANDS],
               "perplexity"]
    formats = {c: ".3f" for c in columns[1:]} | {"perplexity": ".1f"}
    return LabOutcome(columns, rows, conclude(rows, samples, data.vocab),
                      lambda fig: draw(fig, rows), formats,
                      compare(per_seed, data.most_frequent_accuracy))


def conclude(rows: list[dict[str, Any]], samples: dict[str, str], vocab: WordVocab
             ) -> list[str]:
    by = {r["model"]: r for r in rows}
    soft, reg = by["softmax"], by["regression"]
    return [
        f"Next-word accuracy on the test words ({len(vocab):,} words in the vocabulary): softmax "
        f"{number(soft['accuracy']):.3f} (top 10: {soft['top10_accuracy']:.3f}), regression onto "
        f"the next word's vector {number(reg['accuracy']):.3f} (top 10: "
        f"{reg['top10_accuracy']:.3f}); always the most frequent word: "
        f"{by['most frequent word']['accuracy']:.3f}.",
        f"Softmax gives a probability to every word: test perplexity {soft['perplexity']:.1f}. "
        "The regression gives none: it has no perplexity, and its nearest-word decoding is "
        "the only way back to words.",
        "By the next word's training count: " + "; ".join(
            f"{band} softmax {soft[f'accuracy_{band}']:.3f}, regression "
            f"{reg[f'accuracy_{band}']:.3f}" for band in BANDS) + ".",
        "Greedy samples from '" + PROMPT + "': " + "; ".join(
            f"{h}: \"{s}\"" for h, s in samples.items()) + " (all samples in samples.md; "
        f"{SAMPLE_WORDS} words each).",
    ]


def draw(fig: Any, rows: list[dict[str, Any]]) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    heads = [r for r in rows if r["model"] in HEADS]
    for k, r in enumerate(heads):
        ax1.bar(np.arange(2) + 0.4 * k, [number(r["accuracy"]), r["top10_accuracy"]], 0.4,
                label=r["model"])
    ax1.axhline(rows[-1]["accuracy"], color="grey", ls=":", lw=1, label="most frequent word")
    ax1.set(xticks=np.arange(2) + 0.2, xticklabels=["top 1", "top 10"],
            ylabel="next-word accuracy (test)", title="softmax vs regression")
    ax1.legend(fontsize=7)
    for k, r in enumerate(heads):
        ax2.bar(np.arange(len(BANDS)) + 0.4 * k, [r[f"accuracy_{b}"] for b in BANDS], 0.4,
                label=r["model"])
    ax2.set(xticks=np.arange(len(BANDS)) + 0.2, xticklabels=list(BANDS),
            ylabel="top-1 accuracy", title="by the next word's training count")
    ax2.legend(fontsize=7)


NEXT_WORD = LabExperiment(
    "next-word", "Generating text is a regression task: predict the next word's embedding.",
    None, NextWordSettings, duration="about 10 minutes with --workers 2", tasks=tasks,
    measure=measure, aggregate=aggregate)
