"""Our word2vec beside gensim's Word2Vec: same corpus, same settings, same held-out score.

Both train on the first 90 % of the corpus's words (our tokeniser; gensim gets them as one
stream cut into 10,000-word "sentences", its maximum) with gensim's defaults: 100 dimensions,
window 5, 5 negatives, 5 epochs, min_count 5, sample 1e-3. Measured: training words per second
and :func:`~pucklab.seqmodels.embeddings.quality.neighbour_score` on the last 10 %, computed on
gensim's own input and output vectors (``wv.vectors``, ``syn1neg``) exactly as on ours.

    pip install -e ".[bench]"     # gensim: a benchmark-only extra
    PUCKLAB_DATA=../shared/data python benchmarks/word2vec_gensim.py [--corpus FILE] [--epochs 5]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from pucklab.runs.provenance import publish
from pucklab.seqmodels.charrnn.data import read_corpus
from pucklab.seqmodels.embeddings.corpus import Vocab, words
from pucklab.seqmodels.embeddings.model import WordVectors
from pucklab.seqmodels.embeddings.quality import BANDS, heldout_pairs, neighbour_score
from pucklab.seqmodels.embeddings.train import EmbeddingConfig, train

SENTENCE = 10_000  # gensim's longest sentence


def gensim_run(tokens: list[str], cfg: EmbeddingConfig, workers: int
               ) -> tuple[float, Vocab, WordVectors]:
    """Train gensim's Word2Vec; (seconds, its vocabulary, its vectors in our container)."""
    from gensim.models import Word2Vec

    sentences = [tokens[i:i + SENTENCE] for i in range(0, len(tokens), SENTENCE)]
    t0 = time.perf_counter()
    model = Word2Vec(sentences, vector_size=cfg.dim, window=cfg.window,
                     negative=cfg.negatives, epochs=cfg.epochs,
                     min_count=cfg.min_count, sample=cfg.sample,
                     sg=1 if cfg.mode == "skipgram" else 0, workers=workers, seed=cfg.seed + 1)
    seconds = time.perf_counter() - t0
    keys = list(model.wv.index_to_key)
    vocab = Vocab(keys, np.array([model.wv.get_vecattr(w, "count") for w in keys]))
    vectors = WordVectors(keys, cfg.dim)
    with torch.no_grad():
        vectors.inp.weight.copy_(torch.from_numpy(model.wv.vectors))
        vectors.out.weight.copy_(torch.from_numpy(model.syn1neg))
    return seconds, vocab, vectors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="shakespeare")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="also write word2vec_gensim.md (with its provenance) into this "
                   "folder, e.g. benchmarks/results")
    ns = p.parse_args()
    lines: list[str] = []
    tokens = words(read_corpus(ns.corpus)[0])
    cut = int(0.9 * len(tokens))
    train_words, pairs = tokens[:cut], heldout_pairs(tokens[cut:], 5)
    bands = list(BANDS)
    lines.append(f"{platform.machine()}, Python {platform.python_version()}, torch "
                 f"{torch.__version__} ({torch.get_num_threads()} threads); {ns.corpus}: "
                 f"{len(train_words):,} training words, {ns.epochs} epochs\n")
    lines.append("| implementation | mode | vocab | seconds | words/s | "
                 + " | ".join(f"score {b}" for b in bands) + " |")
    lines.append("|---|---|---|---|---|" + "---|" * len(bands))
    for mode in ("skipgram", "cbow"):
        cfg = EmbeddingConfig(mode=mode, epochs=ns.epochs, seed=ns.seed)
        ours = train(train_words, cfg)
        runs = [("pucklab (torch)", ours.seconds, ours.vocab, ours.model)]
        for workers in (1, 2):
            runs.append((f"gensim, {workers} worker{'s' if workers > 1 else ''}",
                         *gensim_run(train_words, cfg, workers)))
        for name, seconds, vocab, model in runs:
            in_vocab = sum(1 for t in train_words if t in vocab.index) * ns.epochs
            score = neighbour_score(model, vocab, pairs, ns.seed)
            lines.append(f"| {name} | {mode} | {len(vocab):,} | {seconds:.1f} | "
                         f"{in_vocab / seconds:,.0f} | "
                         + " | ".join(f"{score[b]:.3f}" for b in bands) + " |")

    report = "\n".join(lines)
    print(report)
    if ns.out:
        publish(ns.out / "word2vec_gensim.md", report, [ns.seed])


if __name__ == "__main__":
    main()
