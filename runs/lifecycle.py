"""One run's life, written once: claim or reopen its folder, lock it, record it, end it.

Every command that writes a run folder (``train-agent``, ``char-rnn train``, ``forecast``,
``lab``) runs its work inside :func:`open_run`::

    with open_run("char-rnn", settings, run_dir, resume=resume, name="char-rnn-notes-lstm",
                  resume_with="char-rnn train", facts={"vocab_size": 65},
                  load=load_checkpoint) as run:
        state = run.state                     # the checkpoint, when it resumes
        ...                                   # train, inside runs.stopping.stopping(...)
        return RunResult(run.dir, metrics)

What it owns, so no command writes it again:

* a new run claims ``run_dir`` (refused if it already holds a run) or a fresh
  ``runs/<name>__<time>``; ``resume=True`` reopens a folder this command wrote;
* a resume of a run that was stopped before its first checkpoint (killed in its first
  minutes) starts that run afresh in its folder, from the settings its ``config.json`` holds;
* the run lock for the life of the run, and ``config.json`` (the settings, ``facts`` and the
  device the run computes on: ``--device auto`` is a choice, and a run says which it made);
* a start that fails leaves no empty folder behind;
* a stop (:class:`~pucklab.runs.stopping.Interrupted`) leaves with the shell-quoted command
  that continues the run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import Any

import torch

from pucklab.runs.device import resolve_device
from pucklab.runs.stopping import Interrupted
from pucklab.runs.store import (
    CONFIG_FILE,
    LOCK_FILE,
    RunError,
    checkpoint_path,
    claim_run_dir,
    discard_unstarted,
    load_config,
    run_lock,
    save_config,
)


@dataclass(frozen=True)
class Run:
    """An open run.

    Attributes:
        dir: The run folder.
        command: The command that writes it (recorded in config.json and its checkpoints).
        resumed: Whether the run continues from a checkpoint (False: it starts from nothing).
        state: What ``load`` read for a resume (the checkpoint), else None.
    """

    dir: Path
    command: str
    resumed: bool
    state: Any = None


def has_checkpoint(run_dir: Path) -> bool:
    """Whether a run folder holds the checkpoint a resume starts from (``checkpoints/last.pt``)."""
    return checkpoint_path(run_dir).is_file()


@contextmanager
def open_run(command: str, settings: Any, run_dir: Path | str | None, *, resume: bool = False,
             name: str = "", resume_with: str = "", resumable: bool = True,
             facts: Mapping[str, Any] | None = None,
             started: Callable[[Path], bool] = has_checkpoint,
             load: Callable[[Path], Any] | None = None) -> Iterator[Run]:
    """Open a run folder for the ``with`` block; see the module docstring.

    Args:
        command: What writes the run (``train-agent``, ``char-rnn``, ...).
        settings: The run's settings (a :class:`~pucklab.runs.settings.Settings`), or a plain
            mapping for a command without one; saved in ``config.json``.
        run_dir: The folder; None: a new ``runs/<name>__<time>``. Needed with ``resume``.
        resume: Reopen ``run_dir``, a folder ``command`` wrote.
        name: The stem of a new folder's name.
        resume_with: The command line before ``--resume DIR`` that continues a run
            (default ``command``).
        resumable: False for a command that cannot resume (``lab``): its hints say so.
        facts: What ``config.json`` records beside the settings (data size, the device ...).
        started: Whether a folder holds something to resume from.
        load: On a resume from a checkpoint, before anything is written: read what the run
            goes on from (its checkpoint; :attr:`Run.state`), and raise a RunError if it
            cannot go on with these settings and data.
    """
    if resume:
        path = _reopen(run_dir, command)
        resumed = started(path)
        state = load(path) if resumed and load is not None else None
    else:
        path = claim_run_dir(run_dir, name or command, resumable=resumable)
        resumed, state = False, None
    config = settings.to_dict() if hasattr(settings, "to_dict") else dict(settings)
    try:
        with run_lock(path, new=not resume):
            if resume and not resumed:
                _clear(path)  # stopped before its first checkpoint: start it afresh
            used = device_used(config)
            if used and used["setting"] == "auto" and used["used"] == "cuda":
                print(f"{command}: --device auto chose cuda ({used['name']}); --device cpu "
                      "keeps it on the CPU")
            save_config(path, {"command": command, "settings": config, **(facts or {}),
                               **({"device": used} if used else {})})
            again = f"{resume_with or command} --resume {quote(str(path))}" if resumable else ""
            try:
                yield Run(path, command, resumed, state)
            except Interrupted as err:
                err.resume = again
                raise
            except KeyboardInterrupt:  # before the loop took it: nothing was checkpointed
                raise Interrupted(saved=False, resume=again) from None
    except BaseException as err:
        if not resume and not isinstance(err, KeyboardInterrupt):
            discard_unstarted(path)  # a bad env id must not leave an empty run behind
        raise


def device_used(settings: Mapping[str, Any]) -> dict[str, str] | None:
    """What a run's ``device`` setting means on this machine: ``{"setting": "auto", "used":
    "cuda", "name": "NVIDIA H200"}``; None for a command without one. The settings hold it at
    their top (``train-agent``, ``lab``) or in their trainer's part (``char-rnn``,
    ``forecast``)."""
    train = settings.get("train")
    name = settings.get("device", train.get("device") if isinstance(train, Mapping) else None)
    if not isinstance(name, str):
        return None
    device = resolve_device(name)
    used = {"setting": name, "used": device.type}
    if device.type == "cuda":
        used["name"] = torch.cuda.get_device_name(device)
    return used


def _reopen(run_dir: Path | str | None, command: str) -> Path:
    """The folder of a run ``command`` wrote, for a resume; anything else is one line."""
    if run_dir is None:
        raise RunError("resume needs the run folder")
    path = Path(run_dir)
    config = load_config(path)
    other = config.get("command") if isinstance(config, dict) else None
    if other != command:
        raise RunError(f"{path} is not a {command} run"
                       + (f" (it is a {other} run)" if isinstance(other, str) else ""))
    return path


def _clear(path: Path) -> None:
    """Remove what a run left before its first checkpoint (a partial metrics.csv, events):
    the fresh start writes them again from the first step."""
    for entry in path.iterdir():
        if entry.name in (CONFIG_FILE, LOCK_FILE):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
