"""What every trainable command's ``run`` returns, reports along the way, and raises on Ctrl-C.

``run(settings, run_dir=None, *, report=None, resume=False) -> RunResult`` is the one library
call behind ``train-agent``, ``char-rnn train`` and ``forecast``; tests, benchmarks, the lab and
sweeps call it directly.

* ``report(step, metrics)`` is called at each evaluation with the metrics so far. It may raise
  (a sweep's pruner does): the run then writes its checkpoint, closes its files and lets the
  exception through, so the run folder stays whole and ``resume=True`` continues it.
* Ctrl-C writes the checkpoint too and raises :class:`Interrupted`, a ``KeyboardInterrupt``, so
  a caller that knows nothing of it still stops, and the CLI exits with 130.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``report(step, metrics)``: step is the run's own unit (env steps, optimiser steps).
Report = Callable[[int, Mapping[str, float]], None]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; its checkpoint was written. The message says how to continue."""


@dataclass
class RunResult:
    """How a run ended.

    Attributes:
        run_dir: The run folder.
        metrics: The final numbers (train-agent: ``eval_win_rate`` ...; char-rnn:
            ``best_val_loss`` and ``val_loss``; forecast: ``val_loss`` and the test MASE).
        stopped: ``"done"``, ``"early stopping"`` or ``"non-finite loss ..."``.
        files: What the run wrote that a person opens (checkpoint, figures, videos).
        table: forecast's backtest, model -> metrics; empty for the other commands.
        details: The command's own record of the run (counters, per-seed fits).
    """

    run_dir: Path
    metrics: dict[str, float]
    stopped: str = "done"
    files: list[Path] = field(default_factory=list)
    table: dict[str, dict[str, float]] = field(default_factory=dict)
    details: Any = None
