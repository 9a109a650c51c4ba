"""Command-line pieces every command shares: one-line usage errors and exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from pucklab.runs.store import RunError


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (and exit code 2), like every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def guarded(prog: str, body: Callable[[], int]) -> int:
    """Run a command's ``body`` and turn what it raises into our exit codes, never a traceback:
    :class:`RunError` -> one line on stderr and 2; argparse's exit (``--help`` 0, usage 2) as
    is; Ctrl-C outside training (where there is nothing to save) -> 130."""
    try:
        return body()
    except RunError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
