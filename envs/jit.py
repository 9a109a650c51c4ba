"""numba's ``njit`` with its on-disk cache where the user can write one, and without it where not.

``cache=True`` saves compiled machine code so that later processes skip the compile (seconds
per function). numba writes that cache to ``NUMBA_CACHE_DIR`` when it is set, else beside the
source (``__pycache__``), else in the user's cache folder (``~/.cache/numba``). A system-wide or
container install used by a user without a writable home has none of these, and numba then
refuses to compile at all ("cannot cache function ...: no locator available"). There the
kernels compile on every start instead: slower to start, the same code and numbers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba as nb
from numba.core import config
from numba.misc.appdirs import AppDirs


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def cache_usable(source: str | Path = __file__) -> bool:
    """Whether numba can keep a cache for code in ``source``'s folder (see the module docstring)."""
    chosen: str = getattr(config, "CACHE_DIR", "")  # NUMBA_CACHE_DIR, read when numba loads
    if chosen:
        return _writable(Path(chosen))
    return (_writable(Path(source).parent / "__pycache__")
            or _writable(Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)))


#: Decided once per process: every kernel of the package lives in this folder.
CACHE = cache_usable()


def njit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit`` with ``cache`` set to :data:`CACHE`; use as ``@njit`` or ``@njit(...)``."""
    jit: Callable[..., Any] = nb.njit
    if args and callable(args[0]) and not kwargs:
        return jit(cache=CACHE)(args[0])
    return jit(*args, cache=CACHE, **kwargs)
