"""``sweep``: hyperparameter search for any trainable command, on Optuna.

    sweep char-rnn --space space.toml --trials 40 --sampler coarse-to-fine --workers 2
    sweep train-agent --param lr=log:1e-4:1e-2 --param gamma=0.9:1.0 --fixed total_steps=2000000
    sweep forecast --fixed dataset=sunspots horizon=10 --param hidden=choice:32,64,128
    sweep train-agent --param lr=log:1e-4:1e-2 --seeds 3 --workers 2   a trial = 3 seeds' mean
    sweep worker RUN_DIR                 join a sweep from another process (same machine)
    sweep worker --storage URL --study NAME --run-dir DIR   join from another machine
    sweep show RUN_DIR                   the table, best and importances of a sweep so far

A sweep folder (default ``runs/sweep-<command>__<time>/``) holds ``sweep.json`` (the space and
every option), the study (``study.db``, SQLite, unless ``--storage`` names a database),
``trials/<n>/`` (one ordinary run folder per trial, or ``trials/<n>/seed-<k>/`` per seed run
with ``--seeds``) and the results (see sweep_report.py).
Running ``sweep`` again with ``--run-dir`` of an existing sweep continues it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from pucklab.runs import registry, sweep_seeds
from pucklab.runs.cli import Handler, dispatch, guarded, parse_settings
from pucklab.runs.store import RunError
from pucklab.runs.sweep_report import format_rows, rows, write_results
from pucklab.runs.sweep_setup import ShowSettings, SweepSettings, WorkerSettings, configure
from pucklab.runs.sweep_study import (
    QUEUE_LOCK,
    BudgetSpent,
    SweepConfig,
    ask_within_budget,
    load_trainable,
    make_pruner,
    make_sampler,
    make_storage,
    one_machine,
    prepare_workers,
    spawn_workers,
    storage_url,
    threads_per_worker,
)
from pucklab.runs.sweep_trial import objective

PROG = "sweep"


def open_study(cfg: SweepConfig, run_dir: Path, worker: int = 0) -> Any:
    """The sweep's study. The first worker of a new sweep samples with ``--seed`` itself, so
    the same seed suggests the same settings; another worker, or a sweep continued, with a
    seed drawn from (seed, worker, trials so far), so no two draw the same sequence."""
    import numpy as np
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(storage_url(run_dir, cfg.storage), cfg.heartbeat)
    direction: Any = cfg.direction  # "minimize" or "maximize", checked when the sweep began
    study = optuna.create_study(study_name=cfg.study, direction=direction, storage=storage,
                                load_if_exists=True)
    started = len(study.get_trials(deepcopy=False))
    seed = cfg.seed if worker == 0 and started == 0 else int(
        np.random.SeedSequence([cfg.seed, worker, started]).generate_state(1)[0])
    return optuna.load_study(study_name=cfg.study, storage=storage,
                             sampler=make_sampler(SweepConfig(**{**cfg.__dict__, "seed": seed})),
                             pruner=make_pruner(cfg.pruner))


def work(run_dir: Path, threads: int | None = None, worker: int = 0,
         quota: int | None = None) -> None:
    """One worker: run trials of the sweep in ``run_dir`` until it has ``trials`` finished or
    running (a trial that failed does not count), or until this worker ran ``quota``. With
    ``--seeds K`` the workers share out the trials' seed runs instead (sweep_seeds.py)."""
    import optuna
    import torch

    if threads:
        torch.set_num_threads(threads)
    cfg = SweepConfig.load(run_dir)
    study = open_study(cfg, run_dir, worker)
    trainable = load_trainable(cfg.command)
    if cfg.seeds > 1:
        sweep_seeds.work(cfg, run_dir, study, trainable)
        return
    state = optuna.trial.TrialState
    counted = (state.COMPLETE, state.PRUNED, state.RUNNING, state.WAITING)
    if one_machine(storage_url(run_dir, cfg.storage)):  # a retried trial waits in
        ask_within_budget(study, run_dir / QUEUE_LOCK, cfg.trials, counted)  # the queue
    budget = optuna.study.MaxTrialsCallback(cfg.trials, states=counted)

    def give_up_on_failures(study: Any, trial: Any) -> None:  # every trial failing: stop
        if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))) >= \
                cfg.trials:
            study.stop()

    if len(study.get_trials(deepcopy=False, states=counted)) < cfg.trials and quota != 0:
        with contextlib.suppress(BudgetSpent):
            study.optimize(objective(cfg, trainable, run_dir), n_trials=quota,
                           callbacks=[budget, give_up_on_failures], catch=(RunError,))


