"""The forecaster: a window of values -> recurrent encoder -> the next H values."""

from __future__ import annotations

import torch
from torch import nn

from pucklab.seqmodels.layers import make_recurrent

STRATEGIES = ("direct", "recursive")


class Forecaster(nn.Module):
    """A window of (scaled, differenced) values -> recurrent encoder -> the next H values.

    ``strategy="direct"``: the last hidden state feeds a linear head that emits all H steps at
    once (no error feedback; one model per horizon). ``"recursive"``: the head predicts one
    step from every hidden state, is trained on all next-step targets of the window, and
    forecasts by feeding its own prediction back H times.
    """

    def __init__(self, horizon: int, hidden: int = 64, layers: int = 1, dropout: float = 0.0,
                 cell: str = "lstm", impl: str = "fused", strategy: str = "direct") -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        self.model_args = {"horizon": horizon, "hidden": hidden, "layers": layers,
                           "dropout": dropout, "cell": cell, "impl": impl, "strategy": strategy}
        self.horizon, self.strategy = horizon, strategy
        self.rnn = make_recurrent(cell, 1, hidden, layers, dropout, impl)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(hidden, horizon if strategy == "direct" else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (batch, lookback) -> direct: (batch, H); recursive: (batch, lookback) one-step
        predictions (position i predicts value i + 1)."""
        out, _ = self.rnn(x.unsqueeze(-1))
        if self.strategy == "direct":
            return self.head(self.drop(out[:, -1]))
        return self.head(self.drop(out)).squeeze(-1)

    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, lookback) -> (batch, H) forecasts, whatever the strategy."""
        if self.strategy == "direct":
            return self(x)
        out, state = self.rnn(x.unsqueeze(-1))
        step = self.head(out[:, -1])  # (batch, 1)
        steps = [step]
        for _ in range(self.horizon - 1):
            out, state = self.rnn(step.unsqueeze(-1), state)
            step = self.head(out[:, -1])
            steps.append(step)
        return torch.cat(steps, dim=1)
