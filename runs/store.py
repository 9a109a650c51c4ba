"""Run folders, ``config.json`` and checkpoints: written atomically, read safely.

A run folder (default ``./runs/<name>/``) holds everything one run produced::

    config.json        every resolved setting, plus library versions
    metrics.csv        one row per logged step (see metrics.py), and TensorBoard events
    checkpoints/       last.pt (and best.pt where a trainer keeps one)
    *.png, videos/     plots and recordings

``config.json``, checkpoints, figures and results are written to a temporary name in the same
folder and renamed into place, so a crash or Ctrl-C never leaves half a file; ``metrics.csv``
is appended row by row, each row flushed (a resume drops rows after its checkpoint, see
metrics.py). Checkpoints load with ``torch.load(weights_only=True)``: they cannot run code.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from shlex import quote
from typing import IO, Any

CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"  # where a run continues from
BEST_CHECKPOINT = "best.pt"  # the lowest validation loss so far, where a trainer keeps one
CHECKPOINT_FORMAT = 1  # raised when what a checkpoint holds changes incompatibly
WRITTEN_BY = "written_by"
DEFAULT_ROOT = Path("runs")


class RunError(Exception):
    """A user-facing problem with a run folder or file; CLIs print it as one line, exit 2."""


def require_choice(flag: str, value: Any, choices: Iterable[Any]) -> None:
    """RunError ``--flag must be one of a, b, c, got 'x'`` unless ``value`` is a choice."""
    choices = tuple(choices)
    if value not in choices:
        raise RunError(f"{flag} must be one of {', '.join(map(str, choices))}, got {value!r}")


def claim_run_dir(run_dir: Path | str | None, name: str, resumable: bool = True) -> Path:
    """The folder a new run writes to: ``run_dir`` (created; refused if it already holds a run,
    i.e. a ``config.json``), or a fresh ``runs/<name>__<time>``."""
    if run_dir is None:
        return new_run_dir(name)
    path = Path(run_dir)
    if (path / CONFIG_FILE).exists():
        how = f"continue it with --resume {quote(str(path))} or choose" if resumable else "choose"
        raise RunError(f"{path} already holds a run; {how} another --run-dir")
    if path.exists() and not path.is_dir():
        raise RunError(f"--run-dir {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create run folder {path}: {err.strerror}") from err
    return path


def new_run_dir(name: str, root: Path | str = DEFAULT_ROOT) -> Path:
    """Create ``root/<name>__<YYYYmmdd-HHMMSS>`` (suffixed if taken) and return it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    base = Path(root) / f"{safe}__{stamp}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        except OSError as err:
            raise RunError(f"cannot create run folder {path}: {err.strerror}") from err


def discard_unstarted(run_dir: Path | str) -> None:
    """Remove a run folder that a failed start left holding only ``config.json`` (a bad env id,
    an unusable device): an empty run is clutter, not a result. Anything else is kept."""
    path = Path(run_dir)
    try:
        if path.is_dir() and {p.name for p in path.iterdir()} <= {CONFIG_FILE, LOCK_FILE}:
            for name in (CONFIG_FILE, LOCK_FILE):
                (path / name).unlink(missing_ok=True)
            path.rmdir()
    except OSError:
        pass  # best effort: leaving the folder is harmless


@contextmanager
def run_lock(run_dir: Path | str, new: bool) -> Iterator[None]:
    """Hold ``run_dir`` for the life of a run, so that a second run into it -- started at the
    same moment, or a resume while it runs -- is refused in one line instead of interleaving
    its files. ``new``: the folder must not hold a run yet (checked again under the lock).
    The operating system releases the lock when the process ends, however it ends."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the config.json check still applies
        fcntl = None  # type: ignore[assignment]
    path = Path(run_dir)
    try:
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as err:
        raise RunError(f"cannot write in {path}: {err.strerror}") from err
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RunError(f"{path} is in use by another run; wait for it to end or "
                               "choose another --run-dir") from None
        if new and (path / CONFIG_FILE).exists():
            raise RunError(f"{path} already holds a run; choose another --run-dir")
        yield
    finally:
        os.close(fd)  # releases the lock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file; mkstemp gives 0o600


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path next to ``path`` (same suffix) to write to; renamed to ``path`` when the
    block ends, removed if it raises. For writers that want a file name (ffmpeg, imageio)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp",
                                    dir=path.parent)
    except OSError as err:
        raise RunError(f"cannot write {path}: {err.strerror}") from err
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path | str, write: Callable[[IO[bytes]], object], *,
                 sync: bool = True) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it to ``path``: a
    process stopped at any moment leaves the old file or the new one. ``sync`` first waits for
    the disk (``fsync``, against a power cut); checkpoints, rewritten at every evaluation, skip
    it (a tenth of a small run; ext4 flushes a file renamed over another anyway)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries a run's numbers depend on."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("pucklab", "torch", "numpy", "gymnasium", "stable_baselines3", "numba"):
        try:
            out[name] = version(name.replace("_", "-"))
        except Exception:  # not installed: say so rather than fail the run
            out[name] = "not installed"
    return out


def save_config(run_dir: Path | str, config: dict[str, Any]) -> Path:
    """Write ``config.json`` (the config plus ``versions``) atomically; return its path."""
    data = dict(config, versions=versions())
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    path = Path(run_dir) / CONFIG_FILE
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def load_config(run_dir: Path | str) -> dict[str, Any]:
    """Read a run's ``config.json``; a missing or unreadable one is a :class:`RunError`."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        config: dict[str, Any] = json.loads(path.read_text())
        return config
    except FileNotFoundError as err:
        raise RunError(f"{run_dir} is not a run folder (no {CONFIG_FILE})") from err
    except (OSError, ValueError) as err:
        raise RunError(f"cannot read {path}: {err}") from err


