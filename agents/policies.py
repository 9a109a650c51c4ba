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
from torch.nn import functional as F

POLICIES = ("mlp", "cnn", "points")


class SparseInputLinear(nn.Linear):
    """``nn.Linear`` that skips the zeros of a sparse input (same parameters, same result).

    A frame difference of our games is almost all zeros: a moving puck and a paddle edge light
    ~10 of 6400 pixels. A dense 6400 -> 200 layer spends >99% of its multiply-adds on zeros and
    dominates the run time of pg-pong's MLP. Here only the weight columns of non-zero pixels are
    gathered and summed (``F.embedding_bag``); gradients flow to those columns only,
    as they would through the dense product. Dense inputs (raw frames) take ``F.linear``.
    """

    #: Above this fraction of non-zeros the dense product is as cheap.
    DENSE_ABOVE = 0.05

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[0] == 0:
            return super().forward(x)
        rows, cols = x.nonzero(as_tuple=True)  # sorted by row
        if rows.numel() > self.DENSE_ABOVE * x.numel():
            return super().forward(x)
        # Row r's non-zeros are cols[offsets[r]:offsets[r + 1]]; embedding_bag sums their weight
        # columns scaled by the pixel values, i.e. exactly x @ W.T, in one fused kernel.
        offsets = torch.searchsorted(rows, torch.arange(x.shape[0], device=x.device))
        out = F.embedding_bag(cols, self._weight_t(), offsets, mode="sum",
                              per_sample_weights=x[rows, cols])
        return out if self.bias is None else out + self.bias

    def _weight_t(self) -> torch.Tensor:
        """The weight as (in, out) rows for ``embedding_bag``. Without autograd (rollouts) the
        transposed copy is cached until the optimiser changes the weight (its ``_version``)."""
        if torch.is_grad_enabled() and self.weight.requires_grad:
            return self.weight.t().contiguous()
        key = (self.weight.data_ptr(), self.weight._version)
        if getattr(self, "_cache_key", None) != key:
            self._cache = self.weight.detach().t().contiguous()
            self._cache_key = key
        return self._cache


class MLPPolicy(nn.Module):
    """Flatten -> ``hidden`` ReLU units -> logits (pg-pong uses 200 hidden units).

    The first layer is a :class:`SparseInputLinear`: frame differences are mostly zeros.
    """

    def __init__(self, obs_shape: tuple[int, ...], num_actions: int, hidden: int = 200) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), SparseInputLinear(math.prod(obs_shape), hidden),
                                 nn.ReLU(), nn.Linear(hidden, num_actions))

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


class PointSetPolicy(nn.Module):
    """The non-zero pixels of a frame as a set of points, PointNet style: a shared MLP per point,
    a max over the set, an MLP head.

    Each changed pixel becomes a point (value, row, column, channel), coordinates scaled to
    [-1, 1]. That is a CoordConv network of 1x1 convolutions with global max pooling, computed
    only where the frame is non-zero. Why it suits frame differences: the picture is a handful
    of events (the puck's new and old place, the edges of a moving paddle), and what decides
    the action is *where* they are relative to each other. A per-pixel MLP (``mlp``) has to learn
    that separately for every pixel position; here the point MLP is shared by all positions and
    reads the coordinates directly, so "puck above paddle -> up" is a few weights. A frame
    without any non-zero pixel (an episode's first difference) pools to zeros.
    """

    def __init__(self, obs_shape: tuple[int, ...], num_actions: int, hidden: int = 64) -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        self.point = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                   nn.ReLU())
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, num_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        n = obs.shape[0]
        c, h, w = (1, *obs.shape[1:]) if obs.dim() == 3 else obs.shape[1:]
        flat = obs.reshape(n, -1)
        rows, idx = flat.nonzero(as_tuple=True)
        coords = torch.stack([idx // (h * w), (idx // w) % h, idx % w], 1).to(obs.dtype)
        scale = torch.tensor([max(c - 1, 1), max(h - 1, 1), max(w - 1, 1)], dtype=obs.dtype,
                             device=obs.device)
        points = torch.cat([flat[rows, idx, None], coords / scale * 2 - 1], 1)  # (nnz, 4)
        features = self.point(points)  # (nnz, hidden), >= 0 after the ReLU
        pooled = torch.zeros(n, features.shape[1], dtype=features.dtype, device=obs.device)
        pooled = pooled.scatter_reduce(0, rows[:, None].expand_as(features), features, "amax",
                                       include_self=True)
        return self.head(pooled)


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
    if kind == "points":
        return PointSetPolicy(obs_shape, num_actions, hidden or 64)
    raise ValueError(f"policy must be one of {POLICIES}, got {kind!r}")


def policy_args(kind: str, obs_shape: tuple[int, ...], num_actions: int,
                hidden: int | None = None) -> dict[str, Any]:
    """The arguments to store in a checkpoint so that ``make_policy(**args)`` rebuilds it."""
    return {"kind": kind, "obs_shape": [int(d) for d in obs_shape],
            "num_actions": int(num_actions), "hidden": hidden}
