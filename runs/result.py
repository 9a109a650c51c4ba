"""What every trainable command's ``run`` returns, reports along the way, and raises on Ctrl-C.

``run(settings, run_dir=None, *, report=None, resume=False) -> RunResult`` is the one library
call behind ``train-agent``, ``char-rnn train`` and ``forecast``; tests, benchmarks, the lab and
sweeps call it directly.

* ``report(step, metrics)`` is called at each evaluation with the metrics so far. It may raise
  (a sweep's pruner does): the run then writes its checkpoint, closes its files and lets the
  exception through, so the run folder stays whole and ``resume=True`` continues it.
* Ctrl-C writes the checkpoint too and raises :class:`Interrupted`, a ``KeyboardInterrupt``, so
  a caller that knows nothing of it still stops, and the CLI exits with 130. The training loops
  take it at the end of a step (:class:`CtrlC`), so the checkpoint is the one the run would have
  written there, and a resume goes on exactly as if nothing had happened.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

#: ``report(step, metrics)``: step is the run's own unit (env steps, optimiser steps).
Report = Callable[[int, Mapping[str, float]], None]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; its checkpoint was written. The message says how to continue."""


#: The signals a run takes at the end of a step, each with the handler that means "nobody else
#: handles it": Python's own Ctrl-C handler, and the default action for SIGTERM.
TAKEN = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


class CtrlC:
    """Ctrl-C during a training loop, taken at the end of a step, where the run is whole.

    A Ctrl-C in the middle of a step would stop it half done: a rollout that drew from the
    random streams, counters ahead of the metrics row, a carried hidden state one chunk ahead
    of the step count. A checkpoint of that state resumes into a different curve. So while the
    loop runs (``with CtrlC() as ctrl_c:``) the first Ctrl-C is only noted, and the loop calls
    :meth:`check` after each step, its row written: that raises ``KeyboardInterrupt``, and the
    run saves the checkpoint it would have saved there. A second Ctrl-C stops at once (the
    checkpoint is then written mid-step: nothing is lost, but the resumed curve may differ).

    SIGTERM (``kill``, a scheduler stopping a job) is taken the same way, so a run stopped from
    outside also leaves a clean checkpoint. Outside the main thread, or where a signal is already
    handled (or ignored) by someone else, nothing changes for it.
    """

    def __init__(self) -> None:
        self.pending = False
        self._before: dict[int, Any] = {}

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            for sig, untouched in TAKEN.items():
                if signal.getsignal(sig) is untouched:
                    self._before[sig] = signal.signal(sig, self._note)
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, before in self._before.items():
            signal.signal(sig, before)
        self._before = {}

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        # os.write, not print: a handler that prints while the loop prints can hit a
        # reentrant-write error in Python's buffered stderr.
        os.write(2, f"\n{name}: stopping at the end of this step (again: at once)\n".encode())

    def check(self) -> None:
        """At the end of a step: stop here if Ctrl-C was pressed during it."""
        if self.pending:
            raise KeyboardInterrupt


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