def _worker_process(run_dir: str, threads: int, worker: int, quota: int) -> None:
    def body() -> int:
        work(Path(run_dir), threads, worker, None if quota < 0 else quota)
        return 0

    sys.exit(guarded(f"{PROG} worker {worker}", body))


def run_sweep(cfg: SweepConfig, run_dir: Path) -> None:
    """``--workers N`` processes on the sweep's storage, each with its share of the cores."""
    if cfg.workers == 1:
        work(run_dir)
        return
    import optuna

    # The tables and the study exist before the workers start (they would race to make them).
    # On SQLite the workers take trials as they free up, under a file lock that keeps the
    # total exact (ask_within_budget); a database has no such lock here, so each worker takes
    # its share of the trials still to run.
    study = open_study(cfg, run_dir)
    state = optuna.trial.TrialState
    done = len(study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED)))
    left = max(0, cfg.trials - done)
    quotas = [left // cfg.workers + (k < left % cfg.workers) for k in range(cfg.workers)]
    if cfg.seeds > 1 or one_machine(storage_url(run_dir, cfg.storage)):
        quotas = [-1] * cfg.workers  # each takes what waits (with --seeds: seed runs)
    threads = threads_per_worker(cfg.workers)
    codes = spawn_workers(_worker_process, [(str(run_dir), threads, k, quotas[k])
                                            for k in range(cfg.workers)])
    failed = [code for code in codes if code != 0]
    if failed:
        raise RunError(f"{len(failed)} of {cfg.workers} workers failed (exit codes "
                       f"{', '.join(map(str, failed))}); their errors are above")


def show(run_dir: Path) -> int:
    cfg = SweepConfig.load(run_dir)
    study = open_study(cfg, run_dir)
    md = write_results(run_dir, study, cfg, load_trainable(cfg.command))
    print(format_rows(rows(study, cfg), cfg.metric))
    print(md.split("Top ten:")[0].rstrip())
    print(f"sweep: {run_dir}  (results.csv, results.md, best.toml, history.png)")
    return 0


def worker_main(argv: list[str]) -> int:
    ns = parse_settings(WorkerSettings, argv, f"{PROG} worker", "Join a running sweep.")
    run_dir = Path(ns.folder or ns.run_dir or "")
    cfg = SweepConfig.load(run_dir)
    if ns.storage or ns.study:
        cfg = SweepConfig(**{**cfg.__dict__, "storage": ns.storage or cfg.storage,
                             "study": ns.study or cfg.study})
        cfg.save(run_dir)
    work(run_dir, worker=os.getpid())
    return 0


def show_main(argv: list[str]) -> int:
    ns = parse_settings(ShowSettings, argv, f"{PROG} show", "The table, best and importances "
                        "of a sweep so far.")
    return show(Path(ns.run_dir))


def sweep_main(command: str, argv: list[str]) -> int:
    s = parse_settings(SweepSettings, argv, f"{PROG} {command}",
                       f"Search {command}'s settings on Optuna.")
    if s.workers > 1:  # their imports overlap with this process's setup
        prepare_workers([registry.TRAINABLES.get(command, "").partition(":")[0] or "torch"])
    cfg, run_dir = configure(command, s)
    if "command" not in cfg.extra:  # what results.md's provenance shows, for a new sweep
        cfg.extra["command"] = shown_command(command, argv)
        cfg.save(run_dir)
    run_sweep(cfg, run_dir)
    return show(run_dir)


def shown_command(command: str, argv: list[str]) -> str:
    """The command line as a reader retypes it, without the machine-local ``--run-dir``."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--run-dir":
            skip = True
        elif not arg.startswith("--run-dir="):
            kept.append(arg)
    return shlex.join([PROG, command, *kept])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = registry.names("trainables")
    commands: dict[str, Handler] = {"worker": worker_main, "show": show_main,
                                    **{n: functools.partial(sweep_main, n) for n in names}}
    return dispatch(PROG, argv, commands, doc=__doc__.strip(),
                    usage=f"usage: {PROG} {{{','.join(names)}}} [flags] | {PROG} worker RUN_DIR "
                          f"| {PROG} show RUN_DIR  (-h for help)")


if __name__ == "__main__":
    sys.exit(main())
