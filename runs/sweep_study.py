"""What a sweep is made of on Optuna: the trainables, the storage, the sampler, the workers.

A *trainable* is a command's settings class, its ``run`` and the metric a sweep optimises;
:data:`pucklab.runs.registry.TRAINABLES` lists them, so this module imports neither half.
What a trial does is in sweep_trial.py, and ``--seeds K`` trials in sweep_seeds.py.

Storage is a SQLite file in the sweep folder by default, or any SQLAlchemy URL Optuna accepts
(``postgresql://...``). Workers send heartbeats; a trial whose worker died is marked failed by
the next worker and retried (``RetryHeartbeatStaleTrialCallback``), resuming from the dead trial's
checkpoint when it has one.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pucklab.runs import registry
from pucklab.runs.result import RunResult
from pucklab.runs.search_space import Param
from pucklab.runs.settings import Settings
from pucklab.runs.store import RunError, atomic_write

SAMPLERS = ("grid", "random", "tpe", "coarse-to-fine")
PRUNERS = ("median", "hyperband", "none")
SWEEP_FILE = "sweep.json"
QUEUE_LOCK = ".queue.lock"  # in the run folder: workers on one machine pop trials one at a time
HEARTBEAT_S = 10
#: Pruning waits for this many finished trials (see sweep_trial.WARMUP_REPORTS for the reports
#: a trial gives before it is judged).
STARTUP_TRIALS = 5


def retry_callback() -> Any:
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    return RetryHeartbeatStaleTrialCallback


@dataclass
class Trainable:
    """A command a sweep can run: its settings, its ``run`` and what to optimise.

    Attributes:
        metrics: Every name ``run``'s ``RunResult.metrics`` holds (what ``--metric`` may be).
        check: ``check(settings)``: what a run checks of its inputs before it starts (the data
            file exists, the env id is known, the device is there), without starting it; a
            sweep checks its trials' settings with it before the first trial.
        reseed: ``reseed(settings, k)``: the settings that change for the k-th seed run of a
            trial (``sweep --seeds``); by default ``seed`` moves to ``seed + k``.
    """

    name: str
    settings: type[Settings]
    run: Callable[..., RunResult]
    metric: str
    direction: str  # "minimize" or "maximize"
    metrics: tuple[str, ...]
    check: Callable[[Any], None]
    reseed: Callable[[Any, int], dict[str, Any]] = field(
        default=lambda settings, k: {"seed": settings.seed + k})


def trainables() -> dict[str, Trainable]:
    """Every command a sweep can run, by name (each imported)."""
    return registry.find_all("trainables")


def load_trainable(name: str) -> Trainable:
    """The command ``name`` a sweep runs, importing only its half: a worker process starts a
    second sooner than with every trainable imported."""
    found: Trainable = registry.find("trainables", name)
    return found


@dataclass
class SweepConfig:
    """Everything that defines a sweep; saved as ``sweep.json`` so workers and re-runs agree."""

    command: str
    params: list[dict[str, Any]]
    fixed: dict[str, Any]
    trials: int
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    metric: str = ""
    direction: str = ""
    grid_points: int = 3
    storage: str = ""
    study: str = "sweep"
    workers: int = 1
    heartbeat: int = HEARTBEAT_S  # a running trial without one for 3 of these is retried
    seeds: int = 1  # runs per trial (sweep_seeds.py), each with its own seed
    extra: dict[str, Any] = field(default_factory=dict)

    def space(self) -> list[Param]:
        return [Param(**{**p, "choices": tuple(p.get("choices", ()))}) for p in self.params]

    def save(self, run_dir: Path) -> None:
        text = json.dumps(asdict(self), indent=2) + "\n"
        atomic_write(run_dir / SWEEP_FILE, lambda f: f.write(text.encode()))

    @classmethod
    def load(cls, run_dir: Path) -> SweepConfig:
        try:
            return cls(**json.loads((run_dir / SWEEP_FILE).read_text()))
        except FileNotFoundError as err:
            raise RunError(f"{run_dir} is not a sweep folder (no {SWEEP_FILE})") from err
        except (OSError, ValueError, TypeError) as err:
            raise RunError(f"cannot read {run_dir / SWEEP_FILE}: {err}") from err


#: What a worker process imports whatever it runs: torch and Optuna are most of its start.
WORKER_MODULES = ("torch", "optuna", "pucklab.runs.sweep", "pucklab.runs.lab_tasks")


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def prepare_workers(modules: Sequence[str] = ()) -> None:
    """Start, now, the clean process this command's workers will be forked from, importing
    :data:`WORKER_MODULES` and ``modules`` while this process goes on with its own setup.

    A spawned worker starts a fresh interpreter and imports torch and the command itself:
    seconds each, a tenth of a short sweep on 2 cores. Forking this process instead would
    share those imports but also whatever torch's OpenMP threads were doing here, which a
    child may not survive; Python's forkserver is a fresh process that only imports, and each
    worker is a fork of it, so a worker starts in a fraction of a second and starts clean.
    """
    if _start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([*WORKER_MODULES, *modules])
    forkserver.ensure_running()


def spawn_workers(target: Callable[..., None], args: list[tuple[Any, ...]]) -> list[int]:
    """Run ``target(*a)`` for each ``a`` in its own process (a sweep's or a lab run's workers
    on this machine, forked from :func:`prepare_workers`' server where there is one, else
    spawned) and wait for all; their exit codes. A Ctrl-C reaches the workers
    too, and a SIGTERM sent to this process alone is passed on to them: they get a minute to
    write what is done before the stop goes on up, and any still running then is terminated,
    so no worker outlives the command."""
    prepare_workers()  # no-op when already running
    ctx: Any = multiprocessing.get_context(_start_method())  # a Process factory either way
    procs = [ctx.Process(target=target, args=a) for a in args]
    for proc in procs:
        proc.start()

    def pass_on(signum: int, frame: Any) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signum)
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, pass_on) if main else None
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        for proc in procs:
            proc.join(timeout=60)
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    return [proc.exitcode or 0 for proc in procs]


def threads_per_worker(workers: int) -> int:
    """Each of ``workers`` processes' share of this machine's cores (torch threads)."""
    return max(1, (os.cpu_count() or 1) // workers)


def storage_url(run_dir: Path, storage: str) -> str:
    return storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"


def one_machine(url: str) -> bool:
    """SQLite storage: every worker shares this machine's disk, so a file lock can order them."""
    return url.startswith("sqlite")


