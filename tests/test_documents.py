"""Word Mover's Distance against gensim's, and word2vec's text format both ways."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gensim.models import KeyedVectors  # a [test] extra: the reference

from pucklab.seqmodels.embeddings import word_movers_distance
from pucklab.seqmodels.embeddings.documents import (
    load_word2vec_format,
    mean_vector,
    save_word2vec_format,
)

WORDS = [f"w{c}" for c in "abcdefghijklmnopqrst"]


def _vectors(seed: int = 0, dim: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {w: rng.normal(size=dim).astype(np.float32) for w in WORDS}


def _keyed(vectors: dict[str, np.ndarray]):
    kv = KeyedVectors(vector_size=len(next(iter(vectors.values()))))
    kv.add_vectors(list(vectors), np.array(list(vectors.values())))
    return kv


@pytest.mark.parametrize("normalize", [True, False])
def test_word_movers_distance_equals_gensims(normalize):
    vectors = _vectors()
    kv = _keyed(vectors)
    rng = np.random.default_rng(1)
    for _ in range(40):  # repeated words, shared words, words without a vector
        pool = WORDS + ["unknown", "missing"]
        doc1 = list(rng.choice(pool, size=rng.integers(1, 12)))
        doc2 = list(rng.choice(pool, size=rng.integers(1, 12)))
        ours = word_movers_distance(doc1, doc2, vectors, normalize=normalize)
        theirs = kv.wmdistance(doc1, doc2, norm=normalize)
        if math.isinf(theirs):
            assert math.isinf(ours)
        else:
            assert ours == pytest.approx(theirs, abs=1e-6), (doc1, doc2)


def test_word_movers_distance_by_hand():
    """Two words each, one unit apart pairwise: all weight moves one unit, half of it twice as
    far when the bags are swapped."""
    vectors = {"a": np.array([0.0, 0.0]), "b": np.array([1.0, 0.0]), "c": np.array([3.0, 0.0])}
    assert word_movers_distance(["a"], ["b"], vectors, normalize=False) == pytest.approx(1.0)
    assert word_movers_distance(["a", "b"], ["b", "c"], vectors, normalize=False) == \
        pytest.approx(0.5 * 1 + 0.5 * 2)  # a->b and b->c is cheaper than a->c, b stays
    assert word_movers_distance(["a", "a"], ["a"], vectors) == 0.0
    assert math.isinf(word_movers_distance(["zzz"], ["a"], vectors))
    d = word_movers_distance(["a", "b", "c"], ["c", "a"], vectors, normalize=False)
    assert d == pytest.approx(word_movers_distance(["c", "a"], ["a", "b", "c"], vectors,
                                                   normalize=False))  # symmetric


def test_the_word2vec_text_format_loads_in_gensim_and_back(tmp_path):
    vectors = _vectors(2)
    path = tmp_path / "vectors.txt"
    save_word2vec_format(str(path), vectors)
    kv = KeyedVectors.load_word2vec_format(str(path))
    assert list(kv.index_to_key) == list(vectors)
    for w, v in vectors.items():
        np.testing.assert_allclose(kv[w], v, rtol=1e-6)
    back = load_word2vec_format(str(path))
    assert list(back) == list(vectors) and all(np.allclose(back[w], vectors[w]) for w in back)
    with pytest.raises(ValueError, match="neither empty nor hold spaces"):
        save_word2vec_format(str(path), {"two words": np.zeros(3)})


def test_mean_vector_drops_words_without_one():
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    np.testing.assert_allclose(mean_vector(["a", "b", "b", "x"], vectors), [1 / 3, 2 / 3])
    assert mean_vector(["x"], vectors) is None
