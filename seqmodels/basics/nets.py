"""Torch networks for the course's basics, and ways to look inside them.

- :class:`Perceptron`: Rosenblatt's unit, a step of ``w.x + b``, trained by his error rule (no
  gradient): ``w += lr * (target - output) * x``. It converges whenever the classes are
  linearly separable, and never otherwise.
- :func:`mlp`: ``nn.Sequential`` of Linear layers with one activation between them (sigmoid,
  tanh, relu, leaky_relu) and one initialisation of the weights (:data:`INITS`); no hidden
  layer is logistic (softmax) regression.
- :func:`hidden_outputs` and :func:`layer_grad_norms`: every hidden layer's outputs on a batch
  and every Linear layer's weight-gradient norm, what the activation and initialisation
  experiments measure; :func:`train_classifier`, the minibatch loop they all train with.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from pucklab.seqmodels.basics.data import Split

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01)}
#: Weight initialisations (biases start at zero for all but ``default``, torch's own).
INITS = ("default", "zero", "small", "large", "xavier", "he")
SMALL_STD, LARGE_STD = 0.01, 1.0


class Perceptron:
    """A single threshold unit: output 1 if ``w.x + b > 0`` else 0 (numpy, float64)."""

    def __init__(self, n_in: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w = rng.normal(0, 0.1, n_in)
        self.b = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x @ self.w + self.b > 0).astype(np.float64)

    def epoch(self, x: np.ndarray, targets: np.ndarray, lr: float = 0.1) -> int:
        """One pass of the perceptron rule over the examples in order; returns its mistakes."""
        mistakes = 0
        for xi, ti in zip(x, targets, strict=True):
            error = ti - float(xi @ self.w + self.b > 0)
            if error:
                mistakes += 1
                self.w += lr * error * xi
                self.b += lr * error
        return mistakes


def init_linear(layer: nn.Linear, how: str) -> None:
    """Initialise ``layer`` in place the ``how`` way (one of :data:`INITS`).

    zero: all weights 0; small / large: N(0, 0.01^2) / N(0, 1); xavier: Glorot's uniform,
    variance 2 / (fan_in + fan_out), for tanh and sigmoid; he: Kaiming's normal, variance
    2 / fan_in, for ReLU; default: torch's own U(+-1/sqrt(fan_in)).
    """
    if how == "default":
        return
    with torch.no_grad():
        if how == "zero":
            layer.weight.zero_()
        elif how == "small":
            layer.weight.normal_(0.0, SMALL_STD)
        elif how == "large":
            layer.weight.normal_(0.0, LARGE_STD)
        elif how == "xavier":
            nn.init.xavier_uniform_(layer.weight)
        elif how == "he":
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        else:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {how!r}")
        layer.bias.zero_()


def mlp(sizes: Sequence[int], activation: str = "relu", init: str = "default",
        seed: int = 0, batch_norm: bool = False) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``activation`` between them (none after the last),
    initialised the ``init`` way, from ``torch.manual_seed(seed)``. ``batch_norm``: every hidden
    Linear is followed by ``nn.BatchNorm1d`` (Ioffe and Szegedy's place for it: before the
    activation, with its trainable scale and shift)."""
    torch.manual_seed(seed)
    modules: list[nn.Module] = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(n_in, n_out)
        init_linear(linear, init)
        modules.append(linear)
        if k < len(sizes) - 2:
            if batch_norm:
                modules.append(nn.BatchNorm1d(n_out))
            modules.append(ACTIVATIONS[activation]())
    return nn.Sequential(*modules)


def hidden_outputs(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of every activation module (every hidden layer) on ``x``, in order."""
    outs = []
    with torch.no_grad():
        for module in model:
            x = module(x)
            if not isinstance(module, (nn.Linear, nn.BatchNorm1d)):
                outs.append(x)
    return outs


def layer_grad_norms(model: nn.Sequential) -> list[float]:
    """The L2 norm of every Linear layer's weight gradient (after a backward pass), in order."""
    return [float(m.weight.grad.norm()) if m.weight.grad is not None else math.nan
            for m in model if isinstance(m, nn.Linear)]


def accuracy(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> float:
    """The share of ``x`` classified as ``targets``, in eval mode (batch norm: the running
    statistics, which test inputs must neither use as a batch nor update)."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float((model(x).argmax(1) == targets).float().mean())
    finally:
        model.train(training)


def as_tensors(split: Split, device: torch.device | str = "cpu"
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test) of ``split`` as float32 / int64 tensors on ``device``."""
    return (torch.as_tensor(split.x_train, dtype=torch.float32, device=device),
            torch.as_tensor(split.y_train, device=device),
            torch.as_tensor(split.x_test, dtype=torch.float32, device=device),
            torch.as_tensor(split.y_test, device=device))


def train_classifier(model: nn.Module, split: Split, optimizer: torch.optim.Optimizer,
                     steps: int, batch_size: int, seed: int, every: int = 10,
                     scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                     device: torch.device | str = "cpu",
                     drop_last: bool = False) -> list[dict[str, float]]:
    """Minibatch training on cross-entropy for ``steps`` updates (batches drawn by epochs of a
    seeded permutation; ``batch_size`` >= the training set = full-batch gradient descent).
    ``drop_last``: skip each epoch's incomplete last batch, as batch norm wants (a batch of a
    few samples gives it nothing to estimate its statistics from).

    Every ``every`` updates (and after the last) a row: update, seconds of training so far,
    mean training loss since the last row, test accuracy. Stops early, with a last row, once the
    loss is not finite (a run that diverged).
    """
    x, y, x_test, y_test = as_tensors(split, device)
    gen = torch.Generator().manual_seed(seed)
    n, order, pos = len(y), torch.randperm(len(y), generator=gen), 0
    rows: list[dict[str, float]] = []
    losses: list[float] = []
    seconds = 0.0
    for step in range(1, steps + 1):
        if pos >= n or (drop_last and pos + batch_size > n):
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos:pos + batch_size].to(device)
        pos += batch_size
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
        seconds += time.perf_counter() - t0
        finite = math.isfinite(losses[-1])
        if step % every == 0 or step == steps or not finite:
            rows.append({"update": step, "seconds": seconds,
                         "train_loss": float(np.mean(losses)) if finite else math.inf,
                         "test_accuracy": accuracy(model, x_test, y_test) if finite else math.nan})
            losses = []
            if not finite:
                break
    return rows


def first_update(rows: list[dict[str, float]], accuracy_at_least: float) -> float:
    """The first recorded update whose test accuracy reached ``accuracy_at_least``, or inf."""
    return next((r["update"] for r in rows if r["test_accuracy"] >= accuracy_at_least), math.inf)