def make_storage(url: str, heartbeat: int = HEARTBEAT_S) -> Any:
    """Optuna's RDB storage with heartbeats, so a dead worker's trial is failed and retried."""
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url, heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                heartbeat_stale_trial_callback=retry_callback()(max_retry=2))
        if one_machine(url):
            _write_ahead(storage.engine)
        return storage
    except ImportError as err:  # e.g. no PostgreSQL driver
        raise RunError(f"storage {url.split(':')[0]}: {err}; pip install 'pucklab[distributed]'"
                       ) from err
    except Exception as err:  # sqlalchemy's errors: a bad URL, a server that does not answer
        raise RunError(f"cannot open storage {url}: {str(err).splitlines()[0]}") from err


def _write_ahead(engine: Any) -> None:
    """SQLite in write-ahead-log mode, synced at checkpoints rather than at every commit.

    Every intermediate value a trial reports is a commit; in SQLite's default mode each one
    waits for two or three fsyncs, and two workers on one disk spend a quarter of a trial's time
    waiting on each other's. In WAL mode readers do not block the writer, and a commit is durable
    once a process dies (the log is in the file); only a power cut can lose the last few, which
    a sweep retries. All workers must share one machine, which an embedded storage means anyway.
    """
    from sqlalchemy import event

    def on_connect(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # the connections opened before the listener go


def make_sampler(cfg: SweepConfig) -> Any:
    import optuna

    if cfg.sampler == "grid":
        return optuna.samplers.GridSampler({p.name: p.grid(cfg.grid_points) for p in cfg.space()},
                                           seed=cfg.seed)
    if cfg.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=cfg.seed)
    return optuna.samplers.RandomSampler(seed=cfg.seed)  # random, and each coarse-to-fine stage


def make_pruner(name: str) -> Any:
    """Optuna's pruner; the median is taken at the same step over at least 3 finished trials
    (steps are the command's own: env steps, optimiser steps)."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_min_trials=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def pop_one_at_a_time(study: Any, lock: Path) -> None:
    """SQLite cannot lock a row, so two workers popping a study's waiting trials at the same
    moment can both take the same one (optuna/optuna#4621): both run it, and one of them dies
    when it reports a trial the other finished. On one machine -- all SQLite allows -- a file
    lock around the pop makes it one at a time. (PostgreSQL locks the row itself: callers
    lock only a SQLite study.)"""
    pop = study._pop_waiting_trial_id

    def locked() -> int | None:
        with file_lock(lock):
            return pop()  # type: ignore[no-any-return]

    study._pop_waiting_trial_id = locked


class BudgetSpent(Exception):
    """A worker asked for a trial when the sweep had all it needs: the worker is done."""


def ask_within_budget(study: Any, lock: Path, trials: int, counted: Sequence[Any]) -> None:
    """Workers of an embedded (SQLite) study take trials as each frees up, so the faster one
    runs more and none waits for a fixed share, while the total stays exact: under a file lock
    around Optuna's ``ask`` (which also covers :func:`pop_one_at_a_time`'s pop), a trial starts
    only while fewer than ``trials`` are ``counted`` or a retried one waits; otherwise
    :class:`BudgetSpent`."""
    import optuna

    ask = study.ask
    waiting = optuna.trial.TrialState.WAITING

    def locked(*args: Any, **kwargs: Any) -> Any:
        with file_lock(lock):
            now = study.get_trials(deepcopy=False, states=tuple(counted))
            if len(now) >= trials and not any(t.state == waiting for t in now):
                raise BudgetSpent
            return ask(*args, **kwargs)

    study.ask = locked


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` between processes of this machine (none on Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield
