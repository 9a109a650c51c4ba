"""The char-RNN: characters -> embedding -> recurrent stack -> next-character logits."""

from __future__ import annotations

import torch
from torch import nn

from pucklab.seqmodels.layers import State, make_recurrent


class CharRNN(nn.Module):
    """Characters -> embedding -> recurrent stack -> linear head -> next-character logits.

    ``model_args`` (the constructor's keyword arguments) are stored in checkpoints so that a
    checkpoint alone rebuilds the model (nanoGPT style); ``impl`` may differ at load time.
    """

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 256, layers: int = 2,
                 dropout: float = 0.0, cell: str = "lstm", impl: str = "fused") -> None:
        super().__init__()
        self.model_args = {"vocab_size": vocab_size, "embed": embed, "hidden": hidden,
                           "layers": layers, "dropout": dropout, "cell": cell, "impl": impl}
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = make_recurrent(cell, embed, hidden, layers, dropout, impl)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()  # p=0 still copies
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """``idx`` (batch, time) of character ids -> logits (batch, time, vocab), new state."""
        out, state = self.rnn(self.embed(idx), state)
        return self.head(self.drop(out)), state
