"""MkDocs hooks (mkdocs.yml ``hooks:``): what the build needs before any plugin starts.

mkdocstrings reads source files through griffe, which finds a package by its folder. The four
folders install as ``pucklab.<name>`` through a setuptools mapping griffe cannot follow, so they
are linked under ``build/api/pucklab/`` (as .ci/typecheck links them for mypy), the path
mkdocs.yml gives mkdocstrings. It must exist when mkdocstrings starts, hence ``on_startup``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API_SOURCES = ROOT / "build" / "api" / "pucklab"


def on_startup(**kwargs: Any) -> None:
    API_SOURCES.mkdir(parents=True, exist_ok=True)
    for package in ("envs", "agents", "seqmodels", "runs"):
        link = API_SOURCES / package
        if not link.is_symlink():
            os.symlink(ROOT / package, link, target_is_directory=True)
