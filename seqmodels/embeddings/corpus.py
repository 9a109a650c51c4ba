"""From text to training examples: words, a vocabulary, subsampling, (centre, context) pairs.

As in word2vec: lower-cased words; words seen fewer than ``min_count`` times are dropped from
the vocabulary; frequent words are randomly discarded with probability ``1 - sqrt(t / f)``
(f: the word's share of the corpus) before each epoch, so "the" and "and" stop drowning the
rest; each centre word's window is drawn between 1 and ``window`` words on each side.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text`` (letters, with inner apostrophes: "o'er", "king's")."""
    return WORD.findall(text.lower())


@dataclass
class Vocab:
    """Words kept for training, most frequent first, with their counts in the training text."""

    words: list[str]
    counts: np.ndarray  # (V,) int64

    @classmethod
    def build(cls, tokens: list[str], min_count: int) -> Vocab:
        kept = [(w, c) for w, c in Counter(tokens).most_common() if c >= min_count]
        return cls([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: list[str]) -> np.ndarray:
        """Ids of ``tokens``; -1 for words outside the vocabulary."""
        return np.array([self.index.get(t, -1) for t in tokens], dtype=np.int64)

    def noise(self, power: float = 0.75) -> np.ndarray:
        """word2vec's negative-sampling distribution: counts ** 0.75, normalised."""
        p = self.counts.astype(np.float64) ** power
        return p / p.sum()

    def keep_probability(self, sample: float) -> np.ndarray:
        """Chance that each occurrence of a word survives subsampling at threshold ``sample``."""
        if sample <= 0:
            return np.ones(len(self))
        f = self.counts / self.counts.sum()
        return np.minimum(1.0, np.sqrt(sample / f) + sample / f)


def subsample(ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``ids`` without out-of-vocabulary words, frequent words randomly thinned by ``keep``."""
    ids = ids[ids >= 0]
    return ids[rng.random(len(ids)) < keep[ids]]


def context_matrix(ids: np.ndarray, window: int, rng: np.random.Generator | None
                   ) -> np.ndarray:
    """(T, 2 * window) context ids of every position, -1 where there is none: outside the text,
    or beyond that position's window (drawn from 1..window when ``rng`` is given, word2vec's
    "dynamic window", which weights near words more; the full window otherwise)."""
    t = len(ids)
    reach = (rng.integers(1, window + 1, t) if rng is not None
             else np.full(t, window))
    offsets = [o for o in range(-window, window + 1) if o != 0]
    ctx = np.full((t, len(offsets)), -1, dtype=np.int64)
    for k, o in enumerate(offsets):
        src = np.arange(t) + o
        ok = (src >= 0) & (src < t) & (abs(o) <= reach)
        ctx[ok, k] = ids[src[ok]]
    return ctx


def skipgram_pairs(ids: np.ndarray, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) for every valid cell of ``ctx``: skip-gram's examples."""
    rows, cols = np.nonzero(ctx >= 0)
    return ids[rows], ctx[rows, cols]