def saved_fact(run_dir: Path | str, *keys: str, kind: type = object) -> Any:
    """A fact a run's ``config.json`` records beside its settings (``"series", "lookback"``).
    A missing or mistyped one is a :class:`RunError`: the file was damaged or hand-edited."""
    value: Any = load_config(run_dir)
    name = ".".join(keys)
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise RunError(f"{Path(run_dir) / CONFIG_FILE} is damaged: it has no {name}")
        value = value[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise RunError(f"{Path(run_dir) / CONFIG_FILE} is damaged: {name} must be "
                       f"{kind.__name__}, got {value!r}")
    return value


def save_run_config(run_dir: Path | str, command: str, settings: Any, **extra: Any) -> Path:
    """``config.json`` of a command's run: which command wrote it, its settings (a
    :class:`~pucklab.runs.settings.Settings`), and ``extra`` facts (data size, split ...)."""
    return save_config(run_dir, {"command": command, "settings": settings.to_dict(), **extra})


def load_run_settings(run_dir: Path | str, cls: Any, command: str) -> Any:
    """The settings a ``command`` run was made with, read through the same validation as
    the command line; a folder another command wrote is one line that says so."""
    config = load_config(run_dir)
    if not isinstance(config, dict) or config.get("command") != command:
        other = config.get("command") if isinstance(config, dict) else None
        raise RunError(f"{run_dir} is not a {command} run"
                       + (f" (it is a {other} run)" if isinstance(other, str) else ""))
    settings = cls.from_dict(config.get("settings"), source=f"{Path(run_dir) / CONFIG_FILE}")
    settings.validate()
    return settings


def checkpoint_path(run_dir: Path | str, name: str = LAST_CHECKPOINT) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / name


def load_weights(module: Any, weights: Any, problem: str) -> None:
    """``module.load_state_dict(weights)``; weights of another shape (a checkpoint of another
    run, settings edited after training) are a :class:`RunError` ``problem (torch's reason)``."""
    try:
        module.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise RunError(f"{problem} ({_reason(err)})") from err


def _reason(err: Exception, limit: int = 200) -> str:
    """The gist of an exception in one line: torch's "Error(s) in loading state_dict for X:"
    with its first detail, cut at ``limit`` characters."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    text = " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]
    return text if len(text) <= limit else text[:limit - 3] + "..."


def build_model(make: Callable[..., Any], args: Any, weights: Any, problem: str) -> Any:
    """``make(**args)`` with ``weights`` loaded: a model rebuilt from a checkpoint's
    ``model_args``; arguments or weights that do not fit are a :class:`RunError` (``problem``)."""
    try:
        module = make(**args)
    except (TypeError, ValueError) as err:
        raise RunError(f"{problem} ({_reason(err)})") from err
    load_weights(module, weights, problem)
    return module


def save_checkpoint(run_dir: Path | str, state: dict[str, Any], name: str = LAST_CHECKPOINT,
                    *, command: str) -> Path:
    """``torch.save`` ``state`` to ``run_dir/checkpoints/<name>`` atomically; return the path.

    ``state`` must hold only tensors and plain Python values (dicts, lists, numbers, strings), so
    that it loads with ``weights_only=True``. It is saved with ``written_by``: the ``command``
    that wrote it and :data:`CHECKPOINT_FORMAT`, which :func:`load_checkpoint` checks.
    """
    import torch

    path = checkpoint_path(run_dir, name)
    tagged = {**state, WRITTEN_BY: {"command": command, "format": CHECKPOINT_FORMAT}}
    atomic_write(path, lambda f: torch.save(tagged, f), sync=False)  # rewritten at every eval
    return path


def load_checkpoint(run_dir: Path | str, name: str = LAST_CHECKPOINT,
                    map_location: str | Any = "cpu", *, command: str | None = None,
                    keys: Iterable[str] = ()) -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint` (``weights_only=True``) and check it.

    A file that is not a pucklab checkpoint, one of another format, one another ``command``
    wrote, or one that lacks any of ``keys`` is a one-line :class:`RunError` that says which.
    ``map_location`` defaults to the CPU, so a run trained on a GPU samples or evaluates anywhere.
    """
    import torch

    path = checkpoint_path(run_dir, name)
    if not path.is_file():
        raise RunError(f"no checkpoint in {run_dir} (expected {path})")
    try:
        with warnings.catch_warnings():  # e.g. torch on a legacy pickle: the refusal says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated, corrupt, or holding objects we refuse to unpickle
        raise RunError(f"cannot load checkpoint {path}: {str(err).splitlines()[0]}") from err
    tag = state.get(WRITTEN_BY) if isinstance(state, dict) else None
    if not isinstance(tag, dict):
        raise RunError(f"{path} is not a pucklab checkpoint (it does not say what wrote it)")
    if tag.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path} has checkpoint format {tag.get('format')!r}; this pucklab "
                       f"reads format {CHECKPOINT_FORMAT}")
    if command is not None and tag.get("command") != command:
        raise RunError(f"{path} is a {tag.get('command')} checkpoint; {command} needs one of "
                       f"its own runs")
    missing = [k for k in keys if k not in state]
    if missing:
        raise RunError(f"{path} is damaged: it lacks {', '.join(missing)}")
    checked: dict[str, Any] = state
    return checked
