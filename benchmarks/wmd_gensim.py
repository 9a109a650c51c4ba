"""Our Word Mover's Distance (POT) beside gensim's ``KeyedVectors.wmdistance`` (also POT).

The same vectors and document pairs for both: a vocabulary of made-up words with random
vectors, documents drawn with Zipf's word frequencies (so words repeat and documents share
words, as in text). Prints pairs per second of each, ours also with each document's bag built
once (:func:`pucklab.seqmodels.embeddings.documents.bag`, what a retrieval over many documents
does), and the largest difference between the two distances.

    python benchmarks/wmd_gensim.py                  # 2,000 pairs, 100-d vectors
    python benchmarks/wmd_gensim.py --pairs 500 --dim 300

Needs gensim (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pucklab.runs.provenance import publish
from pucklab.seqmodels.embeddings.documents import bag, bag_distance, word_movers_distance


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=2000)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--vocab", type=int, default=5000)
    p.add_argument("--words", type=int, nargs=2, default=[10, 40], metavar=("MIN", "MAX"),
                   help="words per document")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="also write wmd_gensim.md (with its provenance) into this "
                   "folder, e.g. benchmarks/results")
    ns = p.parse_args()
    lines: list[str] = []
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(ns.seed)
    words = [f"w{k}" for k in range(ns.vocab)]
    table = rng.normal(size=(ns.vocab, ns.dim)).astype(np.float32)
    vectors = dict(zip(words, table, strict=True))
    kv = KeyedVectors(vector_size=ns.dim)
    kv.add_vectors(words, table)
    zipf = 1.0 / np.arange(1, ns.vocab + 1)
    zipf /= zipf.sum()
    docs = [[words[i] for i in rng.choice(ns.vocab, rng.integers(*ns.words, endpoint=True),
                                          p=zipf)] for _ in range(2 * ns.pairs)]
    pairs = list(zip(docs[::2], docs[1::2], strict=True))
    word_movers_distance(*pairs[0], vectors)  # imports POT and scipy before the clocks start
    kv.wmdistance(*pairs[0])
    lines.append(f"{ns.pairs:,} pairs, {ns.dim}-d vectors, {ns.words[0]}-{ns.words[1]} words each\n")
    lines.append("| normalize | ours (pairs/s) | ours, distances of prebuilt bags (pairs/s) | "
                 "gensim (pairs/s) | ours / gensim | largest difference |")
    lines.append("|---|---|---|---|---|---|")
    for normalize in (True, False):
        t0 = time.perf_counter()
        ours = [word_movers_distance(a, b, vectors, normalize=normalize) for a, b in pairs]
        t1 = time.perf_counter()
        bags = [(bag(a, vectors, normalize=normalize), bag(b, vectors, normalize=normalize))
                for a, b in pairs]
        t2 = time.perf_counter()
        prebuilt = [bag_distance(a, b) for a, b in bags]
        t3 = time.perf_counter()
        theirs = [kv.wmdistance(a, b, norm=normalize) for a, b in pairs]
        t4 = time.perf_counter()
        assert ours == prebuilt
        diff = float(np.max(np.abs(np.array(ours) - np.array(theirs))))
        rate = [ns.pairs / (t1 - t0), ns.pairs / (t3 - t2), ns.pairs / (t4 - t3)]
        lines.append(f"| {normalize} | {rate[0]:,.0f} | {rate[1]:,.0f} | {rate[2]:,.0f} | "
                     f"{rate[0] / rate[2]:.1f}x | {diff:.1e} |")
    report = "\n".join(lines)
    print(report)
    if ns.out:
        publish(ns.out / "wmd_gensim.md", report, [ns.seed])


if __name__ == "__main__":
    main()
