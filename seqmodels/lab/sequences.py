"""``lab sequence-classification``: an acceptor (embedding -> recurrent network -> one class)
against bags of words, on two tasks from a play's text (Tiny Shakespeare by default):

- ``order``: is this line as written, or the same line with its words shuffled? Each line is
  shown one way only, chosen by a coin, so the two classes have the very same bags of words:
  only order can tell them apart;
- ``speaker``: which of the ``--speakers`` most frequent speakers says this speech (its first
  40 words)?

Each task's examples are split 70 / 15 / 15 (stratified, by seed) into training, validation and
test; the vocabulary is the training words seen at least ``--min-count`` times, the rest
``<unk>``. Models: word counts + logistic regression (scikit-learn), the mean of trained word
embeddings (:class:`~pucklab.seqmodels.classify.model.BagOfEmbeddings`), and the acceptor with
an Elman RNN, an LSTM and a GRU (:class:`~pucklab.seqmodels.classify.model.SequenceClassifier`,
its last real state read out), each trained through the shared Trainer in its own folder.
Measured: test accuracy, overall and by length (words), against the majority class.

Each classification task x seed is one task of the worker engine
(:mod:`pucklab.runs.lab_tasks`). Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab``
runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings
from pucklab.runs.lab_tasks import Task, start_afresh
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError
from pucklab.seqmodels.basics.conv import parameters
from pucklab.seqmodels.charrnn.data import read_corpus
from pucklab.seqmodels.classify.data import (
    Examples,
    WordVocab,
    speeches,
    top_speakers,
    verse_lines,
)
from pucklab.seqmodels.classify.model import BagOfEmbeddings, SequenceClassifier
from pucklab.seqmodels.classify.train import fit, predict

TASKS = ("order", "speaker")
CELLS = ("rnn", "lstm", "gru")
BOW = ("counts + logistic regression", "mean of embeddings")
MIN_WORDS, SPEECH_WORDS = 4, 40
#: Length bands (words, inclusive) per task: short, medium, long.
BANDS = {"order": ((4, 6), (7, 9), (10, 10_000)), "speaker": ((1, 10), (11, 25), (26, 10_000))}


@dataclass
class SequenceSettings(TorchLabSettings):
    seeds: int | None = setting(None, "how many seeds to average over", low=1, sizes=(5, 1))
    steps: int | None = setting(None, "Adam updates per network", sizes=(1500, 150))
    lines: int | None = setting(None, "lines for the order task", sizes=(20_000, 2_000))
    hidden: int | None = setting(None, "hidden units of the recurrent cells", sizes=(128, 48))
    speakers: int = setting(5, "the speaker task's classes: the most frequent speakers", low=2)
    min_count: int = setting(2, "training words seen fewer times become <unk>", low=1)
    corpus: str = setting("shakespeare", "UTF-8 text in Tiny Shakespeare's layout (speaker "
                          "lines ending in ':'), or 'shakespeare'")

    def check(self) -> None:
        super().check()
        assert self.steps is not None and self.lines is not None and self.hidden is not None
        if self.steps < 1 or self.lines < 100 or self.hidden < 1:
            raise RunError("--steps and --hidden must be >= 1 and --lines >= 100")


def order_task(text: str, seed: int, most: int) -> tuple[list[list[str]], np.ndarray]:
    """Up to ``most`` lines of ``MIN_WORDS`` words or more, each kept (1) or shuffled (0)."""
    rng = np.random.default_rng(seed)
    lines = [line for line in verse_lines(text) if len(line) >= MIN_WORDS and len(set(line)) > 1]
    texts, labels = [], rng.integers(0, 2, min(most, len(lines)))
    for i, label in zip(rng.permutation(len(lines))[:most], labels, strict=False):
        line = list(lines[i])
        if not label:
            shuffled = list(line)
            while shuffled == line:
                rng.shuffle(shuffled)
            line = shuffled
        texts.append(line)
    return texts, labels


def speaker_task(text: str, speakers: int) -> tuple[list[list[str]], np.ndarray, list[str]]:
    """The first words of every speech by the ``speakers`` most frequent speakers."""
    found = speeches(text)
    top = top_speakers(found, speakers)
    chosen = [(top.index(s), body[:SPEECH_WORDS]) for s, body in found if s in top]
    return [b for _, b in chosen], np.array([c for c, _ in chosen]), top


def split(texts: list[list[str]], labels: np.ndarray, seed: int, min_count: int
          ) -> tuple[WordVocab, Examples, Examples, Examples]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(texts))
    train, rest = train_test_split(idx, test_size=0.3, random_state=seed, stratify=labels)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=labels[rest])
    vocab = WordVocab.build([texts[i] for i in train], min_count)
    encoded = Examples([vocab.encode(t) for t in texts], labels)
    return vocab, encoded.subset(train), encoded.subset(val), encoded.subset(test)


def counts_logistic(train: Examples, test: Examples, vocab: int) -> np.ndarray:
    """Bag-of-words counts (a sparse matrix) + logistic regression: the test predictions."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    def counts(ex: Examples) -> csr_matrix:
        rows = np.repeat(np.arange(len(ex)), ex.lengths())
        cols = np.concatenate([np.asarray(s) for s in ex.ids])
        return csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(ex), vocab))

    model = LogisticRegression(max_iter=3000).fit(counts(train), train.labels)
    return np.asarray(model.predict(counts(test)))


