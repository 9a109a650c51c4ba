"""The model of ``lab next-word``: a word-level LSTM with a softmax or a regression head, the
task the shared Trainer fits it on (random windows of the training words), and its test
(next-word accuracy, perplexity, a greedy sample). The experiment is
:mod:`pucklab.seqmodels.lab.nextword`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pucklab.seqmodels.classify.data import WordVocab
from pucklab.seqmodels.embeddings.quality import BANDS

WINDOW, BATCH, EMBED, HIDDEN = 20, 64, 64, 128
SAMPLE_WORDS, PROMPT = 12, "the king"


class WordLM(nn.Module):
    """Embedding -> LSTM -> a Linear head of ``out`` numbers per step (logits or a vector)."""

    def __init__(self, vocab: int, out: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, out)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(ids))[0])


class NextWordTask:
    """Windows of ``WINDOW`` + 1 words drawn at random (the task's own seeded generator); the
    loss on every next word: cross-entropy for softmax, squared error onto the next word's
    vector for regression."""

    def __init__(self, train: torch.Tensor, val: torch.Tensor, head: str,
                 targets: torch.Tensor, seed: int) -> None:
        self.train, self.val, self.head, self.targets = train, val, head, targets
        self.units = "cross-entropy" if head == "softmax" else "squared error"
        self.steps_per_epoch = max(1, len(train) // (BATCH * WINDOW))
        self.gen = torch.Generator().manual_seed(seed)

    def loss(self, model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
        out = model(ids[:, :-1])
        nxt = ids[:, 1:]
        if self.head == "softmax":
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), nxt.reshape(-1))
        return F.mse_loss(out, self.targets[nxt])

    def train_loss(self, model: nn.Module, step: int) -> torch.Tensor:
        starts = torch.randint(0, len(self.train) - WINDOW - 1, (BATCH,), generator=self.gen)
        return self.loss(model, self.train[starts[:, None] + torch.arange(WINDOW + 1)])

    def val_loss(self, model: nn.Module) -> float:
        with torch.no_grad():
            return float(self.loss(model, windows(self.val)))

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.gen.set_state(d["generator"])

    def to(self, device: torch.device) -> NextWordTask:
        return self


def windows(ids: torch.Tensor) -> torch.Tensor:
    """``ids`` cut into consecutive windows of ``WINDOW`` + 1 (sharing their edge words)."""
    n = (len(ids) - 1) // WINDOW
    return ids[torch.arange(n)[:, None] * WINDOW + torch.arange(WINDOW + 1)]


def scores(model: nn.Module, head: str, ids: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """(N, V) scores of every vocabulary word as each next word: logits, or cosines; never
    ``<pad>`` or ``<unk>`` (-inf), so every guess is a real word."""
    out = model(ids)
    s = out if head == "softmax" else F.normalize(out, dim=-1) @ unit.T
    s[..., :2] = -math.inf
    return s


def evaluate(model: nn.Module, head: str, test: torch.Tensor, unit: torch.Tensor,
             counts: np.ndarray) -> dict[str, float]:
    """Accuracy (top 1, top 10, and top 1 by the next word's training count) and perplexity,
    over the test positions whose next word is in the vocabulary (not ``<unk>``)."""
    model.eval()
    with torch.no_grad():
        w = windows(test)
        s = scores(model, head, w[:, :-1], unit).reshape(-1, len(unit))
        nxt = w[:, 1:].reshape(-1)
        known = nxt > 1
        s, nxt = s[known], nxt[known]
        top = s.topk(10, dim=1).indices
        hit = (top[:, 0] == nxt).numpy()
        row = {"accuracy": float(hit.mean()),
               "top10_accuracy": float((top == nxt[:, None]).any(1).float().mean()),
               "perplexity": (math.exp(float(F.cross_entropy(s, nxt))) if head == "softmax"
                              else math.nan)}
    seen = counts[nxt.numpy()]
    for band, (lo, hi) in BANDS.items():
        inside = (seen >= lo) & (seen < hi)
        row[f"accuracy_{band}"] = float(hit[inside].mean()) if inside.any() else math.nan
    model.train()
    return row


def sample(model: nn.Module, head: str, vocab: WordVocab, unit: torch.Tensor) -> str:
    """Greedy continuation of ``PROMPT``: the best-scoring word each step."""
    ids = vocab.encode(PROMPT.split())
    model.eval()
    with torch.no_grad():
        for _ in range(SAMPLE_WORDS):
            ids.append(int(scores(model, head, torch.tensor([ids]), unit)[0, -1].argmax()))
    model.train()
    return " ".join(vocab.words[i] for i in ids)
