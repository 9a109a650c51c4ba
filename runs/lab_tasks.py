"""A lab experiment's runs as tasks on the sweep's engine: Optuna storage, workers, heartbeats.

An experiment that declares its runs (:class:`Task`: a condition and a seed) is executed here
instead of in one loop. Each task becomes a trial of an Optuna study, enqueued with its key, in
the same storage ``sweep`` uses (``study.db`` in the lab run folder, or a ``--storage``
database); worker processes take the queued trials with ``study.optimize``, each with its share
of the cores, and store each task's result (a JSON-able dict) with its trial. So:

- ``--workers N`` spreads the tasks over N processes on this machine;
- ``--storage postgresql://...`` lets ``lab worker`` processes on other machines join;
- a worker that dies (SIGKILL, a lost machine) stops sending heartbeats, and its task is retried
  by a live worker (Optuna's ``RetryHeartbeatStaleTrialCallback``), in the same task folder, so
  a task that checkpoints goes on from its checkpoint;
- running the command again on its folder (``--run-dir``) continues: finished tasks are kept.

A task computes the same numbers whichever worker runs it (its seed is its own), so the table
aggregated from the tasks is the serial run's table.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pucklab.runs.cli import guarded
from pucklab.runs.lifecycle import has_checkpoint
from pucklab.runs.store import RunError, atomic_write
from pucklab.runs.sweep_study import (
    QUEUE_LOCK,
    make_storage,
    one_machine,
    pop_one_at_a_time,
    spawn_workers,
    storage_url,
    threads_per_worker,
)

RESULT_FILE = "result.json"
ROUNDS = 3  # after the workers end: how often unfinished tasks are waited for and retried


@dataclass(frozen=True)
class Task:
    """One independent run of an experiment: a condition (``params``, JSON-able) and a seed.
    ``key`` names it uniquely within the experiment and is its folder's name."""

    key: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)


#: ``measure(settings, task, folder, resume) -> result``: one task's numbers (JSON-able).
#: ``folder`` is the task's own; ``resume`` says an earlier attempt started there (a worker that
#: died), so a task that checkpoints can go on from its checkpoint.
Measure = Callable[[Any, Task, Path, bool], dict[str, Any]]


@dataclass
class Plan:
    """What every worker needs to run an experiment's tasks: it travels to worker processes
    (pickled) and to other machines (as the study's user attributes)."""

    experiment: str
    settings: dict[str, Any]
    tasks: list[Task]
    heartbeat: int

    def saved(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, saved: dict[str, Any]) -> Plan:
        return cls(saved["experiment"], saved["settings"],
                   [Task(**t) for t in saved["tasks"]], saved["heartbeat"])


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed task is reported in one line
    return optuna


def study_name(run_dir: Path) -> str:
    """A lab run's study is named after its folder, so that one database holds many runs and a
    worker on another machine finds the run by the same folder name."""
    return run_dir.resolve().name


def open_study(url: str, name: str, heartbeat: int) -> Any:
    optuna = _optuna()
    return optuna.create_study(study_name=name, storage=make_storage(url, heartbeat),
                               load_if_exists=True)


def results(study: Any) -> dict[str, dict[str, Any]]:
    """Each finished task's result, by key."""
    optuna = _optuna()
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return {t.user_attrs["task"]: t.user_attrs["result"] for t in done if "task" in t.user_attrs}


def task_seconds(study: Any, since: datetime) -> list[float]:
    """The durations of the tasks finished since ``since`` (Optuna's local, naive times)."""
    optuna = _optuna()
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [(t.datetime_complete - t.datetime_start).total_seconds() for t in done
            if "task" in t.user_attrs and t.datetime_start and t.datetime_start >= since]


def continues(run_dir: Path, resume: bool) -> bool:
    """Whether a task's run in ``run_dir`` continues from its checkpoint: a retried task
    (``resume``) whose run saved one does; otherwise whatever it left is removed and the run
    starts afresh."""
    if resume and has_checkpoint(run_dir):
        return True
    shutil.rmtree(run_dir, ignore_errors=True)
    return False


def start_afresh(folder: Path, resume: bool) -> None:
    """For a task that keeps no checkpoint: a retried one (``resume``) starts again in its
    emptied folder, so nothing a dead attempt left can leak into the result."""
    if resume:
        shutil.rmtree(folder)
        folder.mkdir()


def enqueue(study: Any, plan: Plan) -> None:
    """Queue every task that has no finished, queued or running trial (a re-run continues)."""
    optuna = _optuna()
    live = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.WAITING,
            optuna.trial.TrialState.RUNNING)
    taken = {t.user_attrs.get("task") for t in study.get_trials(deepcopy=False, states=live)}
    for task in plan.tasks:
        if task.key not in taken:
            study.enqueue_trial({}, user_attrs={"task": task.key})


