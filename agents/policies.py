"""Policies: observation -> action logits.

- ``mlp``: Karpathy's pg-pong network, flattened 80x80 frame difference -> 200 ReLU -> logits.
- ``cnn``: a small convolutional net (two strided convs, one hidden layer), Atari-DQN style.
- ``state``: an MLP for vector observations (``obs_type="state"``).

A checkpoint stores ``policy_args`` (the keyword arguments of :func:`make_policy`), so a checkpoint
alone rebuilds its network (nanoGPT's ``model_args``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

POLICIES = ("mlp", "cnn")


class MLPPolicy(nn.Module):
    """Flatten -> ``hidden`` ReLU units -> logits (pg-pong uses 200 hidden units)."""

    def __init__(self, obs_shape: tuple[int, ...], num_actions: int, hidden: int = 200) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(obs_shape), hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


class CNNPolicy(nn.Module):
    """Two strided convolutions over a (C, H, W) frame, then one hidden layer -> logits."""

    def __init__(self, obs_shape: tuple[int, ...], num_actions: int, hidden: int = 256) -> None:
        super().__init__()
        channels = obs_shape[0]
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=4, stride=2), nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            n = self.features(torch.zeros(1, *obs_shape)).shape[1]
        self.head = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(), nn.Linear(hidden, num_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(obs))


def make_policy(kind: str, obs_shape: tuple[int, ...], num_actions: int,
                hidden: int | None = None) -> nn.Module:
    """Build a policy; vector observations always get an MLP (``hidden`` defaults to 64)."""
    obs_shape = tuple(int(d) for d in obs_shape)
    if len(obs_shape) == 1:
        return MLPPolicy(obs_shape, num_actions, hidden or 64)
    if kind == "mlp":
        return MLPPolicy(obs_shape, num_actions, hidden or 200)
    if kind == "cnn":
        if len(obs_shape) != 3:
            raise ValueError(f"policy 'cnn' needs (C, H, W) observations, got shape {obs_shape}")
        return CNNPolicy(obs_shape, num_actions, hidden or 256)
    raise ValueError(f"policy must be one of {POLICIES}, got {kind!r}")


def policy_args(kind: str, obs_shape: tuple[int, ...], num_actions: int,
                hidden: int | None = None) -> dict[str, Any]:
    """The arguments to store in a checkpoint so that ``make_policy(**args)`` rebuilds it."""
    return {"kind": kind, "obs_shape": [int(d) for d in obs_shape],
            "num_actions": int(num_actions), "hidden": hidden}
