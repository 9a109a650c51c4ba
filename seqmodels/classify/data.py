"""Words for sequence classification: examples from a play's text, a vocabulary, padding.

A play's text in Tiny Shakespeare's layout: a speaker's name alone on a line ending in ``:``
("GLOUCESTER:"), the speech on the lines after it, a blank line between speeches. Words are
:func:`pucklab.seqmodels.embeddings.corpus.words` (lower case, inner apostrophes kept).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from pucklab.seqmodels.embeddings.corpus import words

PAD, UNK = "<pad>", "<unk>"  # ids 0 and 1 of every vocabulary
SPEAKER_TAG = re.compile(r"^[A-Z][A-Za-z' ]*:$")


def speeches(text: str) -> list[tuple[str, list[str]]]:
    """Every (speaker, words of the speech) in ``text``; speeches without words are dropped."""
    out: list[tuple[str, list[str]]] = []
    speaker: str | None = None
    body: list[str] = []
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if SPEAKER_TAG.match(line) or not line:
            if speaker is not None and body:
                out.append((speaker, body))
            speaker, body = (line[:-1], []) if line else (None, [])
        elif speaker is not None:
            body += words(line)
    return out


def top_speakers(found: list[tuple[str, list[str]]], n: int) -> list[str]:
    """The ``n`` speakers with the most speeches in ``found``, most first."""
    return [s for s, _ in Counter(s for s, _ in found).most_common(n)]


def verse_lines(text: str) -> list[list[str]]:
    """The words of every line of speech (speaker tags and blank lines left out)."""
    return [w for line in text.splitlines()
            if line.strip() and not SPEAKER_TAG.match(line.strip()) and (w := words(line))]


@dataclass
class WordVocab:
    """``<pad>``, ``<unk>``, then the training words seen at least ``min_count`` times, most
    frequent first; a rarer or unseen word becomes ``<unk>``."""

    words: list[str]

    @classmethod
    def build(cls, texts: list[list[str]], min_count: int) -> WordVocab:
        counts = Counter(w for text in texts for w in text)
        return cls([PAD, UNK] + [w for w, c in counts.most_common() if c >= min_count])

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: list[str]) -> list[int]:
        return [self.index.get(w, 1) for w in text]


@dataclass
class Examples:
    """Word-id sequences (none empty) and their integer classes."""

    ids: list[list[int]]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.ids])

    def subset(self, idx: np.ndarray) -> Examples:
        return Examples([self.ids[i] for i in idx], self.labels[idx])


def pad(seqs: list[list[int]], device: torch.device | str = "cpu"
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, longest) ids padded with ``<pad>`` (0) on the right, and the (B,) true lengths."""
    lengths = torch.tensor([len(s) for s in seqs])
    ids = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
    return ids.to(device), lengths
