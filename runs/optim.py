"""The optimisers and learning-rate schedules both halves train with, built from a name.

``sgd``, ``momentum`` (heavy ball), ``nesterov``, ``rmsprop``, ``adam``, ``adamw`` and ``adadelta``
are ``torch.optim``'s own, and the schedules ``torch.optim.lr_scheduler``'s; this module only maps
a settings value to one of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "adadelta")
SCHEDULES = ("none", "step", "cosine", "plateau")


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


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, *, step_every: int = 1,
                   decay: float = 0.5, patience: int = 2,
                   progress: Callable[[], float] = lambda: 0.0) -> Any:
    """Learning-rate schedule ``name`` (:data:`SCHEDULES`) of ``optimizer``, or None for none.

    ``step``: StepLR, times ``decay`` every ``step_every`` steps of the schedule (the trainer
    steps it once per epoch). ``plateau``: ReduceLROnPlateau by ``decay`` after ``patience``
    validations without improvement (stepped with each validation loss). ``cosine``: half a
    cosine over the budget, from the lr to zero; ``progress()`` is the share of the budget used
    (steps or minutes), recomputed at every step, so the lr reaches zero as the run ends.
    """
    sched = torch.optim.lr_scheduler
    if name == "step":
        return sched.StepLR(optimizer, step_size=step_every, gamma=decay)
    if name == "plateau":
        return sched.ReduceLROnPlateau(optimizer, factor=decay, patience=patience)
    if name == "cosine":
        return sched.LambdaLR(optimizer, lambda _: 0.5 * (1 + math.cos(math.pi * progress())))
    if name == "none":
        return None
    raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {name!r}")
