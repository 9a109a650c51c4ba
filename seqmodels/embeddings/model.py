"""The embedding tables and word2vec's two objectives with negative sampling.

Every word has an *input* vector (what it means: the embedding one keeps) and an *output*
vector (how it shows up around others). With negative sampling, each true (word, context) pair
should score high, ``log sigmoid(u_context . v_word)``, and ``negatives`` words drawn from the
noise distribution should score low, ``log sigmoid(-u_noise . v_word)``:

- skip-gram: the centre word's input vector predicts each context word in turn;
- CBOW: the mean of the context words' input vectors predicts the centre word, one example per
  position instead of one per (centre, context) pair: fewer, cheaper updates.

With ``ngrams`` (fastText), a word's input vector is the mean of its own vector and those of its
character n-grams ("<wh", "whe", ..., 3 to 6 letters, the word framed by < and >), hashed into
``buckets`` rows; a word never seen in training still gets a vector from its n-grams.
"""

from __future__ import annotations

import typing
import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

BUCKETS = 2**18
MIN_N, MAX_N = 3, 6


def char_ngrams(word: str, min_n: int = MIN_N, max_n: int = MAX_N) -> list[str]:
    """fastText's character n-grams of ``word``, framed as ``<word>``."""
    framed = f"<{word}>"
    return [framed[i:i + n] for n in range(min_n, max_n + 1)
            for i in range(len(framed) - n + 1) if framed[i:i + n] != framed]


def ngram_ids(word: str, buckets: int = BUCKETS) -> list[int]:
    """Hash rows of ``word``'s n-grams (CRC-32: the same on every machine and run)."""
    return [zlib.crc32(g.encode()) % buckets for g in char_ngrams(word)]


class WordVectors(nn.Module):
    """Input and output vectors of a vocabulary (``torch.nn.Embedding``, sparse gradients),
    plus fastText's n-gram vectors when ``ngrams`` is set. Initialised as word2vec: input
    vectors uniform in +-0.5 / dim, output vectors zero."""

    def __init__(self, vocab: Sequence[str], dim: int, ngrams: bool = False,
                 buckets: int = BUCKETS) -> None:
        super().__init__()
        self.buckets, self.ngrams = buckets, ngrams
        self.inp = nn.Embedding(len(vocab), dim, sparse=True)
        self.out = nn.Embedding(len(vocab), dim, sparse=True)
        nn.init.uniform_(self.inp.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.out.weight)
        if ngrams:
            self.grams = nn.Embedding(buckets + 1, dim, sparse=True, padding_idx=buckets)
            with torch.no_grad():
                nn.init.uniform_(self.grams.weight, -0.5 / dim, 0.5 / dim)
                self.grams.weight[buckets].zero_()
            rows = [ngram_ids(w, buckets) for w in vocab]
            table = np.full((len(vocab), max(map(len, rows), default=1)), buckets, np.int64)
            for k, r in enumerate(rows):
                table[k, :len(r)] = r
            self.register_buffer("gram_table", torch.from_numpy(table))

    def word_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """Input vectors of vocabulary ``ids`` (any shape) -> (..., dim)."""
        v = self.inp(ids)
        if not self.ngrams:
            return v
        table = typing.cast(torch.Tensor, self.gram_table)  # a buffer: torch types it loosely
        rows = table[ids]  # (..., L), padded with the zero row
        n = (rows != self.buckets).sum(-1, keepdim=True)
        return (v + self.grams(rows).sum(-2)) / (1 + n)

    def unseen_vector(self, word: str) -> torch.Tensor | None:
        """A vector for a word outside the vocabulary: the mean of its n-gram vectors (None
        without n-grams: word2vec has nothing to give)."""
        rows = ngram_ids(word, self.buckets)
        if not self.ngrams or not rows:
            return None
        with torch.no_grad():
            return self.grams(torch.tensor(rows, device=self.inp.weight.device)).mean(0)

    def all_vectors(self) -> torch.Tensor:
        """Every vocabulary word's input vector, (V, dim), without gradients."""
        with torch.no_grad():
            return self.word_vectors(torch.arange(self.inp.num_embeddings,
                                                  device=self.inp.weight.device))


def negative_sampling_loss(v: torch.Tensor, targets: torch.Tensor, noise: torch.Tensor,
                           out: nn.Embedding) -> torch.Tensor:
    """Mean over the batch of -log s(u_t . v) - sum_k log s(-u_k . v); v (B, D), targets (B,),
    noise (B, K)."""
    pos = (v * out(targets)).sum(-1)
    neg = torch.bmm(out(noise), v.unsqueeze(-1)).squeeze(-1)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


def skipgram_loss(model: WordVectors, centres: torch.Tensor, contexts: torch.Tensor,
                  noise: torch.Tensor) -> torch.Tensor:
    """The centre word predicts one context word."""
    return negative_sampling_loss(model.word_vectors(centres), contexts, noise, model.out)


def cbow_loss(model: WordVectors, contexts: torch.Tensor, centres: torch.Tensor,
              noise: torch.Tensor) -> torch.Tensor:
    """The mean of the context words (``contexts`` (B, 2w), -1 = none) predicts the centre."""
    valid = (contexts >= 0).unsqueeze(-1).float()
    summed = (model.word_vectors(contexts.clamp(min=0)) * valid).sum(1)
    return negative_sampling_loss(summed / valid.sum(1).clamp(min=1), centres, noise, model.out)
