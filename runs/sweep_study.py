"""What a sweep is made of on Optuna: the trainables, the storage, the sampler, the objective.

A *trainable* is a command's settings class, its ``run`` and the metric a sweep optimises;
:data:`pucklab.runs.registry.TRAINABLES` lists them, so this module imports neither half.
Every trial is an ordinary run folder, ``trials/<n>/``, made by the
command's ``run(settings, report=...)``: ``report`` feeds each evaluation to the trial, and a
trial the pruner stops ends with its checkpoint written (``optuna.TrialPruned`` goes through
``run`` unchanged).

Storage is a SQLite file in the sweep folder by default, or any SQLAlchemy URL Optuna accepts
(``postgresql://...``). Workers send heartbeats; a trial whose worker died is marked failed by
the next worker and retried (``RetryHeartbeatStaleTrialCallback``), resuming from the dead trial's
checkpoint when it has one.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pucklab.runs import registry
from pucklab.runs.result import RunResult
from pucklab.runs.search_space import Param
from pucklab.runs.settings import Settings
from pucklab.runs.store import CONFIG_FILE, RunError, atomic_write, checkpoint_path

SAMPLERS = ("grid", "random", "tpe", "coarse-to-fine")
PRUNERS = ("median", "hyperband", "none")
SWEEP_FILE = "sweep.json"
HEARTBEAT_S = 10
STAGES = 3  # coarse-to-fine: a random stage over the whole space, then two narrower ones
TOP_SHARE = 0.25  # ... around the best quarter of the finished trials (at least 3)
#: Pruning waits for this many finished trials, and a trial is judged from its this-many-th
#: report on: early evaluations are noisy (an RL win rate after a few updates), and a trial
#: judged from its first report against two others is pruned on noise.
STARTUP_TRIALS = 5
WARMUP_REPORTS = 3


def _retry_callback() -> Any:
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
    """

    name: str
    settings: type[Settings]
    run: Callable[..., RunResult]
    metric: str
    direction: str  # "minimize" or "maximize"
    metrics: tuple[str, ...]
    check: Callable[[Any], None]


def trainables() -> dict[str, Trainable]:
    """Every command a sweep can run, by name."""
    return registry.find_all("trainables")


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


def spawn_workers(target: Callable[..., None], args: list[tuple[Any, ...]]) -> list[int]:
    """Run ``target(*a)`` for each ``a`` in its own spawned process (a sweep's or a lab run's
    workers on this machine) and wait for all; their exit codes. A Ctrl-C reaches the workers
    too, and a SIGTERM sent to this process alone is passed on to them: they get a minute to
    write what is done before the stop goes on up, and any still running then is terminated,
    so no worker outlives the command."""
    ctx = multiprocessing.get_context("spawn")
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


def make_storage(url: str, heartbeat: int = HEARTBEAT_S) -> Any:
    """Optuna's RDB storage with heartbeats, so a dead worker's trial is failed and retried."""
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                heartbeat_stale_trial_callback=_retry_callback()(max_retry=2))
    except ImportError as err:  # e.g. no PostgreSQL driver
        raise RunError(f"storage {url.split(':')[0]}: {err}; pip install 'pucklab[distributed]'"
                       ) from err
    except Exception as err:  # sqlalchemy's errors: a bad URL, a server that does not answer
        raise RunError(f"cannot open storage {url}: {str(err).splitlines()[0]}") from err


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


def stage_ranges(cfg: SweepConfig, study: Any, number: int) -> tuple[int, dict[str, Any]]:
    """Coarse-to-fine: trial ``number``'s stage and each parameter's range in it.

    Stage 0 is the whole space. A later stage keeps, for every number parameter, the smallest
    range holding the best quarter (at least 3) of the trials finished so far, widened by a
    quarter of its width on each side (in log space where ``log``) and clipped to the original
    range. A choice stays whole: Optuna keeps one set of values per categorical parameter.
    """
    import optuna

    stage = min(STAGES - 1, number * STAGES // max(cfg.trials, 1))
    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    if stage == 0 or len(done) < 3:
        return 0, {}
    best = sorted(done, key=lambda t: t.value, reverse=cfg.direction == "maximize")
    top = best[:max(3, math.ceil(TOP_SHARE * len(done)))]
    ranges: dict[str, Any] = {}
    for p in cfg.space():
        values = [t.params[p.name] for t in top if p.name in t.params]
        if not values:
            continue
        if p.kind == "choice":
            continue
        f = math.log if p.log else (lambda v: v)
        g = math.exp if p.log else (lambda v: v)
        lo, hi = f(min(values)), f(max(values))
        pad = (hi - lo) / 4
        low, high = max(p.low, g(lo - pad)), min(p.high, g(hi + pad))
        if p.kind == "int":
            low, high = math.floor(low), math.ceil(high)
        ranges[p.name] = [low, high]
    return stage, ranges


def trial_folder(run_dir: Path, trial: Any) -> tuple[Path, bool]:
    """Where a trial runs, and whether it resumes: a retried trial goes on in the folder of the
    trial it retries when that one wrote a checkpoint."""
    import optuna

    frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retried = _retry_callback().retried_trial_number(frozen)
    if retried is not None:
        old = run_dir / "trials" / str(retried)
        # a forecast trial keeps its networks in sub-folders (candidates/*/seed-*, final/...)
        saved = any(old.rglob(checkpoint_path(".").as_posix()))
        if (old / CONFIG_FILE).exists() and saved:
            return old, True
    return run_dir / "trials" / str(trial.number), False


def objective(cfg: SweepConfig, trainable: Trainable, run_dir: Path) -> Callable[[Any], float]:
    """The function Optuna calls per trial: settings from the space, one run, its metric."""
    import optuna

    def run_trial(trial: Any) -> float:
        values = dict(cfg.fixed)
        stage, ranges = (stage_ranges(cfg, trial.study, trial.number)
                         if cfg.sampler == "coarse-to-fine" else (0, {}))
        for p in cfg.space():
            values[p.name] = p.suggest(trial, *ranges.get(p.name, (None, None)))
        folder, resume = trial_folder(run_dir, trial)
        trial.set_user_attr("run_dir", str(folder.relative_to(run_dir)))
        trial.set_user_attr("worker", os.getpid())
        if cfg.sampler == "coarse-to-fine":
            trial.set_user_attr("stage", stage)
            trial.set_user_attr("ranges", ranges)
        settings = trainable.settings.from_dict(values, source=f"trial {trial.number}")

        reports = 0

        def report(step: int, metrics: Any) -> None:
            nonlocal reports
            value = metrics.get(cfg.metric)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), step)
            reports += 1
            if reports >= WARMUP_REPORTS and trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step}")

        result = trainable.run(settings, folder, report=report, resume=resume)
        value = result.metrics.get(cfg.metric, math.nan)
        if not math.isfinite(value):
            raise RunError(f"trial {trial.number} ended without {cfg.metric} ({result.stopped})")
        return float(value)

    return run_trial
