"""Training a classifier of word sequences through the shared Trainer.

:class:`ClassifyTask` is the task in the Trainer's shape (:class:`~pucklab.seqmodels.trainer.Task`):
step k trains on a batch drawn by the task's own seeded generator (checkpointed with it, so a
resumed run draws what the straight one would), padded to its longest sequence; the
validation loss is the cross-entropy over the validation examples. :func:`predict` gives the
classes a model picks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pucklab.seqmodels.classify.data import Examples, pad
from pucklab.seqmodels.train_config import TrainConfig
from pucklab.seqmodels.trainer import Trainer

EVAL_BATCH = 512
VALIDATIONS, PATIENCE = 10, 2


class ClassifyTask:
    units = "cross-entropy"

    def __init__(self, train: Examples, val: Examples, batch: int, seed: int) -> None:
        self.train, self.val, self.batch = train, val, batch
        self.steps_per_epoch = math.ceil(len(train) / batch)
        self.gen = torch.Generator().manual_seed(seed)
        self.device = torch.device("cpu")

    def train_loss(self, model: nn.Module, step: int) -> torch.Tensor:
        idx = torch.randint(0, len(self.train), (self.batch,), generator=self.gen)
        ids, lengths = pad([self.train.ids[i] for i in idx], self.device)
        target = torch.as_tensor(self.train.labels[idx.numpy()], device=self.device)
        return F.cross_entropy(model(ids, lengths), target)

    def val_loss(self, model: nn.Module) -> float:
        logits = _logits(model, self.val, self.device)
        return float(F.cross_entropy(logits, torch.as_tensor(self.val.labels)))

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.gen.set_state(d["generator"])

    def to(self, device: torch.device) -> ClassifyTask:
        self.device = device
        return self


def _logits(model: nn.Module, examples: Examples, device: torch.device) -> torch.Tensor:
    """Logits of every example, on the CPU, in eval mode, by batches of similar lengths."""
    training = model.training
    model.eval()
    order = np.argsort(examples.lengths(), kind="stable")
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, len(order), EVAL_BATCH):
                ids, lengths = pad([examples.ids[i] for i in order[start:start + EVAL_BATCH]],
                                   device)
                chunks.append(model(ids, lengths).cpu())
    finally:
        model.train(training)
    logits = torch.cat(chunks)
    out = torch.empty_like(logits)
    out[torch.as_tensor(order)] = logits
    return out


def predict(model: nn.Module, examples: Examples, device: torch.device | str = "cpu"
            ) -> np.ndarray:
    """The class ``model`` picks for each example."""
    return _logits(model, examples, torch.device(device)).argmax(1).numpy()


def fit(model: nn.Module, train: Examples, val: Examples, steps: int, seed: int, run_dir: Path,
        lr: float = 3e-3, batch: int = 64, device: str = "cpu") -> None:
    """Adam with gradient clipping at 1 for up to ``steps`` updates, through the shared
    Trainer (its metrics.csv, loss curve and checkpoints in ``run_dir``), validated
    ``VALIDATIONS`` times; early stopping after ``PATIENCE`` validations without a new best
    leaves the model with the best validation loss's weights."""
    torch.manual_seed(seed)
    cfg = TrainConfig(optimizer="adam", lr=lr, clip=1.0, max_steps=steps, seed=seed,
                      device=device, progress=False, eval_every=max(1, steps // VALIDATIONS),
                      patience=PATIENCE)
    Trainer(model, ClassifyTask(train, val, batch, seed), cfg, run_dir,
            command="lab sequence-classification").fit()
