"""A multi-layer network whose backward pass is written by hand: the chain rule, layer by layer.

Each layer remembers what its forward pass needs and turns dL/d(its output), ``g``, into
dL/d(its input), filling its own parameters' gradients on the way:

    Linear    y = x W + b          dW = x^T g,   db = sum over rows of g,   dx = g W^T
    Tanh      y = tanh(x)          dx = g * (1 - y^2)
    ReLU      y = max(x, 0)        dx = g * [x > 0]
    SoftmaxCrossEntropy  L = -mean_n log softmax(z_n)[t_n]      dz = (softmax(z) - onehot(t)) / N

:meth:`Network.backward` runs them in reverse order: that is backpropagation, nothing more.
Two checks say the hand-written gradients are right: :func:`to_torch` builds the same network
with the same numbers in torch, whose autograd computes the same gradients independently, and
:func:`finite_differences` nudges every parameter by +-eps and compares (L+ - L-) / 2 eps.
Everything is float64, so the checks compare the maths, not rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class Linear:
    """``y = x W + b``; W is (in, out). Initialised as ``torch.nn.Linear``: U(+-1/sqrt(in))."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator) -> None:
        bound = 1.0 / np.sqrt(n_in)
        self.W = rng.uniform(-bound, bound, (n_in, n_out))
        self.b = rng.uniform(-bound, bound, n_out)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, g: np.ndarray) -> np.ndarray:
        self.dW = self.x.T @ g
        self.db = g.sum(axis=0)
        return g @ self.W.T

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(parameter, its gradient) pairs, after the latest backward pass."""
        return [(self.W, self.dW), (self.b, self.db)]


class Tanh:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = np.tanh(x)
        return self.y

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (1.0 - self.y ** 2)


class ReLU:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.on = x > 0
        return x * self.on

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.on


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer targets; the loss layer."""

    def forward(self, logits: np.ndarray, targets: np.ndarray) -> float:
        shifted = logits - logits.max(axis=1, keepdims=True)  # same softmax, no overflow
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p = np.exp(log_p)
        self.targets = targets
        return float(-log_p[np.arange(len(targets)), targets].mean())

    def backward(self) -> np.ndarray:
        g = self.p.copy()
        g[np.arange(len(self.targets)), self.targets] -= 1.0
        return g / len(self.targets)


ACTIVATIONS: dict[str, type[Tanh] | type[ReLU]] = {"tanh": Tanh, "relu": ReLU}


class Network:
    """Linear layers of ``sizes`` with the hidden ``activations`` between them, softmax on top.

    ``Network([64, 32, 16, 10], ["tanh", "relu"])``: 64 inputs, two hidden layers, 10 classes.
    """

    def __init__(self, sizes: Sequence[int], activations: Sequence[str], seed: int = 0) -> None:
        if len(activations) != len(sizes) - 2:
            raise ValueError(f"{len(sizes) - 2} hidden layers need as many activations, "
                             f"got {len(activations)}")
        rng = np.random.default_rng(seed)
        self.sizes, self.activations = list(sizes), list(activations)
        self.layers: list[Linear | Tanh | ReLU] = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            self.layers.append(Linear(n_in, n_out, rng))
            if k < len(activations):
                self.layers.append(ACTIVATIONS[activations[k]]())
        self.criterion = SoftmaxCrossEntropy()

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, targets: np.ndarray) -> float:
        return self.criterion.forward(self.forward(x), targets)

    def backward(self) -> None:
        """dL/d(every parameter) of the latest :meth:`loss`, by the chain rule from the top."""
        g = self.criterion.backward()
        for layer in reversed(self.layers):
            g = layer.backward(g)

    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [pair for lin in self.linears() for pair in lin.parameters()]

    def sgd_step(self, lr: float) -> None:
        for p, g in self.parameters():
            p -= lr * g

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x).argmax(axis=1)


def to_torch(net: Network, device: torch.device | str = "cpu") -> nn.Sequential:
    """The same network in torch (float64, ``nn.Linear`` keeps W transposed), same numbers."""
    modules: list[nn.Module] = []
    for layer in net.layers:
        if isinstance(layer, Linear):
            n_in, n_out = layer.W.shape
            lin = nn.Linear(n_in, n_out, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.b))
            modules.append(lin)
        else:
            modules.append(nn.Tanh() if isinstance(layer, Tanh) else nn.ReLU())
    return nn.Sequential(*modules).to(device)


def torch_gradients(model: nn.Sequential, x: np.ndarray, targets: np.ndarray
                    ) -> list[np.ndarray]:
    """Autograd's gradients of the mean cross-entropy, in :meth:`Network.parameters` order and
    layout (W as (in, out))."""
    device = next(model.parameters()).device
    model.zero_grad()
    logits = model(torch.from_numpy(x).to(device))
    nn.functional.cross_entropy(logits, torch.from_numpy(targets).to(device)).backward()
    grads = []
    for lin in (m for m in model if isinstance(m, nn.Linear)):
        assert lin.weight.grad is not None and lin.bias.grad is not None
        grads += [lin.weight.grad.T.cpu().numpy(), lin.bias.grad.cpu().numpy()]
    return grads


def finite_differences(net: Network, x: np.ndarray, targets: np.ndarray,
                       eps: float = 1e-6) -> list[np.ndarray]:
    """(L(p + eps) - L(p - eps)) / (2 eps) for every entry of every parameter, same layout."""
    numeric = []
    for p, _ in net.parameters():
        grad = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = net.loss(x, targets)
            p[i] = old - eps
            down = net.loss(x, targets)
            p[i] = old
            grad[i] = (up - down) / (2 * eps)
        numeric.append(grad)
    return numeric


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    """|a - b| / max(|a| + |b|, floor): the usual gradient-check measure, per entry."""
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)
