"""Explicit recurrent cells: the course's equations, one line each, matching ``torch.nn``.

Each class takes the same constructor arguments as its ``torch.nn`` twin and holds parameters
of the same names and shapes (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, gates
stacked in PyTorch's order), initialised the same way (uniform in ±1/sqrt(hidden_size)). So
``ours.load_state_dict(torch_cell.state_dict())`` works, and outputs and gradients then agree
to float rounding. They are slower than the fused ``torch.nn.LSTM`` & co. (one Python call per
time step instead of one cuDNN / oneDNN kernel per sequence), which is why models default to
``impl="fused"`` and keep these for teaching and for the lab's gradient experiments.

Notation: x is the input at step t, h the previous hidden state, W_x* = rows of ``weight_ih``,
W_h* = rows of ``weight_hh``; sigma is the logistic sigmoid and * the element-wise product.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class _CellBase(nn.Module):
    """Parameters and initialisation shared by the three cells (``gates`` blocks of rows)."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"input_size and hidden_size must be positive, got "
                             f"{input_size} and {hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **kw))
            self.bias_hh = nn.Parameter(torch.empty(rows, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as ``torch.nn`` cells do."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _affine(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The input and hidden projections W_x x + b_x and W_h h + b_h (all gates at once)."""
        gi = x @ self.weight_ih.t()
        gh = h @ self.weight_hh.t()
        if self.bias:
            gi = gi + self.bias_ih
            gh = gh + self.bias_hh
        return gi, gh

    def _zeros(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(*x.shape[:-1], self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class RNNCell(_CellBase):
    """Elman RNN: h_t = tanh(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh).

    ``nonlinearity="relu"`` swaps tanh for ReLU, as in ``torch.nn.RNNCell``.
    Input (N, input_size) or (input_size,); state (N, hidden_size) or None (zeros).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._zeros(x) if h is None else h
        gi, gh = self._affine(x, h)
        return torch.tanh(gi + gh) if self.nonlinearity == "tanh" else torch.relu(gi + gh)


class LSTMCell(_CellBase):
    """Long short-term memory (Hochreiter & Schmidhuber), gates in PyTorch's order i, f, g, o::

        i = sigma(W_xi x + W_hi h + b_i)     input gate: how much new content to write
        f = sigma(W_xf x + W_hf h + b_f)     forget gate: how much of the old cell to keep
        g = tanh(W_xg x + W_hg h + b_g)      candidate content
        o = sigma(W_xo x + W_ho h + b_o)     output gate: how much of the cell to show
        c' = f * c + i * g                   the cell: an additive path, so gradients survive
        h' = o * tanh(c')

    State is the pair (h, c); None means zeros. Returns (h', c').
    """

    gates = 4

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = (self._zeros(x), self._zeros(x)) if state is None else state
        gi, gh = self._affine(x, h)
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        return o * torch.tanh(c), c


class GRUCell(_CellBase):
    """Gated recurrent unit (Cho et al.), gates in PyTorch's order r, z, n::

        r = sigma(W_xr x + b_xr + W_hr h + b_hr)          reset gate
        z = sigma(W_xz x + b_xz + W_hz h + b_hz)          update gate
        n = tanh(W_xn x + b_xn + r * (W_hn h + b_hn))     candidate (reset applied inside)
        h' = (1 - z) * n + z * h

    The reset gate multiplies W_hn h + b_hn, not h itself: that is PyTorch's (and cuDNN's)
    variant, so that the weights transfer to the fused ``torch.nn.GRU``.
    """

    gates = 3

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._zeros(x) if h is None else h
        gi, gh = self._affine(x, h)
        xr, xz, xn = gi.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h


CELLS: dict[str, type[_CellBase]] = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
