"""The char-RNN: characters -> embedding -> recurrent stack -> next-character logits."""

from __future__ import annotations

import torch
from torch import nn

from pucklab.seqmodels.layers import State, make_recurrent

#: ``--precision`` choices: ``bf16`` trains under bfloat16 autocast, ``fp32`` in float32,
#: ``auto`` picks what trained this model faster where it was measured (:func:`auto_precision`).
PRECISIONS = ("auto", "bf16", "fp32")


def auto_precision(device: torch.device) -> str:
    """The training arithmetic ``--precision auto`` means on ``device``.

    - A CPU with AVX512-BF16 or AMX (which oneDNN uses): ``bf16``, which trained 2.4x as fast
      as float32 on two cores of a Xeon with AMX and 1.7x on an EPYC (``char_rnn.md``).
      Elsewhere on a CPU bfloat16 is emulated, slower than float32 and no more accurate:
      ``fp32``.
    - CUDA: ``fp32``. cuDNN already runs float32 recurrent kernels on the tensor cores (TF32,
      its default), and at this model's size autocast's casts cost more than bfloat16 saves:
      on an H200 the default model trained slower under bf16 autocast
      (``benchmarks/results/device.md``). ``--precision bf16`` still asks for it.
    """
    if device.type == "cpu":
        native = (getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
                  or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
        return "bf16" if native else "fp32"
    return "fp32"


class CharRNN(nn.Module):
    """Characters -> embedding -> recurrent stack -> linear head -> next-character logits.

    ``model_args`` (the constructor's keyword arguments) are stored in checkpoints so that a
    checkpoint alone rebuilds the model (nanoGPT style); ``impl`` may differ at load time.
    ``precision`` is how it trains, not what it is, so it is not among them: with ``"bf16"``,
    a forward pass in training mode runs under bfloat16 autocast (PyTorch's mixed precision:
    weights, optimiser state and the returned logits and state stay float32); evaluation and
    sampling always run in float32, so validation losses are exact.
    """

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 256, layers: int = 2,
                 dropout: float = 0.0, cell: str = "lstm", impl: str = "fused",
                 precision: str = "fp32") -> None:
        super().__init__()
        if precision not in ("bf16", "fp32"):
            raise ValueError(f"precision must be bf16 or fp32 (resolve auto first), got "
                             f"{precision!r}")
        self.model_args = {"vocab_size": vocab_size, "embed": embed, "hidden": hidden,
                           "layers": layers, "dropout": dropout, "cell": cell, "impl": impl}
        self.precision = precision
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = make_recurrent(cell, embed, hidden, layers, dropout, impl)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()  # p=0 still copies
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """``idx`` (batch, time) of character ids -> logits (batch, time, vocab), new state."""
        if self.training and self.precision == "bf16":
            with torch.autocast(idx.device.type, dtype=torch.bfloat16):
                logits, state = self._forward(idx, state)
            return logits.float(), _float(state)
        return self._forward(idx, state)

    def _forward(self, idx: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        out, state = self.rnn(self.embed(idx), state)
        return self.head(self.drop(out)), state


def _float(state: State) -> State:
    """The recurrent state in float32 (autocast may hand it back in bfloat16), so that the
    next chunk, a checkpoint or an evaluation sees the same type as without autocast."""
    if state is None:
        return None
    if isinstance(state, tuple):
        h, c = state
        return h.float(), c.float()
    return state.float()
