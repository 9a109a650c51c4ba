"""Stacked recurrent layers (fused or explicit) and the recurrent-state helpers.

``make_recurrent(cell, ...)`` returns either ``torch.nn.RNN/LSTM/GRU`` (``impl="fused"``, one
optimised kernel per sequence, cuDNN on a GPU) or :class:`ExplicitRecurrent`, a loop over time
of our own cells (``impl="explicit"``). Both take and return the same tensors (batch first) and
have the same state-dict keys (``weight_ih_l0``, ...), so weights move freely between them:
train fused, inspect explicit.

The state of an LSTM is a pair (h, c) of (layers, batch, hidden) tensors; of an RNN or GRU a
single h of that shape. ``None`` means zeros.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from pucklab.seqmodels.cells import CELLS

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None
KINDS = tuple(CELLS)
IMPLS = ("fused", "explicit")
_FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class ExplicitRecurrent(nn.Module):
    """``layers`` of our cells run step by step over a (batch, time, features) input.

    Same call signature, outputs and state-dict keys as the fused ``torch.nn`` module with
    ``batch_first=True``: dropout (training only) on the outputs of every layer but the last.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.cells = nn.ModuleList(
            CELLS[cell](input_size if k == 0 else hidden_size, hidden_size)
            for k in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        # Keys as torch.nn.LSTM names them: cells.1.weight_ih <-> weight_ih_l1.
        self.register_state_dict_post_hook(_to_fused_keys)
        self.register_load_state_dict_pre_hook(_from_fused_keys)

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        lstm = self.cell == "lstm"
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
            state = (zeros, zeros) if lstm else zeros
        finals_h: list[torch.Tensor] = []
        finals_c: list[torch.Tensor] = []
        for k, cell in enumerate(self.cells):
            s = (state[0][k], state[1][k]) if lstm else state[k]
            outputs = []
            for t in range(x.shape[1]):
                s = cell(x[:, t], s)
                outputs.append(s[0] if lstm else s)
            x = torch.stack(outputs, dim=1)
            if k < self.num_layers - 1:
                x = self.dropout(x)
            finals_h.append(s[0] if isinstance(s, tuple) else s)
            if lstm:
                finals_c.append(s[1])
        h = torch.stack(finals_h)
        return x, ((h, torch.stack(finals_c)) if lstm else h)


_EXPLICIT_KEY = re.compile(r"cells\.(\d+)\.(weight_ih|weight_hh|bias_ih|bias_hh)$")
_FUSED_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)$")


def _to_fused_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str,
                   local_metadata: Any) -> None:
    for key in [k for k in state_dict if k.startswith(prefix)]:
        m = _EXPLICIT_KEY.match(key[len(prefix):])
        if m:
            state_dict[f"{prefix}{m[2]}_l{m[1]}"] = state_dict.pop(key)


def _from_fused_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any
                     ) -> None:
    for key in [k for k in state_dict if k.startswith(prefix)]:
        m = _FUSED_KEY.match(key[len(prefix):])
        if m:
            state_dict[f"{prefix}cells.{m[2]}.{m[1]}"] = state_dict.pop(key)


def make_recurrent(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                   dropout: float = 0.0, impl: str = "fused") -> nn.Module:
    """A batch-first stack of ``num_layers`` recurrent layers of kind ``cell``."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(KINDS)}, got {cell!r}")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if impl == "explicit":
        return ExplicitRecurrent(cell, input_size, hidden_size, num_layers, dropout)
    # torch warns about dropout with one layer (it would do nothing); so do we, by passing 0.
    return _FUSED[cell](input_size, hidden_size, num_layers, batch_first=True,
                        dropout=dropout if num_layers > 1 else 0.0)


def detach_state(state: State) -> State:
    """Cut the graph behind a carried state (truncated BPTT), keeping its values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)  # type: ignore[return-value]
    return state.detach()
