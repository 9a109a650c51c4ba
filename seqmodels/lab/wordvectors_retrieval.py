"""Speeches found by Word Mover's Distance, for ``lab word-vectors``: the speeches of a play's
most frequent speakers, and how often the nearest speech to a held-out one, by each method (WMD
on two vector tables, the cosine of mean vectors, TF-IDF cosine), is the same speaker's."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from pucklab.runs.store import RunError
from pucklab.seqmodels.classify.data import speeches, top_speakers
from pucklab.seqmodels.embeddings.documents import bag, bag_distance, mean_vector

MIN_WORDS = 3
SVD = "PPMI + SVD"
RETRIEVAL = ("WMD, skip-gram", f"WMD, {SVD}", "cosine of mean vectors, skip-gram",
             "TF-IDF cosine")
Vectors = Mapping[str, np.ndarray]


def retrieval(docs: list[tuple[str, list[str]]], vectors: Mapping[str, Vectors], queries: int,
              seed: int) -> dict[str, dict[str, float]]:
    """Precision at 1 of finding a speech of the same speaker, per method, and its chance."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(seed)
    asked = rng.choice(len(docs), min(queries, len(docs) // 2), replace=False)
    pool = np.setdiff1d(np.arange(len(docs)), asked)
    speaker = np.array([s for s, _ in docs])
    tfidf = TfidfVectorizer(analyzer=lambda d: d).fit([docs[i][1] for i in pool])
    matrix = tfidf.transform([d for _, d in docs])
    means = {name: np.array([_unit(mean_vector(d, v)) for _, d in docs])
             for name, v in vectors.items()}
    bags = {name: [bag(d, v) for _, d in docs] for name, v in vectors.items()}
    methods: dict[str, Callable[[int], np.ndarray]] = {
        RETRIEVAL[0]: lambda q: -np.array([bag_distance(
            bags["skip-gram"][q], bags["skip-gram"][i]) for i in pool]),
        RETRIEVAL[1]: lambda q: -np.array([bag_distance(bags[SVD][q], bags[SVD][i])
                                           for i in pool]),
        RETRIEVAL[2]: lambda q: means["skip-gram"][pool] @ means["skip-gram"][q],
        RETRIEVAL[3]: lambda q: (matrix[pool] @ matrix[q].T).toarray().ravel()}
    chance = float(np.mean([(speaker[pool] == speaker[q]).mean() for q in asked]))
    out = {}
    for name, similarity in methods.items():
        t0 = time.perf_counter()
        hits = [speaker[pool[int(np.argmax(similarity(q)))]] == speaker[q] for q in asked]
        out[name] = {"precision_at_1": float(np.mean(hits)), "chance": chance,
                     "seconds": time.perf_counter() - t0}
    return out


def _unit(v: np.ndarray | None) -> np.ndarray:
    if v is None:
        raise RunError("a speech without a word that has a vector")
    return v / max(float(np.linalg.norm(v)), 1e-12)


def documents(text: str, speakers: int, vectors: list[Vectors]) -> list[tuple[str, list[str]]]:
    """The speeches of the most frequent speakers, stop words (scikit-learn's English list)
    removed, kept when at least ``MIN_WORDS`` of their words have a vector in every table."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    found = speeches(text)
    top = set(top_speakers(found, speakers))
    docs = [(s, [w for w in body if w not in ENGLISH_STOP_WORDS]) for s, body in found
            if s in top]
    return [(s, d) for s, d in docs
            if all(sum(w in v for w in d) >= MIN_WORDS for v in vectors)]