def measure(task: str, seed: int, text: str, ns: SequenceSettings, run_dir: Path
            ) -> dict[str, dict[str, float]]:
    """Every model on one task and seed's split, each network trained in ``run_dir``."""
    assert ns.steps is not None and ns.lines is not None and ns.hidden is not None
    if task == "order":
        texts, labels = order_task(text, seed, ns.lines)
    else:
        texts, labels, _ = speaker_task(text, ns.speakers)
    if len(texts) < 50 or len(set(labels.tolist())) < 2:
        raise RunError(f"corpus {ns.corpus}: {len(texts)} examples for the {task} task; it "
                       "needs 50 or more, of two classes or more")
    vocab, train, val, test = split(texts, labels, seed, ns.min_count)
    classes, device = int(labels.max()) + 1, resolve_device(ns.device)
    lengths = test.lengths()
    chance = float(np.bincount(test.labels).max() / len(test))
    unk = float(np.mean([w == 1 for s in test.ids for w in s]))
    out: dict[str, dict[str, float]] = {}
    for name in (*BOW, *CELLS):
        torch.manual_seed(seed)
        if name == BOW[0]:
            guess, size = counts_logistic(train, test, len(vocab)), len(vocab) * classes + classes
        else:
            model = (BagOfEmbeddings(len(vocab), classes) if name == BOW[1]
                     else SequenceClassifier(len(vocab), classes, cell=name, hidden=ns.hidden))
            fit(model, train, val, ns.steps, seed, run_dir / name.replace(" ", "-"),
                device=ns.device)
            guess, size = predict(model, test, device), parameters(model)
        right = guess == test.labels
        row = {"parameters": float(size), "accuracy": float(right.mean()), "chance": chance,
               "test_examples": float(len(test)), "unk_share": unk}
        for band, (low, high) in zip(("short", "medium", "long"), BANDS[task], strict=True):
            inside = (lengths >= low) & (lengths <= high)
            row[f"accuracy_{band}"] = float(right[inside].mean()) if inside.any() else math.nan
        out[name] = row
    return out


def tasks(ns: SequenceSettings, seeds: list[int]) -> list[Task]:
    """One task per classification task and seed: its models share that seed's split."""
    return [Task(f"{task}-seed{seed}", seed, {"task": task}) for seed in seeds for task in TASKS]


def measure_task(ns: SequenceSettings, task: Task, folder: Path, resume: bool
                 ) -> dict[str, Any]:
    """A retried task trains its networks again (minutes at most)."""
    start_afresh(folder, resume)
    text, _ = read_corpus(ns.corpus)
    return measure(task.params["task"], task.seed, text, ns, folder)


ORDER_TOLERANCE = 0.05  # a bag of words within this of chance (0.5) cannot tell order


def compare(per_seed: dict[str, list[dict[str, dict[str, float]]]]) -> list[Claim]:
    """Seed by seed (a seed: the same split for every model)."""
    order, speaker = per_seed["order"], per_seed["speaker"]

    def best(run: dict[str, dict[str, float]], names: tuple[str, ...], key: str = "accuracy"
             ) -> float:
        return max(run[m][key] for m in names)

    return [
        Claim(f"a bag of words cannot tell a line from its shuffle: counts + logistic regression "
              f"within {ORDER_TOLERANCE:g} of chance (|accuracy - 0.5| - {ORDER_TOLERANCE:g})",
              difference([abs(r[BOW[0]]["accuracy"] - 0.5) for r in order], ORDER_TOLERANCE),
              higher=False),
        Claim("every recurrent cell reads order better than both bags of words (worst cell - "
              "best bag)", difference([min(r[c]["accuracy"] for c in CELLS) for r in order],
                                      [best(r, BOW) for r in order])),
        Claim(f"on the longest lines ({BANDS['order'][2][0]}+ words) both gated cells beat the "
              "plain RNN (worse of lstm and gru - rnn)",
              difference([min(r["lstm"]["accuracy_long"], r["gru"]["accuracy_long"])
                          for r in order], [r["rnn"]["accuracy_long"] for r in order])),
        Claim("the best acceptor beats the best bag of words on who speaks (best cell - best bag)",
              difference([best(r, CELLS) for r in speaker], [best(r, BOW) for r in speaker])),
    ]


