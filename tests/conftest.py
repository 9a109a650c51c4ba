"""Shared test settings: data sets come from ../shared/data unless PUCKLAB_DATA says otherwise;
Ctrl-C reaches Python however pytest was started."""

import os
import signal
from pathlib import Path

import pytest

_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("PUCKLAB_DATA", str(_SHARED_DATA))


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_reaches_python():
    """The Ctrl-C tests need Python's own SIGINT handler in this process and the default one in
    the scripts it starts. A shell that starts pytest in the background ignores SIGINT, and
    children inherit an ignored signal; setting the handler here undoes both."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
