"""``lab word2vec``: skip-gram against CBOW, and fastText's character n-grams.

Our word vectors (:mod:`pucklab.seqmodels.embeddings`) on a real corpus, Tiny Shakespeare's
words by default (any UTF-8 text with ``--corpus``). The first 90 % of the words trains, the
last 10 % scores (:func:`~pucklab.seqmodels.embeddings.quality.neighbour_score`: how often a
word's vector ranks a true held-out neighbour above a decoy, the neighbour of another held-out
pair, per band of how often the word occurred in training; decoys are as frequent as true
neighbours, so 0.5 is chance even for a model that knows only word frequencies). Models, each
with gensim's default settings:

- skip-gram and CBOW on the whole training text: speed (words per second) and the score by band;
- skip-gram with character n-grams (fastText): vectors for words it never saw;
- skip-gram and CBOW on a small slice (``--little``, 10 %): which one copes with little data.

``neighbours.md`` in the run folder lists the nearest neighbours of a few words and of unseen
words for each model.

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, Interval, difference, interval, sanity
from pucklab.runs.store import RunError, atomic_write
from pucklab.seqmodels.charrnn.data import read_corpus
from pucklab.seqmodels.embeddings.corpus import words
from pucklab.seqmodels.embeddings.quality import BANDS, heldout_pairs, nearest, neighbour_score
from pucklab.seqmodels.embeddings.train import EmbeddingConfig, Trained, train

MODELS = {  # name -> (mode, character n-grams, share of the training text)
    "skip-gram": ("skipgram", False, "all"),
    "cbow": ("cbow", False, "all"),
    "skip-gram + char n-grams": ("skipgram", True, "all"),
    "skip-gram, little data": ("skipgram", False, "little"),
    "cbow, little data": ("cbow", False, "little"),
}
PROBES = ("king", "love", "death", "night", "sword", "france")
HELDOUT = 0.1
QUICK_WORDS = 60_000  # --quick: the first words of the corpus only
BAND_NAMES = (*BANDS, "unseen")


@dataclass
class Word2VecSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    corpus: str = setting("shakespeare", "UTF-8 text, or 'shakespeare' (Tiny Shakespeare)")
    epochs: int | None = setting(None, "epochs (5: gensim's)", sizes=(5, 1))
    dim: int | None = setting(None, "vector size", sizes=(100, 32))
    little: float = setting(0.1, "share of the training text the little-data models get")

    def check(self) -> None:
        super().check()
        assert self.epochs is not None and self.dim is not None
        if not 0 < self.little <= 1 or self.epochs < 1 or self.dim < 1:
            raise RunError("--little must lie in (0, 1], --epochs and --dim >= 1")


def corpus(ns: Word2VecSettings) -> tuple[list[str], list[str], list[str]]:
    """The training words, the little-data slice and the held-out words."""
    text, _ = read_corpus(ns.corpus)
    tokens = words(text)[:QUICK_WORDS] if ns.quick else words(text)
    if len(tokens) < 1000:
        raise RunError(f"corpus {ns.corpus}: {len(tokens)} words; word vectors need 1,000 or more")
    cut = int(len(tokens) * (1 - HELDOUT))
    train_words = tokens[:cut]
    return train_words, train_words[:int(len(train_words) * ns.little)], tokens[cut:]


def tasks(ns: Word2VecSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{name.replace(' ', '').replace(',', '-').replace('+', '-')}-seed{seed}", seed,
                 {"model": name}) for name in MODELS for seed in seeds]


def measure(ns: Word2VecSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One model with one seed: its row; the first seed's full-data models also give the
    nearest neighbours of the probe words and of the most frequent unseen words."""
    train_words, little, held = corpus(ns)
    assert ns.epochs is not None and ns.dim is not None
    cfg = EmbeddingConfig(epochs=ns.epochs, dim=ns.dim)
    name = task.params["model"]
    mode, ngrams, share = MODELS[name]
    text = train_words if share == "all" else little
    trained = train(text, replace(cfg, mode=mode, ngrams=ngrams, seed=task.seed),
                    resolve_device(ns.device))
    if len(trained.vocab) < 2:
        raise RunError(f"{name}: fewer than 2 words occur {cfg.min_count} times in its "
                       f"{len(text):,} training words; give a longer --corpus")
    scores = neighbour_score(trained.model, trained.vocab, heldout_pairs(held, cfg.window),
                             task.seed)
    result: dict[str, Any] = {"training_words": len(text), "vocab": len(trained.vocab),
                              "seconds": trained.seconds,
                              "words_per_s": trained.words / trained.seconds,
                              "final_loss": trained.final_loss,
                              **{k: None if math.isnan(v) else v for k, v in scores.items()}}
    if task.seed == ns.seed and share == "all":
        unseen = unseen_words(held, trained)
        probes = [w for w in PROBES if w in trained.vocab.index]
        result["unseen_words"] = unseen
        result["nearest"] = {w: nearest(trained.model, trained.vocab, w) for w in probes + unseen}
    return result


