"""The acceptor and its bag-of-words baseline; both map (padded ids, lengths) to class logits.

:class:`SequenceClassifier`: an ``nn.Embedding`` (the first layer; ``<pad>`` has a fixed zero
vector), a recurrent stack (:func:`~pucklab.seqmodels.layers.make_recurrent`, fused or our
explicit cells), then a Linear layer on the last real step's state (``read="last"``) or on the
mean of the states over the real steps (``read="mean"``). The fused stack reads a
``PackedSequence``, so it never steps over the padding; the explicit one steps over it and
takes each sequence's state at its own last word, which is the same thing for a network that
reads left to right. Either way a padded batch gives every sequence the outputs it would get
alone (a test checks it).

:class:`BagOfEmbeddings`: the mean of the word vectors, then a Linear layer; it sees which
words a sequence has and how often, never their order.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pucklab.seqmodels.layers import make_recurrent

READS = ("last", "mean")


def _mask(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, 1) float: 1 at the real steps, 0 at the padding."""
    steps = torch.arange(ids.shape[1], device=ids.device)
    return (steps[None] < lengths.to(ids.device)[:, None]).float()[..., None]


class SequenceClassifier(nn.Module):
    def __init__(self, vocab_size: int, classes: int, cell: str = "lstm", embed: int = 64,
                 hidden: int = 128, layers: int = 1, read: str = "last",
                 impl: str = "fused") -> None:
        super().__init__()
        if read not in READS:
            raise ValueError(f"read must be one of {', '.join(READS)}, got {read!r}")
        self.read, self.impl = read, impl
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.rnn = make_recurrent(cell, embed, hidden, layers, impl=impl)
        self.head = nn.Linear(hidden, classes)

    def states(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The top layer's (B, T, hidden) states; zeros past each sequence's end when fused."""
        x = self.embed(ids)
        if self.impl == "fused":
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            out, _ = self.rnn(packed)
            return pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])[0]
        out, _ = self.rnn(x)
        return out

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self.states(ids, lengths)
        if self.read == "mean":
            mask = _mask(ids, lengths)
            summary = (out * mask).sum(1) / mask.sum(1)
        else:
            last = (lengths.to(ids.device) - 1).clamp_min(0)
            summary = out[torch.arange(len(ids), device=ids.device), last]
        return self.head(summary)


class BagOfEmbeddings(nn.Module):
    """Mean of the word embeddings over the real steps -> Linear -> class logits."""

    def __init__(self, vocab_size: int, classes: int, embed: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.head = nn.Linear(embed, classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _mask(ids, lengths)
        return self.head((self.embed(ids) * mask).sum(1) / mask.sum(1))
