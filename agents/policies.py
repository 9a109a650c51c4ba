"""Policies: observation -> action logits.

The ``--policy`` choices (:data:`POLICIES`), for pixel observations:

- ``mlp``: Karpathy's pg-pong network, flattened 80x80 frame difference -> 200 ReLU -> logits.
- ``pooled`` (the default): the frame difference sum-pooled into 4x4 cells, brightenings and
  darkenings apart, -> 200 ReLU -> logits; pg-pong's MLP on a 32x smaller input.
- ``cnn``: a small convolutional net (two strided convs, one hidden layer), Atari-DQN style.
- ``points``: the lit pixels as a point set, PointNet style.

Vector observations (``obs_type="state"``, CartPole, one-hot FrozenLake) get an MLP of 64
hidden units whatever ``--policy`` says: there is no image to pool or convolve.

A checkpoint stores ``policy_args`` (the keyword arguments of :func:`make_policy`), so a checkpoint
alone rebuilds its network (nanoGPT's ``model_args``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

POLICIES = ("mlp", "pooled", "cnn", "points")


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
        return self.bag(rows, cols, x[rows, cols], x.shape[0])

    def bag(self, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor,
            n: int) -> torch.Tensor:
        """``x @ W.T + b`` for the (n, in) input whose non-zeros are ``x[rows, cols] = values``
        (``rows`` sorted; repeated (row, col) pairs add up)."""
        # Row r's non-zeros are cols[offsets[r]:offsets[r + 1]]; embedding_bag sums their weight
        # columns scaled by the values, i.e. exactly x @ W.T, in one fused kernel.
        offsets = torch.searchsorted(rows, torch.arange(n, device=rows.device))
        out = F.embedding_bag(cols, self._weight_t(), offsets, mode="sum",
                              per_sample_weights=values)
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


class PooledMLP(nn.Module):
    """Frame difference -> sum-pooled 4x4 cells, brightenings and darkenings apart -> MLP.

    Each pixel of the (C, H, W) input adds its magnitude to one of 2*C*(H/4)*(W/4) features:
    the 4x4 cell it lies in, in a "became brighter" or a "became darker" map. The 80x80
    difference becomes two 20x20 count maps (800 inputs), then ``hidden`` ReLU units, then
    logits. Why it learns our game much faster than pg-pong's per-pixel MLP:
    - A per-pixel weight is trained only in the frames where that very pixel changed. A cell's
      weight is trained 16 times as often, and 4-pixel precision is plenty to line a 12-pixel
      paddle up with a puck.
    - Summing signed differences over a cell would cancel a puck's new (+) and old (-) pixels
      when it moves less than a cell. Kept apart, the + map says where the puck *is*, the -
      map where it *was*: position and direction.
    Pooling is linear, so it is folded into the first layer: every non-zero pixel picks the
    weight column of its cell and sign (``SparseInputLinear.bag``), and 99% zeros cost nothing.
    """

    def __init__(self, obs_shape: tuple[int, ...], num_actions: int, hidden: int = 200,
                 cell: int = 4) -> None:
        super().__init__()
        self.cell = cell
        self.fc = SparseInputLinear(pooled_size(obs_shape, cell), hidden)
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(hidden, num_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        rows, feats, values = pooled_indices(obs, self.cell)
        return self.out(self.fc.bag(rows, feats, values, obs.shape[0]))


def _chw(shape: tuple[int, ...]) -> tuple[int, int, int]:
    return (1, *shape) if len(shape) == 2 else tuple(shape)  # type: ignore[return-value]


def pooled_size(obs_shape: tuple[int, ...], cell: int = 4) -> int:
    """Number of :class:`PooledMLP` input features for observations of ``obs_shape``."""
    c, h, w = _chw(tuple(obs_shape))
    return 2 * c * -(-h // cell) * -(-w // cell)  # ceil: edge cells may be partial


def pooled_indices(obs: torch.Tensor, cell: int = 4
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(batch row, pooled feature index, magnitude) of every non-zero pixel of a (N, ...) batch;
    feature = (channel, sign, cell row, cell column) flattened. Rows come out sorted."""
    c, h, w = _chw(tuple(obs.shape[1:]))
    gw = -(-w // cell)
    flat = obs.reshape(obs.shape[0], -1)
    rows, idx = flat.nonzero(as_tuple=True)
    values = flat[rows, idx]
    ch, y, x = idx // (h * w), (idx // w) % h, idx % w
    cells = -(-h // cell) * gw
    feats = (ch * 2 + (values < 0).long()) * cells + (y // cell) * gw + x // cell
    return rows, feats, values.abs()


def pooled_features(obs: torch.Tensor, cell: int = 4) -> torch.Tensor:
    """The dense (N, pooled_size) input of :class:`PooledMLP` (for SB3's feature extractor)."""
    rows, feats, values = pooled_indices(obs, cell)
    out = obs.new_zeros(obs.shape[0], pooled_size(tuple(obs.shape[1:]), cell))
    return out.index_put_((rows, feats), values, accumulate=True)

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
    if kind == "pooled":
        return PooledMLP(obs_shape, num_actions, hidden or 200)
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