def aggregate(ns: SequenceSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    per_seed: dict[str, list[dict[str, dict[str, float]]]] = {t: [] for t in TASKS}
    for job in tasks(ns, ns.seed_list()):
        per_seed[job.params["task"]].append(found[job.key])
    rows = []
    for task, runs in per_seed.items():
        for name in (*BOW, *CELLS):
            row: dict[str, Any] = {"task": task, "model": name}
            row.update({k: float(np.nanmean([r[name][k] for r in runs])) for k in runs[0][name]})
            row["accuracy"] = interval([r[name]["accuracy"] for r in runs])
            bands = BANDS[task]
            row["lengths"] = " / ".join(f"{lo}-{hi}" if hi < 10_000 else f"{lo}+"
                                        for lo, hi in bands)
            rows.append(row)
    columns = ["task", "model", "parameters", "accuracy", "accuracy_short", "accuracy_medium",
               "accuracy_long", "lengths", "chance", "test_examples", "unk_share"]
    formats = {"parameters": ",.0f", "test_examples": ".0f", "unk_share": ".3f"} | {
        c: ".3f" for c in columns if c.startswith("accuracy") or c == "chance"}
    return LabOutcome(columns, rows, conclude(per_seed, rows, ns),
                      lambda fig: draw(fig, rows), formats, compare(per_seed))


def conclude(per_seed: dict[str, list[dict[str, dict[str, float]]]], rows: list[dict[str, Any]],
             ns: SequenceSettings) -> list[str]:
    by = {(r["task"], r["model"]): r for r in rows}

    def acc(task: str, names: tuple[str, ...]) -> str:
        return ", ".join(f"{m} {by[task, m]['accuracy'].mean:.3f}" for m in names)

    tests = by["order", BOW[0]]["test_examples"]
    long_ = {m: by["order", m]["accuracy_long"] for m in CELLS}
    return [
        f"Order task (real line or its words shuffled, {tests:.0f} test lines, chance 0.5): "
        f"{acc('order', BOW)}; the acceptors: {acc('order', CELLS)}.",
        f"On the longest lines ({BANDS['order'][2][0]}+ words), rnn {long_['rnn']:.3f}, lstm "
        f"{long_['lstm']:.3f}, gru {long_['gru']:.3f} (shortest: " + ", ".join(
            f"{c} {by['order', c]['accuracy_short']:.3f}" for c in CELLS) + ").",
        f"Speaker task ({ns.speakers} most frequent speakers, chance (majority) "
        f"{by['speaker', BOW[0]]['chance']:.3f}): {acc('speaker', (*BOW, *CELLS))}.",
        f"Words seen fewer than {ns.min_count} times in training are <unk>: "
        f"{by['order', BOW[0]]['unk_share']:.1%} of the order task's test words, "
        f"{by['speaker', BOW[0]]['unk_share']:.1%} of the speaker task's.",
    ]


def draw(fig: Any, rows: list[dict[str, Any]]) -> None:
    for k, task in enumerate(TASKS):
        ax = fig.add_subplot(1, 2, k + 1)
        bands = BANDS[task]
        ticks = [f"{lo}-{hi}" if hi < 10_000 else f"{lo}+" for lo, hi in bands]
        for r in (r for r in rows if r["task"] == task):
            ax.plot(ticks, [r[f"accuracy_{b}"] for b in ("short", "medium", "long")],
                    "--" if r["model"] in BOW else "-", marker="o", label=r["model"])
        chance = next(r["chance"] for r in rows if r["task"] == task)
        ax.axhline(chance, color="grey", ls=":", lw=1, label="majority class")
        ax.set(xlabel="words", ylabel="test accuracy (mean over seeds)",
               title="real or shuffled line" if task == "order" else "who speaks")
        ax.legend(fontsize=7)


SEQUENCE_CLASSIFICATION = LabExperiment(
    "sequence-classification", "An acceptor (embedding -> recurrent network -> one class) is "
    "sensitive to word order where a bag of words is not; a plain RNN copes with a few words, "
    "gated cells with more.", None, SequenceSettings, duration="about 4 minutes with "
    "--workers 2", tasks=tasks, measure=measure_task, aggregate=aggregate)
