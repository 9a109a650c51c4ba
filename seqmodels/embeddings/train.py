"""Training word vectors: epochs of subsampled text, shuffled batches, SparseAdam.

Only the rows a batch touches get gradients (sparse embeddings), so a step costs the batch, not
the vocabulary. ``EmbeddingConfig``'s defaults are gensim's Word2Vec defaults (100 dimensions,
window 5, 5 negatives, 5 epochs, min_count 5, sample 1e-3), so the two compare like with like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from pucklab.seqmodels.embeddings.corpus import Vocab, context_matrix, skipgram_pairs, subsample
from pucklab.seqmodels.embeddings.model import WordVectors, cbow_loss, skipgram_loss

MODES = ("skipgram", "cbow")


@dataclass(frozen=True)
class EmbeddingConfig:
    mode: str = "skipgram"  # or "cbow"
    dim: int = 100
    window: int = 5
    negatives: int = 5
    epochs: int = 5
    min_count: int = 5
    sample: float = 1e-3
    ngrams: bool = False  # fastText's character n-grams
    lr: float = 0.02  # SparseAdam
    batch: int = 1024  # examples per step
    seed: int = 0


@dataclass
class Trained:
    vocab: Vocab
    model: WordVectors
    seconds: float  # training time, data preparation included
    words: int  # in-vocabulary words of the training text times epochs
    final_loss: float


def train(tokens: list[str], cfg: EmbeddingConfig, device: torch.device | str = "cpu",
          vocab: Vocab | None = None) -> Trained:
    """Train ``cfg.mode`` word vectors on ``tokens`` (vocabulary built from them unless given)."""
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {cfg.mode!r}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    vocab = vocab or Vocab.build(tokens, cfg.min_count)
    ids = vocab.encode(tokens)
    model = WordVectors(vocab.words, cfg.dim, cfg.ngrams).to(device)
    opt = torch.optim.SparseAdam(list(model.parameters()), lr=cfg.lr)
    noise = torch.as_tensor(vocab.noise(), dtype=torch.float32)
    gen = torch.Generator().manual_seed(cfg.seed)
    keep = vocab.keep_probability(cfg.sample)
    losses: list[float] = []
    t0 = time.perf_counter()
    for _ in range(cfg.epochs):
        text = subsample(ids, keep, rng)
        ctx = context_matrix(text, cfg.window, rng)
        if cfg.mode == "skipgram":
            first, second = skipgram_pairs(text, ctx)  # centre, context
        else:
            has = (ctx >= 0).any(1)
            first, second = ctx[has], text[has]  # contexts, centre
        order = rng.permutation(len(second))
        for start in range(0, len(order), cfg.batch):
            idx = order[start:start + cfg.batch]
            a = torch.from_numpy(first[idx]).to(device)
            b = torch.from_numpy(second[idx]).to(device)
            neg = torch.multinomial(noise, len(idx) * cfg.negatives, replacement=True,
                                    generator=gen).view(len(idx), -1).to(device)
            loss = (skipgram_loss(model, a, b, neg) if cfg.mode == "skipgram"
                    else cbow_loss(model, a, b, neg))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    seconds = time.perf_counter() - t0
    tail = losses[-max(1, len(losses) // 20):]
    return Trained(vocab, model, seconds, int((ids >= 0).sum()) * cfg.epochs,
                   float(np.mean(tail)) if tail else float("nan"))
