"""The console scripts: each imports its command's module under a Ctrl-C guard, then runs it.

``train-agent`` and ``char-rnn`` import torch, numba and gymnasium before they can do anything;
a Ctrl-C in that second would otherwise end in a ``KeyboardInterrupt`` traceback from the
middle of an import. So the scripts pyproject installs point here, at a module that imports
nothing heavy; each finds its command's ``main`` in :data:`pucklab.runs.registry.COMMANDS`
and imports it inside the guard.

A Ctrl-C while the command's modules load is noted, not raised: raised inside an import it
can land in torch's C++ start-up code, which then aborts the process. Once the imports end (a
second or two) the command prints ``interrupted`` and exits with 130 instead of running. Once
``main`` runs, the command's own guard (:func:`pucklab.runs.cli.guarded`) takes over.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

from pucklab.runs import registry


def load_main(name: str) -> Callable[[], int]:
    """The ``main`` of command ``name`` (:data:`pucklab.runs.registry.COMMANDS`)."""
    main: Callable[[], int] = registry.find("commands", name)
    return main


def launch(name: str) -> int:
    """Import command ``name``, then run its ``main``; Ctrl-C meanwhile -> one line, exit 130."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started with Ctrl-C ignored (nohup, &)
        return load_main(name)()
    seen: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    before = signal.signal(signal.SIGINT, note)
    try:
        main = load_main(name)
    except KeyboardInterrupt:
        seen.append(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)
    if seen:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    return main()


def _script(name: str) -> Callable[[], int]:
    """The console script of command ``name`` (pyproject's ``[project.scripts]``)."""
    def script() -> int:
        return launch(name)

    script.__name__ = name.replace("-", "_")
    return script


train_agent, char_rnn, forecast = _script("train-agent"), _script("char-rnn"), _script("forecast")
lab, sweep, demo = _script("lab"), _script("sweep"), _script("pucklab-demo")
