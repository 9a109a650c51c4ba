"""``sweep --seeds K``: a trial is K runs of the same settings with different seeds.

The sweep's study holds one Optuna trial per set of settings, asked from the sampler
(ask-and-tell). Its K *seed runs* wait as trials of a second study in the same storage,
``<study>.seeds``, used as a queue (as the lab queues its tasks): every worker, on this machine
or another, takes whichever seed run waits before it asks the sampler for new settings, so the
K runs of a trial go to different workers when there are several, with heartbeats and retries
as for any trial. Each seed run is an ordinary run folder, ``trials/<n>/seed-<k>/``; the k-th
uses the trainable's ``reseed(settings, k)`` (``seed + k`` by default), so every trial is
measured on the same seeds.

- A trial's value is the mean of its seed runs' values; the values and their standard
  deviation are kept as its user attributes ``seed_values`` and ``seed_std``.
- Pruning sees the mean: each seed run reports to its own queue trial, and once every seed run
  of a trial has reported step s, their mean is the trial's report at step s, which the pruner
  judges. A pruned trial's other seed runs stop at their next report, with checkpoints written.
- A seed run that fails (after the retries of a dead worker) fails its trial.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import statistics
import warnings
from pathlib import Path
from typing import Any

from pucklab.runs.store import RunError
from pucklab.runs.sweep_study import (
    QUEUE_LOCK,
    SweepConfig,
    Trainable,
    file_lock,
    make_storage,
    one_machine,
    pop_one_at_a_time,
    storage_url,
)
from pucklab.runs.sweep_trial import WARMUP_REPORTS, can_resume, final_value, suggest_values

QUEUE_SUFFIX = ".seeds"


def _optuna() -> Any:
    import optuna

    return optuna


def seed_folder(run_dir: Path, number: int, k: int) -> Path:
    return run_dir / "trials" / str(number) / f"seed-{k}"


def seed_runs(queue: Any, number: int) -> dict[int, Any]:
    """The latest queue trial of each seed run of sweep trial ``number`` (a retried seed run
    has a newer one), by seed index."""
    latest: dict[int, Any] = {}
    for t in queue.get_trials(deepcopy=False):
        if t.user_attrs.get("trial") == number:
            k = t.user_attrs["seed"]
            if k not in latest or t.number > latest[k].number:
                latest[k] = t
    return latest


def frozen(study: Any, number: int) -> Any:
    """Sweep trial ``number`` as the storage has it now."""
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def trial_handle(study: Any, number: int) -> Any:
    """A handle on sweep trial ``number`` that any process may report to, judge and annotate
    (Optuna's own ``Trial``, on the trial's id in the shared storage)."""
    return _optuna().trial.Trial(study, frozen(study, number)._trial_id)


def settle(study: Any, queue: Any, number: int, seeds: int) -> None:
    """Finish sweep trial ``number`` once its seed runs decide it: complete with their mean when
    all K completed, failed when one failed for good. Any worker may call it, any number of
    times; the first to see the outcome tells it."""
    optuna = _optuna()
    state = optuna.trial.TrialState
    if frozen(study, number).state.is_finished():
        return
    runs = seed_runs(queue, number)
    trial = trial_handle(study, number)
    failed = [t for t in runs.values() if t.state == state.FAIL]
    if failed:
        trial.set_user_attr("error", failed[0].user_attrs.get("error", "a seed run failed"))
        study.tell(number, state=state.FAIL, skip_if_finished=True)
    elif len(runs) == seeds and all(t.state == state.COMPLETE for t in runs.values()):
        values = [runs[k].value for k in sorted(runs)]
        trial.set_user_attr("seed_values", values)
        trial.set_user_attr("seed_std", statistics.stdev(values) if len(values) > 1 else 0.0)
        study.tell(number, statistics.fmean(values), skip_if_finished=True)


def reporter(cfg: SweepConfig, study: Any, queue: Any, run: Any, number: int) -> Any:
    """The ``report`` of one seed run: to its queue trial, and the mean of the trial's seed
    runs to the sweep trial once all have reached the step; stops the run when the pruner
    stops the trial, or when another seed run's end did."""
    optuna = _optuna()

    def report(step: int, metrics: Any) -> None:
        value = metrics.get(cfg.metric)
        if value is None or not math.isfinite(value):
            return
        run.report(float(value), step)
        current = frozen(study, number)  # one look at the storage per report
        if current.state.is_finished():
            raise optuna.TrialPruned(f"trial {number} ended")
        if step in current.intermediate_values:  # another seed run gave this step's mean
            return
        now = [t.intermediate_values.get(step) for t in seed_runs(queue, number).values()]
        if len(now) < cfg.seeds or any(v is None for v in now):
            return
        trial = optuna.trial.Trial(study, current._trial_id)
        with warnings.catch_warnings():  # two seed runs that report a step at the same moment
            warnings.filterwarnings("ignore", "The reported value is ignored")  # both give it
            trial.report(statistics.fmean(now), step)
        reports = len(set(current.intermediate_values) | {step})
        if reports >= WARMUP_REPORTS and trial.should_prune():
            study.tell(number, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
            raise optuna.TrialPruned(f"trial {number} pruned at step {step}")

    return report


def open_queue(cfg: SweepConfig, run_dir: Path) -> Any:
    optuna = _optuna()
    storage = make_storage(storage_url(run_dir, cfg.storage), cfg.heartbeat)
    return optuna.create_study(study_name=cfg.study + QUEUE_SUFFIX, storage=storage,
                               load_if_exists=True)


def work(cfg: SweepConfig, run_dir: Path, study: Any, trainable: Trainable) -> None:
    """One worker of a ``--seeds`` sweep: run waiting seed runs; when none waits and the sweep
    has fewer than ``trials`` trials, ask the sampler for the next settings and queue their K
    seed runs; stop when neither is left."""
    optuna = _optuna()
    state = optuna.trial.TrialState
    queue = open_queue(cfg, run_dir)
    local = one_machine(storage_url(run_dir, cfg.storage))
    lock = run_dir / QUEUE_LOCK
    if local:
        pop_one_at_a_time(queue, lock)
    counted = (state.COMPLETE, state.PRUNED, state.RUNNING, state.WAITING)

    def run_seed(run: Any) -> float:
        number, k = run.user_attrs.get("trial"), run.user_attrs.get("seed")
        if number is None:  # sampled because the queue ran dry between look and pop
            raise optuna.TrialPruned("no seed run waiting")
        if frozen(study, number).state.is_finished():
            raise optuna.TrialPruned(f"trial {number} ended")  # pruned or failed meanwhile
        folder = seed_folder(run_dir, number, k)
        resume = can_resume(folder)
        if not resume:
            shutil.rmtree(folder, ignore_errors=True)
        run.set_user_attr("worker", os.getpid())
        base = trainable.settings.from_dict(run.user_attrs["values"], source=f"trial {number}")
        settings = trainable.settings.from_dict(
            {**run.user_attrs["values"], **trainable.reseed(base, k)},
            source=f"trial {number} seed run {k}")
        try:
            result = trainable.run(settings, folder, report=reporter(cfg, study, queue, run,
                                                                     number), resume=resume)
            return final_value(cfg, result, f"trial {number} seed run {k}")
        except RunError as err:
            run.set_user_attr("error", str(err))
            raise

    def settle_after(queue: Any, run: Any) -> None:
        if run.user_attrs.get("trial") is not None:
            settle(study, queue, run.user_attrs["trial"], cfg.seeds)

    def ask_next() -> bool:
        with file_lock(lock) if local else contextlib.nullcontext():
            if len(study.get_trials(deepcopy=False, states=counted)) >= cfg.trials:
                return False
            with warnings.catch_warnings():  # Optuna: heartbeats are for optimize; the
                warnings.simplefilter("ignore")  # seed runs, which it runs, send them
                trial = study.ask()
            values = suggest_values(cfg, trial)
            trial.set_user_attr("run_dir", str((run_dir / "trials" / str(trial.number))
                                               .relative_to(run_dir)))
            for k in range(cfg.seeds):
                queue.enqueue_trial({}, user_attrs={"trial": trial.number, "seed": k,
                                                    "values": values})
        return True

    while True:
        if queue.get_trials(deepcopy=False, states=(state.WAITING,)):
            queue.optimize(run_seed, n_trials=1, callbacks=[settle_after], catch=(RunError,))
        elif not ask_next():
            break
    for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        settle(study, queue, t.number, cfg.seeds)  # e.g. one whose last seed run failed for good
