"""The recall task: a symbol, ``lag`` distractors, then a cue to name the symbol.

Small, exact and fast, so one task serves two claims of the course (``gradient-clipping`` in
clipping.py, ``memory-length`` in memory.py). Every training run goes through the shared
:class:`~pucklab.seqmodels.trainer.Trainer`, in its own folder under the lab run (metrics.csv,
checkpoint, loss curve): :class:`RecallTask` is the task in the trainer's shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pucklab.runs.metrics import read_metrics
from pucklab.seqmodels.train_config import TrainConfig
from pucklab.seqmodels.trainer import Trainer

SYMBOLS, DISTRACTORS = 8, 8


def recall_batch(lag: int, batch: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A symbol at t = 0, ``lag`` random distractor symbols, then a recall cue; the target is
    the first symbol. One-hot inputs of SYMBOLS + DISTRACTORS + 1 channels; chance 1/SYMBOLS."""
    sym = torch.randint(0, SYMBOLS, (batch,), generator=gen)
    x = torch.zeros(batch, lag + 2, SYMBOLS + DISTRACTORS + 1)
    rows = torch.arange(batch)
    x[rows, 0, sym] = 1
    if lag:
        noise = torch.randint(SYMBOLS, SYMBOLS + DISTRACTORS, (batch, lag), generator=gen)
        x[rows[:, None], torch.arange(1, lag + 1)[None], noise] = 1
    x[:, -1, -1] = 1
    return x, sym


class RecallNet(nn.Module):
    """A recurrent stack (fused torch.nn) and a linear read-out of its last state.

    ``cell`` is ``rnn``, ``lstm``, ``gru`` (torch.nn's standard initialisation) or
    ``lstm-chrono``: an LSTM with chrono initialisation (Tallec & Ollivier, 2018), forget-gate
    biases log U(1, chrono_max - 1) and input-gate biases their negative, so that at the start
    the units keep their memory over time scales spread up to ``chrono_max`` steps.
    """

    def __init__(self, cell: str, hidden: int, chrono_max: int = 100) -> None:
        super().__init__()
        kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU, "lstm-chrono": nn.LSTM}[cell]
        self.rnn = kind(SYMBOLS + DISTRACTORS + 1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, SYMBOLS)
        if cell == "lstm-chrono":
            forget = torch.log(torch.empty(hidden).uniform_(1, max(chrono_max - 1, 2)))
            with torch.no_grad():  # torch.nn's gate order: input, forget, cell, output
                for bias in (self.rnn.bias_ih_l0, self.rnn.bias_hh_l0):
                    bias[:2 * hidden] = 0.0
                self.rnn.bias_ih_l0[hidden:2 * hidden] = forget
                self.rnn.bias_ih_l0[:hidden] = -forget

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class RecallTask:
    """The recall task for the Trainer: step k trains on the next batch of the task's own
    generator (its state is checkpointed, so a resume draws what the straight run would); the
    validation loss is the cross-entropy on 2,000 held-out sequences."""

    units = "cross-entropy"

    def __init__(self, lag: int, batch: int, seed: int, steps: int) -> None:
        self.lag, self.batch, self.seed = lag, batch, seed
        self.steps_per_epoch = steps  # one pass = the whole run: validate at its end
        self.gen = torch.Generator().manual_seed(seed)

    def held_out(self) -> tuple[torch.Tensor, torch.Tensor]:
        return recall_batch(self.lag, 2000, torch.Generator().manual_seed(10_000 + self.seed))

    def train_loss(self, model: nn.Module, step: int) -> torch.Tensor:
        x, y = recall_batch(self.lag, self.batch, self.gen)
        return F.cross_entropy(model(x), y)

    def val_loss(self, model: nn.Module) -> float:
        x, y = self.held_out()
        return float(F.cross_entropy(model(x), y))

    def accuracy(self, model: nn.Module) -> float:
        x, y = self.held_out()
        with torch.no_grad():
            return float((model(x).argmax(1) == y).float().mean())

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.gen.set_state(d["generator"])

    def to(self, device: torch.device) -> RecallTask:
        return self


def fit_recall(model: nn.Module, task: RecallTask, cfg: TrainConfig, run_dir: Path) -> None:
    """Train ``model`` on ``task`` through the shared Trainer (CPU, no progress bar)."""
    Trainer(model, task, cfg.replace(device="cpu", progress=False, max_steps=task.steps_per_epoch),
            run_dir).fit()


def train_clipping(lr: float, clip: float, steps: int, lag: int, hidden: int, seed: int,
                   run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-step loss and (pre-clip) gradient norm of an Elman RNN on the recall task, plain
    SGD, read from the run's metrics.csv. A non-finite loss ends the run (the Trainer stops
    there): the rest of the curve is NaN."""
    torch.manual_seed(seed)
    model = RecallNet("rnn", hidden)
    task = RecallTask(lag, 32, seed, steps)
    cfg = TrainConfig(optimizer="sgd", lr=lr, clip=clip, log_every=1, seed=seed)
    # Blown-up weights saturate tanh into denormal floats, which x86 handles 100x slower.
    flush = torch.set_flush_denormal(True)
    try:
        fit_recall(model, task, cfg, run_dir)
    finally:
        if flush:
            torch.set_flush_denormal(False)
    losses, norms = np.full(steps, np.nan), np.full(steps, np.nan)
    for row in read_metrics(run_dir):
        if not np.isnan(row["train_loss"]):
            losses[int(row["step"]) - 1], norms[int(row["step"]) - 1] = (row["train_loss"],
                                                                         row["grad_norm"])
    return losses, norms


def train_recall(cell: str, lag: int, steps: int, hidden: int, lr: float, seed: int,
                 run_dir: Path, batch: int = 64, chrono_max: int = 100) -> float:
    """Train ``cell`` on the recall task at ``lag`` (Adam, clipping 1); held-out accuracy."""
    torch.manual_seed(seed)
    model = RecallNet(cell, hidden, chrono_max)
    task = RecallTask(lag, batch, seed, steps)
    fit_recall(model, task, TrainConfig(optimizer="adam", lr=lr, clip=1.0, seed=seed), run_dir)
    return task.accuracy(model)
