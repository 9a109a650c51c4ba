"""Count vectors: the simplest word vectors, a word's neighbours counted in a window.

- :func:`cooccurrence`: how often each vocabulary word has each other one within ``window``
  words (both directions, words outside the vocabulary keep their place but are not counted),
  a sparse V x V matrix: easy and fast, but V numbers per word.
- :func:`ppmi`: positive pointwise mutual information, ``max(0, log p(w, c) / (p(w) p(c)))``,
  with the context distribution smoothed to the power 0.75 (Levy, Goldberg and Dagan 2015, the
  same smoothing as word2vec's noise): raw counts are dominated by frequent words, PMI says how
  much more often than chance two words meet.
- :func:`svd_vectors`: the PPMI matrix truncated to ``dim`` singular directions, words as
  ``U sqrt(S)`` and contexts as ``V sqrt(S)``, so a word vector dotted with a context vector
  approximates their PPMI: compact vectors from counts, as word2vec's are from training.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def cooccurrence(ids: np.ndarray, vocab_size: int, window: int) -> sparse.csr_matrix:
    """Symmetric window counts of the id sequence ``ids`` (-1: a word outside the vocabulary)."""
    rows, cols = [], []
    for offset in range(1, window + 1):
        a, b = ids[:-offset], ids[offset:]
        both = (a >= 0) & (b >= 0)
        rows += [a[both], b[both]]
        cols += [b[both], a[both]]
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(r), dtype=np.float64), (r, c)),
                             shape=(vocab_size, vocab_size))


def ppmi(counts: sparse.csr_matrix, smoothing: float = 0.75) -> sparse.csr_matrix:
    """Positive PMI of a co-occurrence matrix, contexts' probabilities smoothed by ``smoothing``."""
    coo = counts.tocoo()
    total = coo.data.sum()
    words = np.asarray(counts.sum(1)).ravel() / total
    contexts = np.asarray(counts.sum(0)).ravel() ** smoothing
    contexts /= contexts.sum()
    pmi = np.log(coo.data / total / (words[coo.row] * contexts[coo.col]))
    keep = pmi > 0
    return sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)


def svd_vectors(matrix: sparse.csr_matrix, dim: int, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """(word vectors, context vectors), (V, dim) each, from a truncated SVD of ``matrix``."""
    from sklearn.utils.extmath import randomized_svd

    u, s, vt = randomized_svd(matrix, dim, random_state=seed)
    root = np.sqrt(s)
    return (u * root).astype(np.float32), (vt.T * root).astype(np.float32)


def nbytes(matrix: sparse.csr_matrix | np.ndarray) -> int:
    """Memory a matrix takes: a sparse one's values and indices, a dense one's numbers."""
    if isinstance(matrix, sparse.csr_matrix):
        return int(matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes)
    return int(matrix.nbytes)
