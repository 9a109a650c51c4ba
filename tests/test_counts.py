"""Count vectors: window counts, PPMI and the SVD, checked by hand."""

from __future__ import annotations

import math

import numpy as np

from pucklab.seqmodels.embeddings.corpus import Vocab
from pucklab.seqmodels.embeddings.counts import cooccurrence, nbytes, ppmi, svd_vectors
from pucklab.seqmodels.embeddings.quality import table_score


def test_window_counts_are_symmetric_and_skip_words_outside_the_vocabulary():
    ids = np.array([0, 1, -1, 0, 2])
    counts = cooccurrence(ids, 3, window=1).toarray()
    np.testing.assert_array_equal(counts, counts.T)
    assert counts[0, 1] == 1 and counts[0, 2] == 1 and counts[1, 2] == 0
    wide = cooccurrence(ids, 3, window=2).toarray()  # -1 keeps its place: 1 and 0 are 2 apart
    assert wide[1, 0] == 2 and wide[1, 1] == 0 and wide.sum() == 2 * 3  # 3 pairs, both ways


def test_ppmi_by_hand():
    counts = cooccurrence(np.array([0, 1, 0, 1, 2]), 3, window=1)
    dense = counts.toarray()
    total = dense.sum()
    pw = dense.sum(1) / total
    pc = dense.sum(0) ** 0.75 / (dense.sum(0) ** 0.75).sum()
    expected = np.where(dense > 0, np.log(np.where(dense > 0, dense, 1) / total
                                          / np.outer(pw, pc)), 0)
    np.testing.assert_allclose(ppmi(counts).toarray(), np.maximum(expected, 0))
    assert (ppmi(counts).data > 0).all()


def test_svd_vectors_dot_products_rebuild_a_low_rank_matrix():
    from scipy import sparse

    rng = np.random.default_rng(0)
    low = rng.normal(size=(30, 3)) @ rng.normal(size=(3, 30))
    words, contexts = svd_vectors(sparse.csr_matrix(low), 3)
    assert words.shape == contexts.shape == (30, 3)
    np.testing.assert_allclose(words @ contexts.T, low, atol=1e-4)
    assert nbytes(words) == 30 * 3 * 4 and nbytes(sparse.csr_matrix(low)) > 0


def test_table_score_is_one_when_true_neighbours_always_score_higher():
    vocab = Vocab(["a", "b", "c"], np.array([30, 300, 3]))
    pairs = [("a", "b"), ("b", "a"), ("c", "a")]
    truth = np.array([1, 0, 0])  # each word's one true neighbour
    perfect = table_score(lambda w, c: (c == truth[w]).astype(float), vocab, pairs * 50)
    blind = table_score(lambda w, c: np.zeros(len(w)), vocab, pairs * 50)
    for band in ("rare", "medium", "frequent"):  # a random word ties only if it is the true one
        assert 0.5 < perfect[band] <= 1 and blind[band] == 0.5, band  # ties count half
    assert math.isnan(perfect["unseen"])


def test_a_model_that_knows_only_word_frequency_scores_chance():
    """Decoys are the held-out neighbours shuffled, so they are as frequent as true neighbours:
    preferring frequent (or rare) words is worth nothing (noise-distribution decoys, rarer than
    real neighbours, scored such a model far from 0.5)."""
    rng = np.random.default_rng(0)
    counts = np.array([2000, 800, 300, 120, 50, 20, 8])
    vocab = Vocab([f"w{i}" for i in range(len(counts))], counts)
    text = rng.integers(0, len(counts), size=30_000)  # every band gets thousands of pairs
    pairs = [(vocab.words[a], vocab.words[b]) for a, b in zip(text[:-1], text[1:], strict=True)]
    for prefers in (1.0, -1.0):  # frequent first, rare first
        scores = table_score(lambda w, c, p=prefers: p * counts[c].astype(float), vocab, pairs)
        for band in ("rare", "medium", "frequent"):
            assert abs(scores[band] - 0.5) < 0.03, (prefers, band, scores[band])
