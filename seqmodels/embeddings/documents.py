"""Distances between documents made of words that have vectors.

:func:`word_movers_distance` is Kusner et al.'s Word Mover's Distance (2015): each document is
its normalised bag of words (a word's weight is its count over the document's length), and the
distance is the least total cost of moving one bag's weight onto the other's, a unit of weight
from word i to word j costing the Euclidean distance between their vectors. That is an
optimal-transport problem (an earth mover's distance), solved exactly by POT's network simplex
(``ot.emd2``). It follows gensim 4's ``KeyedVectors.wmdistance``: words without a vector are
dropped first, a document left empty is infinitely far, and with ``normalize`` the vectors are
scaled to unit length before the costs are taken.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pucklab.runs.store import atomic_write


@dataclass(frozen=True)
class Bag:
    """A document as Word Mover's Distance sees it: its distinct words with a vector, their
    weights (counts over the number of such words) and their vectors (float64, one per row)."""

    words: tuple[str, ...]
    weights: np.ndarray
    vectors: np.ndarray


def bag(doc: Sequence[str], vectors: Mapping[str, np.ndarray], *, normalize: bool = True
        ) -> Bag | None:
    """``doc``'s :class:`Bag`, its vectors scaled to unit length if ``normalize``; None when
    no word of it has a vector."""
    counts = Counter(w for w in doc if w in vectors)
    if not counts:
        return None
    words = tuple(sorted(counts))
    table = np.array([vectors[w] for w in words], dtype=np.float64)
    if normalize:
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        table = table / np.where(norms > 0, norms, 1.0)
    weights = np.array([counts[w] for w in words], dtype=np.float64)
    return Bag(words, weights / weights.sum(), table)


def bag_distance(first: Bag | None, second: Bag | None) -> float:
    """Word Mover's Distance between two bags (``inf`` if either is None)."""
    import ot
    from scipy.spatial.distance import cdist

    if first is None or second is None:
        return math.inf
    cost = cdist(first.vectors, second.vectors)
    if not cost.any():
        return 0.0
    return float(ot.emd2(first.weights, second.weights, cost, check_marginals=False))


def word_movers_distance(doc1: Sequence[str], doc2: Sequence[str],
                         vectors: Mapping[str, np.ndarray], *, normalize: bool = True) -> float:
    """Word Mover's Distance between two token lists, ``vectors`` mapping a word to a 1-D array.

    Returns ``inf`` when either document has no word with a vector, 0 when the two documents
    put all their weight on words at no distance (gensim returns ``inf`` when every cost is 0
    but its vocabulary has two words; this returns the true distance, 0). Comparing one
    document with many, build each :func:`bag` once and call :func:`bag_distance`.
    """
    return bag_distance(bag(doc1, vectors, normalize=normalize),
                        bag(doc2, vectors, normalize=normalize))


def mean_vector(doc: Sequence[str], vectors: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The mean of the document's word vectors (words without one dropped); None if none."""
    found = [np.asarray(vectors[w], dtype=np.float64) for w in doc if w in vectors]
    return np.mean(found, axis=0) if found else None


def save_word2vec_format(path: str, vectors: Mapping[str, np.ndarray]) -> None:
    """Write ``vectors`` in word2vec's text format: a "count dimension" line, then one line per
    word, the word and its numbers separated by spaces (what gensim's
    ``KeyedVectors.load_word2vec_format(path)`` and the original word2vec tools read)."""
    dims = {np.asarray(v).shape for v in vectors.values()}
    if len(dims) > 1 or any(len(d) != 1 for d in dims):
        raise ValueError(f"every vector must be 1-D and of one length, got shapes {sorted(dims)}")
    if any(not w or any(c.isspace() for c in w) for w in vectors):
        raise ValueError("a word in word2vec's text format can be neither empty nor hold spaces")
    dim = dims.pop()[0] if dims else 0
    lines = [f"{len(vectors)} {dim}"] + [
        w + " " + " ".join(format(float(x), ".9g") for x in np.asarray(v)) for w, v in
        vectors.items()]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def load_word2vec_format(path: str) -> dict[str, np.ndarray]:
    """Read word2vec's text format (as :func:`save_word2vec_format` writes it) into a dict."""
    with open(path, encoding="utf-8") as f:
        count, dim = (int(x) for x in f.readline().split())
        out = {}
        for line in f:
            word, *numbers = line.rstrip("\n").split(" ")
            out[word] = np.array(numbers, dtype=np.float32)
    if len(out) != count or any(len(v) != dim for v in out.values()):
        raise ValueError(f"{path}: the header says {count} vectors of {dim}, the lines differ")
    return out