def unseen_words(held: list[str], trained: Trained, k: int = 4) -> list[str]:
    """The ``k`` most frequent held-out words outside ``trained``'s vocabulary."""
    counts = Counter(w for w in held if w not in trained.vocab.index and len(w) > 3)
    return [w for w, _ in counts.most_common(k)]


def write_neighbours(path: Path, first: dict[str, dict[str, Any]], unseen: list[str]) -> None:
    lines = ["# Nearest neighbours (cosine of input vectors; first seed)", ""]
    for word in first["skip-gram"]["nearest"]:
        tag = " (unseen in training)" if word in unseen else ""
        lines.append(f"**{word}**{tag}")
        for name, result in first.items():
            found = result["nearest"][word]
            lines.append(f"- {name}: {', '.join(found) if found else '(no vector)'}")
        lines.append("")
    data = "\n".join(lines).encode()
    atomic_write(path, lambda f: f.write(data))


def aggregate(ns: Word2VecSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODELS}
    for task in tasks(ns, ns.seed_list()):
        results[task.params["model"]].append(
            {k: math.nan if v is None else v for k, v in found[task.key].items()})
    first = {m: runs[0] for m, runs in results.items() if MODELS[m][2] == "all"}
    unseen = first["skip-gram"]["unseen_words"]
    write_neighbours(run_dir / "neighbours.md", first, unseen)
    rows = []
    for name, runs in results.items():
        row: dict[str, Any] = {"model": name}
        for key in ("training_words", "vocab", "seconds", "final_loss"):
            row[key] = float(np.mean([r[key] for r in runs]))
        row["words_per_s"] = interval([r["words_per_s"] for r in runs])
        for band in BAND_NAMES:
            values = [r[band] for r in runs]
            row[f"score_{band}"] = (math.nan if any(map(math.isnan, values))
                                    else interval(values))
        rows.append(row)
    claims = compare(results)
    flags = sanity(intervals=[(f"{r['model']} {b}", r[f"score_{b}"]) for r in rows
                              for b in BAND_NAMES if isinstance(r[f"score_{b}"], Interval)])
    for name, runs in results.items():  # preferring decoys to real neighbours points to a bug
        for b in BANDS:
            values = [r[b] for r in runs]
            if not any(map(math.isnan, values)):
                flags += sanity(score=(f"{name}, {b} words", values), chance=0.5)
    columns = ["model", "training_words", "vocab", "seconds", "words_per_s", "final_loss",
               *(f"score_{b}" for b in BAND_NAMES)]
    return LabOutcome(columns, rows, conclude(first, unseen),
                      lambda fig: draw(fig, rows),
                      {"training_words": ",.0f", "vocab": ",.0f", "seconds": ".1f",
                       "words_per_s": ",.0f", "final_loss": ".3f"}
                      | {f"score_{b}": ".3f" for b in BAND_NAMES}, claims, flags)


