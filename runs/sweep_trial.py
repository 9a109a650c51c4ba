"""One trial of a sweep: its settings from the sampler, its run folder, its run and value.

Every trial is an ordinary run folder, ``trials/<n>/``, made by the command's
``run(settings, report=...)``: ``report`` feeds each evaluation to the trial, and a trial the
pruner stops ends with its checkpoint written (``optuna.TrialPruned`` goes through ``run``
unchanged). A trial retried after its worker died goes on in the dead trial's folder from its
checkpoint.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pucklab.runs.result import RunResult
from pucklab.runs.store import CONFIG_FILE, RunError, checkpoint_path
from pucklab.runs.sweep_study import SweepConfig, Trainable, retry_callback

STAGES = 3  # coarse-to-fine: a random stage over the whole space, then two narrower ones
TOP_SHARE = 0.25  # ... around the best quarter of the finished trials (at least 3)
#: A trial is judged by the pruner from its this-many-th report on: early evaluations are
#: noisy (an RL win rate after a few updates), and a trial judged from its first report
#: against two others is pruned on noise.
WARMUP_REPORTS = 3


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
        retried = retry_callback().retried_trial_number(frozen)
    if retried is not None:
        old = run_dir / "trials" / str(retried)
        if can_resume(old):
            return old, True
    return run_dir / "trials" / str(trial.number), False


def can_resume(folder: Path) -> bool:
    """Whether a run folder holds a run that wrote a checkpoint to go on from (a forecast run
    keeps its networks in sub-folders: candidates/*/seed-*, final/...)."""
    return (folder / CONFIG_FILE).exists() and any(folder.rglob(checkpoint_path(".").as_posix()))


def suggest_values(cfg: SweepConfig, trial: Any) -> dict[str, Any]:
    """A trial's settings: the fixed ones and the sampler's suggestions (within the stage's
    ranges under coarse-to-fine, recorded on the trial)."""
    values = dict(cfg.fixed)
    stage, ranges = (stage_ranges(cfg, trial.study, trial.number)
                     if cfg.sampler == "coarse-to-fine" else (0, {}))
    for p in cfg.space():
        values[p.name] = p.suggest(trial, *ranges.get(p.name, (None, None)))
    if cfg.sampler == "coarse-to-fine":
        trial.set_user_attr("stage", stage)
        trial.set_user_attr("ranges", ranges)
    return values


def final_value(cfg: SweepConfig, result: RunResult, what: str) -> float:
    """The metric a finished run gives the sweep; a run that ended without it fails."""
    value = result.metrics.get(cfg.metric, math.nan)
    if not math.isfinite(value):
        raise RunError(f"{what} ended without {cfg.metric} ({result.stopped})")
    return float(value)


def objective(cfg: SweepConfig, trainable: Trainable, run_dir: Path) -> Callable[[Any], float]:
    """The function Optuna calls per trial: settings from the space, one run, its metric."""
    import optuna

    def run_trial(trial: Any) -> float:
        values = suggest_values(cfg, trial)
        folder, resume = trial_folder(run_dir, trial)
        trial.set_user_attr("run_dir", str(folder.relative_to(run_dir)))
        trial.set_user_attr("worker", os.getpid())
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
        return final_value(cfg, result, f"trial {trial.number}")

    return run_trial
