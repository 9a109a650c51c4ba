"""The forecaster: a window of values -> recurrent encoder -> the next H values, plus a linear
autoregression on the same window."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pucklab.seqmodels.layers import make_recurrent

STRATEGIES = ("direct", "recursive")


class Forecaster(nn.Module):
    """A window of (scaled, differenced) values -> recurrent encoder -> the next H values.

    ``strategy="direct"``: the last hidden state feeds a linear head that emits all H steps at
    once (no error feedback; one model per horizon). ``"recursive"``: the head predicts one
    step from every hidden state, is trained on all next-step targets of the window, and
    forecasts by feeding its own prediction back H times.

    ``linear=K`` adds a linear autoregression on the last K inputs to the head's output, as
    LSTNet's "highway" does (Lai et al., 2018). A recurrent network's output is insensitive to
    the scale of its input: fed a level below anything it was trained on, it forecasts a level
    inside that range (on the heartrate series, MASE 8.7 against seasonal naive's 3.0). The
    linear part moves with its input, so the forecast keeps the input's scale, and the network
    adds what is nonlinear. ``linear=0`` (the default here, and what run folders written
    before it hold) is the network alone.
    """

    def __init__(self, horizon: int, hidden: int = 64, layers: int = 1, dropout: float = 0.0,
                 cell: str = "lstm", impl: str = "fused", strategy: str = "direct",
                 linear: int = 0) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        self.model_args = {"horizon": horizon, "hidden": hidden, "layers": layers,
                           "dropout": dropout, "cell": cell, "impl": impl, "strategy": strategy,
                           "linear": linear}
        self.horizon, self.strategy = horizon, strategy
        self.rnn = make_recurrent(cell, 1, hidden, layers, dropout, impl)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        outputs = horizon if strategy == "direct" else 1
        self.head = nn.Linear(hidden, outputs)
        self.linear = nn.Linear(linear, outputs) if linear > 0 else None

    def _autoregression(self, x: torch.Tensor, every: bool = False) -> torch.Tensor:
        """The linear part on the last K inputs of ``x`` (batch, T >= K) -> (batch, outputs);
        ``every``: at each position, on the K inputs up to it -> (batch, T, outputs), 0 at the
        first K - 1 positions, which have fewer (the network alone predicts there, so the
        linear part learns from full windows only, as it forecasts)."""
        assert self.linear is not None
        k = self.linear.in_features
        if not every:
            return self.linear(x[:, -k:])
        full = self.linear(x.unfold(1, k, 1))  # (batch, T - K + 1, outputs)
        return F.pad(full, (0, 0, k - 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (batch, lookback) -> direct: (batch, H); recursive: (batch, lookback) one-step
        predictions (position i predicts value i + 1)."""
        out, _ = self.rnn(x.unsqueeze(-1))
        if self.strategy == "direct":
            y = self.head(self.drop(out[:, -1]))
            return y if self.linear is None else y + self._autoregression(x)
        y = self.head(self.drop(out))
        if self.linear is not None:
            y = y + self._autoregression(x, every=True)
        return y.squeeze(-1)

    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, lookback) -> (batch, H) forecasts, whatever the strategy."""
        if self.strategy == "direct":
            return self(x)
        out, state = self.rnn(x.unsqueeze(-1))
        seen = x
        steps: list[torch.Tensor] = []
        for i in range(self.horizon):
            if i:
                out, state = self.rnn(steps[-1].unsqueeze(-1), state)
            step = self.head(out[:, -1])  # (batch, 1)
            if self.linear is not None:
                step = step + self._autoregression(seen)
            steps.append(step)
            seen = torch.cat([seen, step], dim=1)
        return torch.cat(steps, dim=1)
