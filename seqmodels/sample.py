"""Sampling text from a char-RNN: prime text, temperature, top-k, argmax.

The prime is run through the model to set the hidden state; then each next character is drawn
from softmax(logits / temperature), optionally only among the ``top_k`` most likely. A
temperature near 0 sharpens the distribution to its mode, which is what ``argmax`` takes
directly. Draws use their own ``torch.Generator``, so a seed gives the same text every time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import torch
from torch import nn

from pucklab.runs.store import RunError


class Vocab(Protocol):
    """What sampling needs of a vocabulary (the char-RNN's :class:`~pucklab.seqmodels.charrnn.Vocab`)."""

    @property
    def chars(self) -> tuple[str, ...]: ...

    def __len__(self) -> int: ...
    def encode(self, text: str) -> torch.Tensor: ...
    def decode(self, ids: list[int] | torch.Tensor) -> str: ...


@torch.no_grad()
def generate(model: nn.Module, vocab: Vocab, prime: str, length: int, temperature: float = 1.0,
             top_k: int = 0, argmax: bool = False, seed: int = 0,
             device: torch.device | str = "cpu") -> Iterator[str]:
    """Yield ``length`` characters following ``prime`` (the prime itself is not yielded)."""
    if not prime:
        raise RunError("--prime must hold at least one character")
    if length < 0:
        raise RunError(f"--length must be >= 0, got {length}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise RunError(f"--temperature must be a finite number >= 0, got {temperature}")
    if top_k < 0:
        raise RunError(f"--top-k must be >= 0 (0 = all), got {top_k}")
    ids = vocab.encode(prime).to(device)  # a RunError for characters the model never saw
    generator = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    logits, state = model(ids[None, :], None)
    logits = logits[0, -1]
    for _ in range(length):
        if argmax or temperature == 0:
            nxt = int(logits.argmax())
        else:
            # Shifted so the largest is 0 before dividing: a tiny T then sends the others to
            # -inf (argmax), never inf - inf = nan.
            scaled = (logits.double() - logits.double().max()) / temperature
            if 0 < top_k < scaled.numel():
                kth = torch.topk(scaled, top_k).values[-1]
                scaled = scaled.masked_fill(scaled < kth, float("-inf"))
            probs = torch.softmax(scaled, dim=-1)
            nxt = int(torch.multinomial(probs, 1, generator=generator))
        yield vocab.chars[nxt]
        logits, state = model(torch.tensor([[nxt]], device=device), state)
        logits = logits[0, -1]