def work(run_dir: Path, url: str, plan: Plan, measure: Measure, settings: Any,
         threads: int | None = None) -> None:
    """One worker: run queued tasks until none is left."""
    optuna = _optuna()
    if threads:
        import torch

        torch.set_num_threads(threads)
    study = optuna.load_study(study_name=study_name(run_dir),
                              storage=make_storage(url, plan.heartbeat))
    by_key = {t.key: t for t in plan.tasks}
    waiting = (optuna.trial.TrialState.WAITING,)

    def run_task(trial: Any) -> float:
        key = trial.user_attrs.get("task")
        if key not in by_key:  # sampled because the queue ran dry: nothing to do
            raise optuna.TrialPruned("no task left")
        folder = run_dir / "tasks" / key
        resume = folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = measure(settings, by_key[key], folder, resume)
        except RunError as err:
            trial.set_user_attr("error", str(err))
            raise
        text = json.dumps(result, sort_keys=True)
        atomic_write(folder / RESULT_FILE, lambda f: f.write(text.encode()))
        trial.set_user_attr("result", json.loads(text))
        trial.set_user_attr("worker", os.getpid())
        return 0.0

    def stop_when_done(study: Any, trial: Any) -> None:
        if not study.get_trials(deepcopy=False, states=waiting):
            study.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # a dead worker's task goes back in the queue
    if one_machine(url):
        pop_one_at_a_time(study, run_dir / QUEUE_LOCK)
    if study.get_trials(deepcopy=False, states=waiting):
        study.optimize(run_task, callbacks=[stop_when_done], catch=(RunError,))


def _worker_process(run_dir: str, url: str, plan: Plan, measure: Measure, settings: Any,
                    threads: int, worker: int) -> None:
    def body() -> int:
        work(Path(run_dir), url, plan, measure, settings, threads)
        return 0

    sys.exit(guarded(f"lab worker {worker}", body))


def execute(run_dir: Path, plan: Plan, measure: Measure, settings: Any, workers: int = 1,
            storage: str = "") -> tuple[dict[str, dict[str, Any]], list[float]]:
    """Run every task of ``plan`` (those a previous attempt finished are kept) with ``workers``
    processes on the storage; returns each task's result by key, in the plan's order, and the
    durations of the tasks this call ran."""
    since = datetime.now()  # Optuna stamps trials with naive local times
    url = storage_url(run_dir, storage)
    study = open_study(url, study_name(run_dir), plan.heartbeat)
    study.set_user_attr("plan", plan.saved())
    enqueue(study, plan)
    missing: list[str] = []
    for attempt in range(ROUNDS):
        if attempt:  # a dead worker's task: its heartbeat must go stale before it is retried
            time.sleep(3 * plan.heartbeat + 1)
        try:
            _run_workers(run_dir, url, plan, measure, settings, workers)
        except Exception:  # a bug in the experiment: with nothing finished, nothing to keep
            if not results(study):
                _discard(study, run_dir, url, storage)
            raise
        found = results(study)
        missing = [t.key for t in plan.tasks if t.key not in found]
        if not missing:
            return {t.key: found[t.key] for t in plan.tasks}, task_seconds(study, since)
        failed = _errors(study, missing)
        if failed:
            if not found:  # nothing finished, nothing to keep: the folder goes as a failed start
                _discard(study, run_dir, url, storage)
            key, error = failed[0]
            raise RunError(f"task {key} failed: {error}" + (
                f" ({len(failed) - 1} more failed)" if len(failed) > 1 else ""))
    raise RunError(f"{len(missing)} of {len(plan.tasks)} tasks did not finish; run the same "
                   f"command with --run-dir {run_dir} to continue")


def _discard(study: Any, run_dir: Path, url: str, storage: str) -> None:
    """Remove what a start that finished no task left: its study and task folders."""
    _optuna().delete_study(study_name=study.study_name, storage=url)
    shutil.rmtree(run_dir / "tasks", ignore_errors=True)
    (run_dir / QUEUE_LOCK).unlink(missing_ok=True)
    if not storage:  # with SQLite's write-ahead log beside it
        for name in ("study.db", "study.db-wal", "study.db-shm"):
            (run_dir / name).unlink(missing_ok=True)


def _errors(study: Any, keys: list[str]) -> list[tuple[str, str]]:
    """(key, error) of the tasks among ``keys`` whose last trial failed with a RunError and
    that no trial is retrying."""
    optuna = _optuna()
    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    live = {t.user_attrs.get("task") for t in trials if t.state in (state.WAITING, state.RUNNING)}
    return [(t.user_attrs["task"], t.user_attrs["error"]) for t in trials
            if t.state == state.FAIL and "error" in t.user_attrs
            and t.user_attrs.get("task") in keys and t.user_attrs["task"] not in live]


def _run_workers(run_dir: Path, url: str, plan: Plan, measure: Measure, settings: Any,
                 workers: int) -> None:
    if workers == 1:
        work(run_dir, url, plan, measure, settings)
        return
    threads = threads_per_worker(workers)
    # A worker's exit code is not checked: a task it left unfinished is retried, and a task
    # that failed says why (execute reports both).
    spawn_workers(_worker_process, [(str(run_dir), url, plan, measure, settings, threads, k)
                                    for k in range(workers)])
