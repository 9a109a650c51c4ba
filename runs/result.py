"""What every trainable command's ``run`` returns and reports along the way.

``run(settings, run_dir=None, *, report=None, resume=False) -> RunResult`` is the one library
call behind ``train-agent``, ``char-rnn train`` and ``forecast``; tests, benchmarks, the lab and
sweeps call it directly.

* ``report(step, metrics)`` is called at each evaluation with the metrics so far. It may raise
  (a sweep's pruner does): the run then writes its checkpoint, closes its files and lets the
  exception through, so the run folder stays whole and ``resume=True`` continues it.
* Ctrl-C and SIGTERM write the checkpoint too and raise
  :class:`~pucklab.runs.stopping.Interrupted` (see stopping.py).
* A run that ends by itself says why in :class:`Stop`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

#: ``report(step, metrics)``: step is the run's own unit (env steps, optimiser steps).
Report = Callable[[int, Mapping[str, float]], None]


class Stop(str, Enum):
    """Why a run ended by itself. A ``str`` enum: its value is what tables and logs print."""

    DONE = "done"  # its budget is spent
    EARLY_STOPPING = "early stopping"  # the validation loss stopped improving
    NON_FINITE = "non-finite loss"  # the loss became NaN or infinite; the last good checkpoint is kept

    def __str__(self) -> str:
        return self.value


@dataclass
class RunResult:
    """How a run ended.

    Attributes:
        run_dir: The run folder.
        metrics: The final numbers (train-agent: ``eval_win_rate`` ...; char-rnn:
            ``best_val_loss`` and ``val_loss``; forecast: ``val_loss`` and the test MASE).
        stopped: Why it ended (:class:`Stop`).
        message: What a person should know about the stop (a non-finite loss: where, and
            what to try); empty for a run that finished its budget.
        files: What the run wrote that a person opens (checkpoint, figures, videos).
        table: forecast's backtest, model -> metrics; empty for the other commands.
        details: The command's own record of the run (counters, per-seed fits).
    """

    run_dir: Path
    metrics: dict[str, float]
    stopped: Stop = Stop.DONE
    message: str = ""
    files: list[Path] = field(default_factory=list)
    table: dict[str, dict[str, float]] = field(default_factory=dict)
    details: Any = None
