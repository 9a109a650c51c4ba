"""How good are word vectors? A held-out score per word-frequency band, and nearest neighbours.

The score needs no labelled data and treats skip-gram and CBOW alike: on text the model never
saw, take every (word, neighbour within ``window``) pair, pair it with the neighbour of another
held-out pair drawn at random (a decoy), and count how often the model scores the true neighbour
above the decoy, ``v_word . u_neighbour > v_word . u_decoy`` (input vector against output
vectors: what both objectives train, CBOW's with a single context word). 0.5 is chance, 1 is
perfect. Split by how often the word occurred in training, it says which words a model
represents well; on words not in the vocabulary it scores fastText's n-gram vectors. Nearest
neighbours use the input vectors (cosine), as usual.

Decoys are the held-out neighbours themselves, shuffled, so they are exactly as frequent as true
neighbours: a model that knows only how common words are scores 0.5. Decoys drawn from the noise
distribution (counts ** 0.75) are rarer than real neighbours (which are not subsampled), and the
score then measured a frequency preference: CBOW on little data, whose output vectors of
frequent words are pushed mostly as negatives (subsampling thins them as targets), scored 0.44
-- "below chance" -- and the same model without subsampling 0.60, while both score 0.50 against
shuffled neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F

from pucklab.seqmodels.embeddings.corpus import Vocab
from pucklab.seqmodels.embeddings.model import WordVectors

#: Training-count bands of the centre word: [low, high).
BANDS = {"rare": (0, 20), "medium": (20, 200), "frequent": (200, math.inf)}


def decoys(n: int, rng: np.random.Generator) -> np.ndarray:
    """For each of ``n`` pairs, the index of another pair whose neighbour serves as its decoy:
    a plain shuffle (a pair that draws itself is a tie, which counts one half)."""
    return rng.permutation(n)


def heldout_pairs(tokens: list[str], window: int) -> list[tuple[str, str]]:
    """(word, neighbour) for every pair of words at most ``window`` apart, both orders."""
    pairs = []
    for i, w in enumerate(tokens):
        for j in range(max(0, i - window), min(len(tokens), i + window + 1)):
            if j != i:
                pairs.append((w, tokens[j]))
    return pairs


def neighbour_score(model: WordVectors, vocab: Vocab, pairs: list[tuple[str, str]],
                    seed: int = 0) -> dict[str, float]:
    """Share of held-out pairs where the neighbour beats its decoy, per band, and for
    ``unseen`` words (outside the vocabulary: n-gram vectors, nan without them). Neighbours must
    be in the vocabulary."""
    rng = np.random.default_rng(seed)
    vectors = model.all_vectors().cpu()
    outputs = model.out.weight.detach().cpu()
    kept = [(w, vocab.index[o]) for w, o in pairs if o in vocab.index]
    others = sorted({w for w, _ in kept if w not in vocab.index})
    extra = [model.unseen_vector(w) for w in others]
    usable = [w for w, v in zip(others, extra, strict=True) if v is not None]
    if usable:  # unseen words' vectors go after the vocabulary's
        table = torch.cat([vectors, torch.stack([v.cpu() for v in extra if v is not None])])
    else:
        table = vectors
    row = {**{w: len(vocab) + k for k, w in enumerate(usable)}, **vocab.index}
    kept = [(w, o) for w, o in kept if w in row]
    words = torch.tensor([row[w] for w, _ in kept], dtype=torch.long)
    near = torch.tensor([o for _, o in kept], dtype=torch.long)
    rand = near[torch.from_numpy(decoys(len(kept), rng))]
    v = table[words]
    true, fake = (v * outputs[near]).sum(1), (v * outputs[rand]).sum(1)
    hit = (true > fake).float() + 0.5 * (true == fake).float()
    counts = np.append(vocab.counts, np.full(len(usable), -1))[words.numpy()]
    scores = {}
    for band, (lo, hi) in {**BANDS, "unseen": (-1, 0)}.items():
        mask = torch.from_numpy((counts >= lo) & (counts < hi))
        scores[band] = float(hit[mask].mean()) if mask.any() else math.nan
    return scores


def table_score(score: Callable[[np.ndarray, np.ndarray], np.ndarray], vocab: Vocab,
                pairs: list[tuple[str, str]], seed: int = 0) -> dict[str, float]:
    """:func:`neighbour_score` for any word-by-context score: ``score(words, contexts)`` gives
    the score of each (word id, context id) pair, e.g. a count matrix's entries or the dot
    products of count-based word and context vectors. Only words in the vocabulary; the
    random words come from the same noise distribution."""
    rng = np.random.default_rng(seed)
    kept = np.array([(vocab.index[w], vocab.index[o]) for w, o in pairs
                     if w in vocab.index and o in vocab.index], dtype=np.int64).reshape(-1, 2)
    rand = kept[decoys(len(kept), rng), 1]
    true, fake = score(kept[:, 0], kept[:, 1]), score(kept[:, 0], rand)
    hit = (true > fake) + 0.5 * (true == fake)
    counts = vocab.counts[kept[:, 0]]
    scores = {}
    for band, (lo, hi) in BANDS.items():
        mask = (counts >= lo) & (counts < hi)
        scores[band] = float(hit[mask].mean()) if mask.any() else math.nan
    scores["unseen"] = math.nan
    return scores


def nearest(model: WordVectors, vocab: Vocab, word: str, k: int = 5) -> list[str]:
    """The ``k`` vocabulary words most similar (cosine) to ``word`` (an unseen word through its
    n-grams; [] when it has no vector)."""
    vectors = F.normalize(model.all_vectors().cpu(), dim=1)
    i = vocab.index.get(word)
    if i is not None:
        v = vectors[i]
    else:
        u = model.unseen_vector(word)
        if u is None:
            return []
        v = F.normalize(u.cpu(), dim=0)
    sims = vectors @ v
    if i is not None:
        sims[i] = -2.0
    return [vocab.words[int(j)] for j in torch.topk(sims, k).indices]
