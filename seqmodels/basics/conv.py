"""Convolutional networks for the course's images, and ways to look inside them.

- :func:`cnn`: the course's shape, convolution + ReLU + max pooling twice, then a fully
  connected head; ``head="global"`` pools each feature map to one number first (the maximum
  over all positions), so the head no longer knows *where* a feature was.
- :func:`feature_maps`: what the first convolution block makes of an image, the "new, more
  abstract features" the course speaks of; :func:`saliency`: the magnitude of the gradient of
  the true class's logit with respect to each input pixel, which pixels the decision rests on.

Every network here takes flat images (N, side * side), as :func:`~pucklab.seqmodels.basics.nets.mlp`
does, so one training loop and one data layout serve both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

HEADS = ("dense", "global")


def cnn(side: int, classes: int, channels: Sequence[int] = (16, 32), kernel: int = 3,
        head: str = "dense", seed: int = 0) -> nn.Sequential:
    """Conv(``kernel``, same padding) + ReLU + 2x2 max pool per entry of ``channels``, then a
    Linear head over the flattened maps (``dense``) or over each map's maximum (``global``);
    weights from ``torch.manual_seed(seed)``, torch's default initialisation."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    torch.manual_seed(seed)
    modules: list[nn.Module] = [nn.Unflatten(1, (1, side, side))]
    n_in, size = 1, side
    for n_out in channels:
        modules += [nn.Conv2d(n_in, n_out, kernel, padding=kernel // 2), nn.ReLU(),
                    nn.MaxPool2d(2)]
        n_in, size = n_out, size // 2
    if head == "global":
        modules += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(n_in, classes)]
    else:
        modules += [nn.Flatten(), nn.Linear(n_in * size * size, classes)]
    return nn.Sequential(*modules)


def parameters(model: nn.Module) -> int:
    """How many numbers training adjusts."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def first_layer_weights(model: nn.Module) -> int:
    """The weights (not biases) of the first Linear or Conv2d layer: an image's pixels meet
    these first -- one weight per pixel and unit when fully connected, one small kernel per
    feature map, shared by every position, when convolved."""
    layer = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    return layer.weight.numel()


def feature_maps(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The first convolution block's output (after its ReLU, before pooling) on flat images
    ``x``: (N, channels, side, side)."""
    conv = next(i for i, m in enumerate(model) if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        return model[:conv + 2](x)


def saliency(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """|d logit[target] / d pixel| for each image of ``x`` (Simonyan et al.'s saliency map), in
    eval mode, shaped like ``x``."""
    training = model.training
    model.eval()
    try:
        x = x.detach().clone().requires_grad_(True)
        logits = model(x)
        logits.gather(1, targets[:, None]).sum().backward()
        assert x.grad is not None
        return x.grad.abs()
    finally:
        model.train(training)
