"""The trainer's settings: optimiser, schedule, clipping, budget, early stopping, device.

Both sequence commands nest a :class:`TrainConfig` in their settings; its fields are flags of
their own (``--lr``, ``--epochs``, ...). Kept apart from trainer.py so that settings (what a user
sets) and the loop (what the trainer does) each read on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from pucklab.runs.device import DEVICES
from pucklab.runs.optim import OPTIMIZERS, SCHEDULES
from pucklab.runs.settings import Settings, seed_setting, setting
from pucklab.runs.store import RunError

#: A learning rate that works for each optimiser on our tasks when --lr is not given.
OPTIMIZER_LR = {"sgd": 1.0, "momentum": 0.1, "nesterov": 0.1, "rmsprop": 2e-3, "adam": 2e-3,
              "adamw": 2e-3, "adadelta": 1.0}


@dataclass
class TrainConfig(Settings):
    """Trainer settings; every field is a flag of the commands built on the trainer."""

    optimizer: str = setting("adam", "optimiser (torch.optim)", choices=OPTIMIZERS)
    lr: float | None = setting(None, "learning rate (default: per optimiser, "
                               + ", ".join(f"{k} {v:g}" for k, v in OPTIMIZER_LR.items())
                               + "; char-rnn's adam and adamw 3e-3)", above=0)
    momentum: float = setting(0.9, "momentum of momentum / nesterov", low=0, below=1)
    weight_decay: float = setting(0.0, "L2 penalty; decoupled for adamw", low=0)
    l1: float = setting(0.0, "L1 penalty: adds l1 * sum |w| over the weight matrices (not "
                        "biases) to the training loss", low=0)
    schedule: str = setting("none", "learning-rate schedule: step (lower by --lr-decay every "
                            "--step-every epochs), cosine (to zero over the budget), plateau "
                            "(lower when the validation loss stalls)", choices=SCHEDULES)
    step_every: int = setting(1, "epochs between step-schedule cuts", low=1)
    lr_decay: float = setting(0.5, "step / plateau factor", above=0, below=1)
    plateau_patience: int = setting(2, "validations without improvement before a plateau cut",
                                    low=0)
    clip: float = setting(5.0, "max gradient norm, 0 = off", low=0)
    epochs: float | None = setting(None, "budget in epochs", above=0, resumable=True)
    max_steps: int | None = setting(None, "budget in optimiser steps", low=1, resumable=True)
    minutes: float | None = setting(None, "budget in wall-clock minutes (total, across "
                                    "resumes)", above=0, resumable=True)
    eval_every: int = setting(0, "steps between validations, 0 = once per epoch", low=0)
    patience: int = setting(0, "early stopping: validations without improvement, 0 = off; the "
                            "best weights are kept", low=0)
    log_every: int = setting(10, "steps between metric rows", low=1)
    seed: int = seed_setting()
    device: str = setting("auto", "where to train", choices=DEVICES, resumable=True)
    progress: bool | None = setting(None, "progress bar (default: when stderr is a terminal)",
                                    resumable=True)

    def check(self) -> None:
        if self.optimizer == "nesterov" and not self.momentum > 0:
            raise RunError("--optimizer nesterov needs --momentum > 0")

    def budget_given(self) -> bool:
        return any(v is not None for v in (self.epochs, self.max_steps, self.minutes))