def compare(results: dict[str, list[dict[str, Any]]]) -> list[Claim]:
    """The claim's comparisons, paired by seed (each model's seed s saw the same text)."""
    def per_seed(model: str, key: str) -> list[float]:
        return [r[key] for r in results[model]]

    def band_mean(model: str) -> list[float]:
        return [float(np.nanmean([r[b] for b in BANDS])) for r in results[model]]

    sg, cb = "skip-gram", "cbow"
    return [
        Claim("CBOW trains faster than skip-gram (words/s)",
              difference(per_seed(cb, "words_per_s"), per_seed(sg, "words_per_s"))),
        Claim(f"skip-gram scores higher than CBOW on rare words (under {BANDS['rare'][1]} "
              "training occurrences)", difference(per_seed(sg, "rare"), per_seed(cb, "rare"))),
        Claim(f"CBOW scores higher than skip-gram on frequent words (over "
              f"{BANDS['frequent'][0]})", difference(per_seed(cb, "frequent"),
                                                     per_seed(sg, "frequent"))),
        Claim("on little data skip-gram scores higher than CBOW (mean over the bands)",
              difference(band_mean(f"{sg}, little data"), band_mean(f"{cb}, little data"))),
        Claim("character n-grams give words never seen in training vectors that beat chance "
              "(score - 0.5)", difference(per_seed("skip-gram + char n-grams", "unseen"), 0.5)),
    ]


def conclude(first: dict[str, dict[str, Any]], unseen: list[str]) -> list[str]:
    word = unseen[0] if unseen else None
    shown = first["skip-gram + char n-grams"]["nearest"][word][:4] if word else []
    return (([f"Nearest to the unseen word '{word}' by its n-grams: {', '.join(shown)}; "
                "word2vec has no vector for it."] if shown else [])
            + ["Scores are the share of held-out (word, neighbour) pairs where the neighbour "
               "beats a decoy drawn from the other held-out neighbours: 0.5 is chance."])


def _bar(value: Any) -> tuple[float, tuple[float, float]]:
    """A bar's height and its error bar (below, above) from a mean over seeds."""
    if not isinstance(value, Interval):
        return 0.0, (0.0, 0.0)
    spread = (0.0, 0.0) if math.isnan(value.low) else (value.mean - value.low,
                                                      value.high - value.mean)
    return value.mean, spread


def draw(fig: Any, rows: list[dict[str, Any]]) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    width = 0.8 / len(rows)
    for k, r in enumerate(rows):
        bars = [_bar(r[f"score_{b}"]) for b in BAND_NAMES]
        ax1.bar(np.arange(len(BAND_NAMES)) + k * width, [h for h, _ in bars], width,
                yerr=np.array([e for _, e in bars]).T, capsize=2, label=r["model"])
    ax1.axhline(0.5, color="grey", ls="--", lw=1)
    ax1.set(xticks=np.arange(len(BAND_NAMES)) + 0.4 - width / 2, xticklabels=BAND_NAMES,
            ylim=(0.4, None), ylabel="held-out neighbour score (0.5 = chance)",
            title="quality by word frequency (95% intervals over seeds)")
    ax1.legend(fontsize=7)
    speed = [_bar(r["words_per_s"]) for r in rows]
    ax2.barh([r["model"] for r in rows], [h for h, _ in speed],
             xerr=np.array([e for _, e in speed]).T, capsize=2, color="tab:grey")
    ax2.set(xlabel="training words per second", title="speed")
    ax2.tick_params(axis="y", labelsize=7)


WORD2VEC = LabExperiment(
    "word2vec", "Skip-gram represents rare words better and copes with little data; CBOW is "
    "faster and better for frequent words; character n-grams give unseen words vectors.",
    None, Word2VecSettings, duration="about 10 minutes (5 with --workers 2)", tasks=tasks,
    measure=measure, aggregate=aggregate)
