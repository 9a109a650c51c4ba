"""Shared test settings: data sets come from ../shared/data unless PUCKLAB_DATA says otherwise."""

import os
from pathlib import Path

_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("PUCKLAB_DATA", str(_SHARED_DATA))
