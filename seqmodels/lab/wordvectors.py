"""``lab word-vectors``: count vectors against word2vec, and documents compared by Word Mover's
Distance.

On a play's words (Tiny Shakespeare by default; the first 90 % trains, the last 10 % scores
with :func:`~pucklab.seqmodels.embeddings.quality.neighbour_score`, per band of training
frequency, 0.5 = chance), one vocabulary (words seen 5 times or more), per seed:

- count vectors (:mod:`~pucklab.seqmodels.embeddings.counts`): window co-occurrence counts,
  their positive PMI, and the PPMI matrix truncated by SVD to ``--dim`` numbers per word;
- our skip-gram and CBOW (:mod:`~pucklab.seqmodels.embeddings.train`) with ``--dim``;
- memory, seconds and the held-out score of each;
- documents: the speeches (stop words removed) of the ``--speakers`` most frequent speakers;
  for each of ``--queries`` held-out speeches, the nearest of the other speeches by Word Mover's
  Distance (:func:`~pucklab.seqmodels.embeddings.word_movers_distance`, on skip-gram's and on
  the SVD vectors), by the cosine of mean vectors, and by TF-IDF cosine: how often it is the
  same speaker's (precision at 1), against picking at random. (Each speech's bag of word
  vectors is built once, :func:`~pucklab.seqmodels.embeddings.documents.bag`.)

The first seed's skip-gram vectors are saved in word2vec's text format as ``vectors.txt``.

Each seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in ``pucklab.runs.registry``;
``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError
from pucklab.seqmodels.charrnn.data import read_corpus
from pucklab.seqmodels.embeddings.corpus import Vocab, words
from pucklab.seqmodels.embeddings.counts import cooccurrence, nbytes, ppmi, svd_vectors
from pucklab.seqmodels.embeddings.documents import (
    save_word2vec_format,
)
from pucklab.seqmodels.embeddings.quality import BANDS, heldout_pairs, neighbour_score, table_score
from pucklab.seqmodels.embeddings.train import EmbeddingConfig, train
from pucklab.seqmodels.lab.wordvectors_retrieval import MIN_WORDS, RETRIEVAL, SVD, documents, retrieval

HELDOUT, QUICK_WORDS = 0.1, 60_000


@dataclass
class WordVectorsSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    corpus: str = setting("shakespeare", "UTF-8 text in Tiny Shakespeare's layout, or "
                          "'shakespeare'")
    epochs: int | None = setting(None, "word2vec epochs (5: gensim's)", sizes=(5, 1))
    dim: int | None = setting(None, "numbers per word of word2vec and of the SVD",
                              sizes=(100, 32))
    window: int = setting(5, "neighbours counted on each side (word2vec's window too)", low=1)
    speakers: int = setting(5, "the retrieval's speeches: by the most frequent speakers", low=2)
    queries: int | None = setting(None, "held-out speeches to find a neighbour for",
                                  sizes=(150, 20))

    def check(self) -> None:
        super().check()
        assert self.epochs is not None and self.dim is not None and self.queries is not None
        if min(self.epochs, self.dim, self.queries) < 1:
            raise RunError("--epochs, --dim and --queries must be >= 1")


def count_models(train_words: list[str], vocab: Vocab, pairs: list[tuple[str, str]],
                 ns: WordVectorsSettings, seed: int
                 ) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Counts, PPMI and PPMI + SVD: their rows, and the SVD's word vectors by word."""
    assert ns.dim is not None
    t0 = time.perf_counter()
    counts = cooccurrence(vocab.encode(train_words), len(vocab), ns.window)
    t1 = time.perf_counter()
    weighted = ppmi(counts)
    t2 = time.perf_counter()
    word_vecs, context_vecs = svd_vectors(weighted, min(ns.dim, len(vocab) - 1), seed)
    t3 = time.perf_counter()

    def entries(matrix: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        return lambda w, c: np.asarray(matrix[w, c]).ravel()

    rows = {
        "counts": {"dimensions": len(vocab), "memory_mb": nbytes(counts) / 1e6,
                   "seconds": t1 - t0, **table_score(entries(counts), vocab, pairs, seed)},
        "PPMI": {"dimensions": len(vocab), "memory_mb": nbytes(weighted) / 1e6,
                 "seconds": t2 - t0, **table_score(entries(weighted), vocab, pairs, seed)},
        SVD: {"dimensions": word_vecs.shape[1], "memory_mb": nbytes(word_vecs) / 1e6,
              "seconds": t3 - t0, **table_score(
                  lambda w, c: (word_vecs[w] * context_vecs[c]).sum(1), vocab, pairs, seed)}}
    for row in rows.values():
        row["dense_mb"] = len(vocab) * row["dimensions"] * 4 / 1e6
    return rows, dict(zip(vocab.words, word_vecs, strict=True))


def measure(ns: WordVectorsSettings, text: str, seed: int, run_dir: Path
            ) -> dict[tuple[str, str], dict[str, float]]:
    assert ns.epochs is not None and ns.dim is not None and ns.queries is not None
    tokens = words(text)[:QUICK_WORDS] if ns.quick else words(text)
    cut = int(len(tokens) * (1 - HELDOUT))
    train_words, pairs = tokens[:cut], heldout_pairs(tokens[cut:], ns.window)
    cfg = EmbeddingConfig(epochs=ns.epochs, dim=ns.dim, window=ns.window, seed=seed)
    vocab = Vocab.build(train_words, cfg.min_count)
    if len(vocab) < 10:
        raise RunError(f"corpus {ns.corpus}: {len(vocab)} words occur {cfg.min_count} times "
                       "or more; word vectors need 10 or more")
    rows, svd = count_models(train_words, vocab, pairs, ns, seed)
    out = {("vectors", name): row for name, row in rows.items()}
    trained = {}
    for mode, name in (("skipgram", "skip-gram"), ("cbow", "cbow")):
        fit = train(train_words, EmbeddingConfig(**{**cfg.__dict__, "mode": mode}),
                    resolve_device(ns.device), vocab)
        table = fit.model.all_vectors().detach().cpu().numpy()
        trained[name] = dict(zip(vocab.words, table, strict=True))
        out["vectors", name] = {"dimensions": ns.dim, "memory_mb": table.nbytes / 1e6,
                                "dense_mb": table.nbytes / 1e6, "seconds": fit.seconds,
                                **neighbour_score(fit.model, vocab, pairs, seed)}
    if seed == ns.seed:
        save_word2vec_format(str(run_dir / "vectors.txt"), trained["skip-gram"])
    tables = {"skip-gram": trained["skip-gram"], SVD: svd}
    docs = documents(text, ns.speakers, list(tables.values()))
    if len(docs) < 10 or len({s for s, _ in docs}) < 2:
        raise RunError(f"corpus {ns.corpus}: {len(docs)} speeches of {MIN_WORDS}+ words with "
                       "vectors by two speakers or more; the retrieval needs 10 or more")
    for name, row in retrieval(docs, tables, ns.queries, seed).items():
        out["documents", name] = row
    return out


def tasks(ns: WordVectorsSettings, seeds: list[int]) -> list[Task]:
    """One task per seed: the count models, word2vec and the retrieval share its vectors."""
    return [Task(f"seed{seed}", seed, {}) for seed in seeds]


def measure_task(ns: WordVectorsSettings, task: Task, folder: Path, resume: bool
                 ) -> dict[str, Any]:
    """A retried task runs again (a minute); the first seed saves skip-gram's vectors."""
    text, _ = read_corpus(ns.corpus)
    measured = measure(ns, text, task.seed, folder)
    return {f"{part}|{name}": values for (part, name), values in measured.items()}


def compare(per_seed: list[dict[tuple[str, str], dict[str, float]]]) -> list[Claim]:
    """Seed by seed (a seed: the same held-out pairs, decoys and queries for every method)."""
    def score(name: str) -> list[float]:
        return [_mean_score(m["vectors", name]) for m in per_seed]

    def found(name: str) -> list[float]:
        return [m["documents", name]["precision_at_1"] for m in per_seed]

    def log_seconds(pick: Callable[[dict[tuple[str, str], dict[str, float]]], float]
                    ) -> list[float]:
        return [float(np.log10(pick(m))) for m in per_seed]

    return [
        Claim("counting, PPMI and the SVD take less time than training word2vec (log10 of the "
              "seconds, SVD - the faster of skip-gram and CBOW)",
              difference(log_seconds(lambda m: m["vectors", SVD]["seconds"]),
                         log_seconds(lambda m: min(m["vectors", "skip-gram"]["seconds"],
                                                   m["vectors", "cbow"]["seconds"]))),
              higher=False),
        Claim("PPMI beats raw counts on the held-out neighbour score (mean over bands, PPMI - "
              "counts)", difference(score("PPMI"), score("counts"))),
        Claim("skip-gram's vectors beat the SVD's of the same size (neighbour score, skip-gram - "
              "SVD)", difference(score("skip-gram"), score(SVD))),
        Claim("Word Mover's Distance finds the same speaker more often than the cosine of mean "
              "vectors (precision at 1, WMD - mean vectors)",
              difference(found(RETRIEVAL[0]), found(RETRIEVAL[2]))),
        Claim("Word Mover's Distance beats TF-IDF (precision at 1, WMD - TF-IDF)",
              difference(found(RETRIEVAL[0]), found(RETRIEVAL[3]))),
    ]


def aggregate(ns: WordVectorsSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    per_seed = [{(part, name): values for key, values in found[task.key].items()
                 for part, name in [key.split("|", 1)]}
                for task in tasks(ns, ns.seed_list())]
    first = run_dir / "tasks" / tasks(ns, ns.seed_list())[0].key / "vectors.txt"
    shutil.copyfile(first, run_dir / "vectors.txt")
    rows = []
    order = [("vectors", m) for m in ("counts", "PPMI", SVD, "skip-gram", "cbow")] + [
        ("documents", m) for m in RETRIEVAL]
    for part, name in order:
        values = per_seed[0][part, name]
        row: dict[str, Any] = {"part": part, "model": name}
        for key in values:
            if key != "unseen":  # every word here has a vector (no character n-grams)
                row[f"score_{key}" if key in BANDS else key] = float(np.mean(
                    [m[part, name][key] for m in per_seed]))
        if part == "documents":
            row["precision_at_1"] = interval([m[part, name]["precision_at_1"]
                                              for m in per_seed])
        rows.append(row)
    columns = ["part", "model", "dimensions", "memory_mb", "dense_mb", "seconds",
               *[f"score_{b}" for b in BANDS], "precision_at_1", "chance"]
    formats = {"dimensions": ",.0f", "memory_mb": ".2f", "dense_mb": ".1f", "seconds": ".2f",
               "precision_at_1": ".3f", "chance": ".3f"} | {f"score_{b}": ".3f" for b in BANDS}
    return LabOutcome(columns, rows, conclude(per_seed, rows), lambda fig: draw(fig, rows),
                      formats, compare(per_seed))


def _mean_score(row: Mapping[str, float], prefix: str = "") -> float:
    return float(np.nanmean([row[f"{prefix}{b}"] for b in BANDS]))


def conclude(per_seed: list[dict[tuple[str, str], dict[str, float]]],
             rows: list[dict[str, Any]]) -> list[str]:
    by = {r["model"]: r for r in rows}
    counted = by[SVD]["seconds"]
    trained = min(by["skip-gram"]["seconds"], by["cbow"]["seconds"])
    scores = ", ".join(f"{m} {_mean_score(by[m], 'score_'):.3f}"
                       for m in ("counts", "PPMI", SVD, "skip-gram", "cbow"))
    found = ", ".join(f"{m} {by[m]['precision_at_1'].mean:.3f}" for m in RETRIEVAL)

    return [
        f"Counting the window, PPMI and an SVD to {by[SVD]['dimensions']:.0f} numbers took "
        f"{counted:.1f} s; training skip-gram {by['skip-gram']['seconds']:.1f} s and CBOW "
        f"{by['cbow']['seconds']:.1f} s ({trained / counted:.0f}x the count vectors' time).",
        f"A count vector has one number per vocabulary word ({by['counts']['dimensions']:,.0f}):"
        f" as a dense table {by['counts']['dense_mb']:.0f} MB, stored sparse "
        f"{by['counts']['memory_mb']:.1f} MB (PPMI {by['PPMI']['memory_mb']:.1f} MB), against "
        f"{by['skip-gram']['memory_mb']:.1f} MB for word2vec's {by['skip-gram']['dimensions']:.0f}"
        " numbers per word.",
        f"Held-out neighbour score, mean over the frequency bands (0.5 = chance): {scores}.",
        f"Finding a speech by the same speaker (precision at 1; chance "
        f"{by[RETRIEVAL[0]]['chance']:.3f}): {found}. Word Mover's Distance is the slowest: "
        f"{by[RETRIEVAL[0]]['seconds']:.1f} s against "
        f"{by[RETRIEVAL[3]]['seconds']:.2f} s for TF-IDF.",
    ]


def draw(fig: Any, rows: list[dict[str, Any]]) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    vec = [r for r in rows if r["part"] == "vectors"]
    width = 0.8 / len(vec)
    for k, r in enumerate(vec):
        ax1.bar(np.arange(len(BANDS)) + k * width, [r[f"score_{b}"] for b in BANDS], width,
                label=f"{r['model']} ({r['dimensions']:,.0f} numbers)")
    ax1.axhline(0.5, color="grey", ls="--", lw=1)
    ax1.set(xticks=np.arange(len(BANDS)) + 0.4 - width / 2, xticklabels=list(BANDS),
            ylim=(0.4, None), ylabel="held-out neighbour score (0.5 = chance)",
            title="word vectors by word frequency")
    ax1.legend(fontsize=7)
    docs = [r for r in rows if r["part"] == "documents"]
    ax2.barh([r["model"] for r in docs], [r["precision_at_1"].mean for r in docs],
             color="tab:grey")
    ax2.axvline(docs[0]["chance"], color="k", ls=":", lw=1, label="chance")
    ax2.set(xlabel="precision at 1 (same speaker)", title="nearest speech")
    ax2.tick_params(axis="y", labelsize=7)
    ax2.legend(fontsize=7)


WORD_VECTORS = LabExperiment(
    "word-vectors", "Count vectors (neighbours in a window) are easy and fast but huge for a "
    "large vocabulary; word2vec gives compact vectors; documents can be compared by Word "
    "Mover's Distance.", None, WordVectorsSettings, duration="about 4 minutes with --workers 2",
    tasks=tasks, measure=measure_task, aggregate=aggregate)
