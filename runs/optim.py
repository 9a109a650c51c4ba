"""The optimisers both halves train with, built in one place from a name.

``sgd``, ``momentum`` (heavy ball), ``nesterov``, ``rmsprop``, ``adam``, ``adamw`` and ``adadelta``
are ``torch.optim``'s own; this module only maps a settings value to one of them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "adadelta")


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, *,
                   momentum: float = 0.9, weight_decay: float = 0.0,
                   rmsprop_alpha: float = 0.99) -> torch.optim.Optimizer:
    """``torch.optim`` optimiser ``name`` over ``params``.

    ``momentum`` is used by momentum / nesterov only (plain sgd has none); ``weight_decay`` is
    L2 added to the gradient, decoupled for adamw; ``rmsprop_alpha`` is RMSprop's decay of the
    squared-gradient average (pg-pong 0.99, char-rnn 0.95).
    """
    if name in ("sgd", "momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=0.0 if name == "sgd" else momentum,
                               weight_decay=weight_decay, nesterov=name == "nesterov")
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=rmsprop_alpha, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
