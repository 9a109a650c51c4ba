"""How a run stops early: one flag, taken at the end of a step, and one exception.

A Ctrl-C (or SIGTERM) in the middle of a step would stop it half done: a rollout that drew from
the random streams, counters ahead of the metrics row, a carried hidden state one chunk ahead of
the step count. A checkpoint of that state resumes into a different curve. So a training loop
runs inside :func:`stopping`: the first signal only sets a flag (:class:`StopFlag`), the loop
calls :meth:`StopFlag.check` after each step, its row written, and the loop's ``save`` writes
the checkpoint it would have written there. The run then raises :class:`Interrupted`, which
the run lifecycle (:func:`pucklab.runs.lifecycle.open_run`) completes with the command that
continues the run, and the CLI prints as one line with exit code 130.

The same ``save`` runs when anything else leaves the loop -- a sweep's pruner raising from
``report``, say -- so the folder stays whole and ``resume=True`` continues it. A
:class:`~pucklab.runs.store.RunError` is not checkpointed: it says the run's inputs are wrong.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from pucklab.runs.store import RunError


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM.

    Args:
        where: How far the run got ("at step 6", "after 3 updates"); empty when unknown.
        saved: Whether the loop wrote its checkpoint at the stop.
        resume: The command line that continues the run (set by the run lifecycle).
    """

    def __init__(self, where: str = "", saved: bool = True, resume: str = "") -> None:
        super().__init__(where)
        self.where, self.saved, self.resume = where, saved, resume

    def __str__(self) -> str:
        text = f"interrupted {self.where}".rstrip()
        if self.saved:
            text += "; checkpoint saved"
        if self.resume:
            text += f"{',' if self.saved else ';'} continue with: {self.resume}"
        return text


#: The signals a run takes at the end of a step, each with the handler that means "nobody else
#: handles it": Python's own Ctrl-C handler, and the default action for SIGTERM.
TAKEN = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


class StopFlag:
    """Ctrl-C / SIGTERM during a training loop, noted and taken at the end of a step.

    While the flag is held (``with StopFlag() as flag:``) the first signal is only noted;
    :meth:`check` raises ``KeyboardInterrupt`` at the end of the step. A second Ctrl-C stops at
    once (the checkpoint is then written mid-step: nothing is lost, but the resumed curve may
    differ). Outside the main thread, or where a signal is already handled (or ignored) by
    someone else, nothing changes for it.
    """

    def __init__(self) -> None:
        self.pending = False
        self._before: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
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
        """At the end of a step: stop here if a signal came during it."""
        if self.pending:
            raise KeyboardInterrupt


@contextmanager
def stopping(save: Callable[[], object], where: Callable[[], str]) -> Iterator[StopFlag]:
    """Around a training loop: the stop flag; on a stop, ``save()`` and :class:`Interrupted`
    (``where()`` says how far the run got); on any other exception but a
    :class:`~pucklab.runs.store.RunError`, ``save()`` and the exception goes on."""
    with StopFlag() as flag:
        try:
            yield flag
        except RunError:
            raise
        except KeyboardInterrupt:
            save()
            raise Interrupted(where()) from None
        except BaseException:
            save()
            raise
