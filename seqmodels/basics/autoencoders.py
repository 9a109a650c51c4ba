"""Autoencoders: an encoder squeezes the input through a small code, a mirrored decoder
rebuilds it, and the reconstruction error is all that trains them -- no labels.

- :class:`Autoencoder`: ``encoder`` then ``decoder`` (two ``nn.Sequential``), for flat inputs.
- :func:`dense_autoencoder`: Linear layers of ``sizes`` and their mirror; ``linear=True`` has no
  activation at all (an undercomplete linear autoencoder, which can do no better than PCA
  and, trained to its optimum, spans PCA's subspace); ``code_activation`` puts ReLU on the code
  (a sparse code is then made of exact zeros).
- :func:`conv_autoencoder`: convolution + pooling down to the code, transposed convolutions up.
- :func:`train_autoencoder`: Adam on mean squared error with a cosine learning-rate decay;
  ``noise`` trains a denoising autoencoder (the input is corrupted, the target is clean),
  ``l1`` adds the sparse autoencoder's penalty on the code.
- :func:`pca_fit` and :func:`overlap`: PCA beside them, and how close a linear decoder's span
  is to PCA's; :func:`fine_tune`: an encoder as the start of a classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from pucklab.seqmodels.basics.data import Split
from pucklab.seqmodels.basics.nets import accuracy, as_tensors


class Autoencoder(nn.Module):
    """``decoder(encoder(x))``; :meth:`encode` is the code, the features other models use."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.encoder(x)


def _stack(sizes: Sequence[int], last_activation: bool, linear: bool) -> nn.Sequential:
    modules: list[nn.Module] = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        modules.append(nn.Linear(n_in, n_out))
        if not linear and (k < len(sizes) - 2 or last_activation):
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def dense_autoencoder(sizes: Sequence[int], linear: bool = False, code_activation: bool = False,
                      seed: int = 0) -> Autoencoder:
    """``sizes`` = [input, hidden ..., code]; the decoder mirrors them. ReLU between layers
    (none when ``linear``), on the code only when ``code_activation``; the output is linear."""
    torch.manual_seed(seed)
    return Autoencoder(_stack(sizes, code_activation and not linear, linear),
                       _stack(list(reversed(sizes)), False, linear))


def conv_autoencoder(side: int, channels: Sequence[int] = (16, 4), seed: int = 0) -> Autoencoder:
    """Flat ``side`` x ``side`` images. Each entry of ``channels``: conv 3x3 + ReLU + 2x2 max
    pool, so the code is ``channels[-1]`` maps of ``side / 2**len(channels)`` squared; the
    decoder undoes each pool with a stride-2 transposed convolution."""
    torch.manual_seed(seed)
    down: list[nn.Module] = [nn.Unflatten(1, (1, side, side))]
    n_in = 1
    for n_out in channels:
        down += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        n_in = n_out
    down.append(nn.Flatten())
    up: list[nn.Module] = [nn.Unflatten(1, (n_in, side >> len(channels), side >> len(channels)))]
    for k, n_out in enumerate([*reversed(channels[:-1]), 1]):
        up.append(nn.ConvTranspose2d(n_in, n_out, 2, stride=2))
        if k < len(channels) - 1:
            up.append(nn.ReLU())
        n_in = n_out
    up.append(nn.Flatten())
    return Autoencoder(nn.Sequential(*down), nn.Sequential(*up))


def reconstruction_error(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None
                         ) -> float:
    """Mean squared error per pixel of rebuilding ``target`` (default ``x``) from ``x``."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(nn.functional.mse_loss(model(x), x if target is None else target))
    finally:
        model.train(training)


def corrupt(x: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """``x`` plus Gaussian noise of std ``noise`` (drawn from ``gen``)."""
    return x + noise * torch.randn(x.shape, generator=gen).to(x.device)


def train_autoencoder(model: Autoencoder, x: torch.Tensor, steps: int, seed: int,
                      lr: float = 3e-3, batch_size: int = 128, noise: float = 0.0,
                      l1: float = 0.0) -> list[float]:
    """Adam on the reconstruction's mean squared error, batches from epochs of a seeded
    permutation, the learning rate decayed to 0 on a cosine over ``steps``. ``noise`` > 0:
    each batch is corrupted afresh (:func:`corrupt`) and the clean batch is the target.
    ``l1`` > 0: plus ``l1`` times the mean absolute code value. Returns each step's loss."""
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    order, pos, losses = torch.randperm(len(x), generator=gen), 0, []
    for _ in range(steps):
        if pos >= len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        clean = x[order[pos:pos + batch_size].to(x.device)]
        pos += batch_size
        code = model.encoder(corrupt(clean, noise, gen) if noise > 0 else clean)
        loss = nn.functional.mse_loss(model.decoder(code), clean)
        if l1 > 0:
            loss = loss + l1 * code.abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


def pca_fit(split: Split, k: int) -> tuple[Any, float]:
    """scikit-learn's PCA with ``k`` components fitted on the training inputs, and its test
    reconstruction error (mean squared, per pixel)."""
    from sklearn.decomposition import PCA

    pca = PCA(k).fit(split.x_train)
    rebuilt = pca.inverse_transform(pca.transform(split.x_test))
    return pca, float(((rebuilt - split.x_test) ** 2).mean())


def overlap(decoder: nn.Module, components: np.ndarray) -> float:
    """Mean cos^2 of the principal angles between the linear decoder's span and PCA's."""
    from scipy.linalg import subspace_angles

    weight = next(m for m in decoder.modules() if isinstance(m, nn.Linear)).weight
    return float(np.mean(np.cos(subspace_angles(weight.detach().numpy(), components.T)) ** 2))


def fine_tune(encoder: nn.Module, code: int, split: Split, idx: np.ndarray, seed: int,
              steps: int = 500) -> float:
    """``encoder`` (codes of ``code`` numbers) + a Linear layer to the classes, fine-tuned
    together by Adam (lr 1e-3) on the labelled examples ``idx`` of ``split``; test accuracy."""
    x, y, x_test, y_test = as_tensors(split)
    torch.manual_seed(seed)
    net = nn.Sequential(encoder, nn.Linear(code, split.classes))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen, chosen = torch.Generator().manual_seed(seed), torch.as_tensor(idx)
    for _ in range(steps):
        batch = chosen[torch.randint(0, len(chosen), (min(64, len(chosen)),), generator=gen)]
        loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return accuracy(net, x_test, y_test)
