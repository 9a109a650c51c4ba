"""Where a run computes: ``auto`` (a CUDA GPU when there is one), ``cpu`` or ``cuda``.

One check and one message for every command, at the boundary: a settings field takes its
choices from :data:`DEVICES`, and :func:`resolve_device` refuses ``cuda`` without a GPU.
"""

from __future__ import annotations

import torch

from pucklab.runs.store import RunError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """The torch device ``name`` means here; a one-line :class:`RunError` if there is none."""
    if name not in DEVICES:
        raise RunError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda: no CUDA device is available here (try --device auto)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
