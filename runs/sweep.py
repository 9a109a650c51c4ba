"""``sweep``: hyperparameter search for any trainable command, on Optuna.

    sweep char-rnn --space space.toml --trials 40 --sampler coarse-to-fine --workers 2
    sweep train-agent --param lr=log:1e-4:1e-2 --param gamma=0.9:1.0 --fixed total_steps=2000000
    sweep forecast --fixed dataset=sunspots horizon=10 --param hidden=choice:32,64,128
    sweep worker RUN_DIR                 join a sweep from another process (same machine)
    sweep worker --storage URL --study NAME --run-dir DIR   join from another machine
    sweep show RUN_DIR                   the table, best and importances of a sweep so far

A sweep folder (default ``runs/sweep-<command>__<time>/``) holds ``sweep.json`` (the space and
every option), the study (``study.db``, SQLite, unless ``--storage`` names a database),
``trials/<n>/`` (one ordinary run folder per trial) and the results (see sweep_report.py).
Running ``sweep`` again with ``--run-dir`` of an existing sweep continues it.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

from pucklab.runs.cli import Parser, dispatch, guarded
from pucklab.runs.search_space import fixed_settings, parse_param, read_space
from pucklab.runs.store import RunError, claim_run_dir, require_choice
from pucklab.runs.sweep_report import format_rows, rows, write_results
from pucklab.runs.sweep_study import (
    HEARTBEAT_S,
    PRUNERS,
    SAMPLERS,
    SWEEP_FILE,
    SweepConfig,
    make_pruner,
    make_sampler,
    make_storage,
    objective,
    storage_url,
    trainables,
)

PROG = "sweep"


def sweep_parser(command: str) -> Parser:
    p = Parser(prog=f"{PROG} {command}", description=f"Search {command}'s settings on Optuna.")
    p.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                   help="a searched setting: lr=log:1e-4:1e-2, gamma=0.9:1.0, layers=1:3:1, "
                   "hidden=choice:32,64 (repeatable)")
    p.add_argument("--space", metavar="FILE", help="TOML / YAML file of searched settings")
    p.add_argument("--fixed", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="settings every trial shares (e.g. total_steps=2000000)")
    p.add_argument("--trials", type=int, default=20, help="trials in all (default: 20)")
    p.add_argument("--sampler", default="tpe", help=f"{', '.join(SAMPLERS)} (default: tpe)")
    p.add_argument("--pruner", default="median", help=f"{', '.join(PRUNERS)} (default: median)")
    p.add_argument("--grid-points", type=int, default=3, help="values per range on a grid "
                   "(log-spaced where log; default: 3)")
    p.add_argument("--metric", help="the run metric to optimise (default: the command's)")
    p.add_argument("--direction", help="minimize or maximize (default: the command's)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine, "
                   "each with its share of the cores (default: 1)")
    p.add_argument("--storage", default="", help="an SQLAlchemy URL (postgresql://...) for a "
                   "sweep over many machines (default: study.db in the sweep folder)")
    p.add_argument("--study", default="sweep", help="study name in the storage (default: sweep)")
    p.add_argument("--seed", type=int, default=0, help="the sampler's seed (default: 0)")
    p.add_argument("--heartbeat", type=int, default=HEARTBEAT_S, help="seconds between a "
                   "worker's heartbeats; a trial silent for three is retried by a live worker "
                   f"(default: {HEARTBEAT_S})")
    p.add_argument("--run-dir", help="the sweep folder; an existing one continues its sweep")
    return p


def configure(command: str, argv: list[str]) -> tuple[SweepConfig, Path]:
    """Parse and check everything before any trial runs; create (or reopen) the sweep folder."""
    trainable = trainables()[command]
    ns = sweep_parser(command).parse_args(argv)
    if ns.run_dir and (Path(ns.run_dir) / SWEEP_FILE).exists():  # continue that sweep
        cfg = SweepConfig.load(Path(ns.run_dir))
        cfg = SweepConfig(**{**cfg.__dict__, "trials": max(cfg.trials, ns.trials),
                             "workers": ns.workers})
        cfg.save(Path(ns.run_dir))
        return cfg, Path(ns.run_dir)
    params = [parse_param(text, trainable.settings) for text in ns.param]
    if ns.space:
        params += read_space(ns.space, trainable.settings)
    if not params:
        raise RunError("nothing to search: give --param NAME=SPEC or --space FILE")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise RunError(f"a setting is searched twice: {names}")
    fixed = fixed_settings(ns.fixed, trainable.settings)
    if set(fixed) & set(names):
        raise RunError(f"a setting is both fixed and searched: {sorted(set(fixed) & set(names))}")
    require_choice("--sampler", ns.sampler, SAMPLERS)
    require_choice("--pruner", ns.pruner, PRUNERS)
    direction = ns.direction or trainable.direction
    require_choice("--direction", direction, ("minimize", "maximize"))
    for flag, value, low in (("--trials", ns.trials, 1), ("--workers", ns.workers, 1),
                             ("--grid-points", ns.grid_points, 2), ("--seed", ns.seed, 0),
                             ("--heartbeat", ns.heartbeat, 1)):
        if value < low:
            raise RunError(f"{flag} must be >= {low}, got {value}")
    cfg = SweepConfig(command, [dict(p.__dict__, choices=list(p.choices)) for p in params],
                      fixed, ns.trials, ns.sampler, ns.pruner, ns.seed,
                      ns.metric or trainable.metric, direction, ns.grid_points, ns.storage,
                      ns.study, ns.workers, ns.heartbeat)
    run_dir = claim_run_dir(ns.run_dir, f"sweep-{command}", resumable=False)
    cfg.save(run_dir)
    return cfg, run_dir


def open_study(cfg: SweepConfig, run_dir: Path, worker: int = 0) -> Any:
    """The sweep's study. The first worker of a new sweep samples with ``--seed`` itself, so
    the same seed suggests the same settings; another worker, or a sweep continued, with a
    seed drawn from (seed, worker, trials so far), so no two draw the same sequence."""
    import numpy as np
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(storage_url(run_dir, cfg.storage), cfg.heartbeat)
    study = optuna.create_study(study_name=cfg.study, direction=cfg.direction, storage=storage,
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
    running (a trial that failed does not count), or until this worker ran ``quota``."""
    import optuna
    import torch

    if threads:
        torch.set_num_threads(threads)
    cfg = SweepConfig.load(run_dir)
    study = open_study(cfg, run_dir, worker)
    trainable = trainables()[cfg.command]
    state = optuna.trial.TrialState
    counted = (state.COMPLETE, state.PRUNED, state.RUNNING, state.WAITING)
    budget = optuna.study.MaxTrialsCallback(cfg.trials, states=counted)

    def give_up_on_failures(study: Any, trial: Any) -> None:  # every trial failing: stop
        if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))) >= \
                cfg.trials:
            study.stop()

    if len(study.get_trials(deepcopy=False, states=counted)) < cfg.trials and quota != 0:
        study.optimize(objective(cfg, trainable, run_dir), n_trials=quota,
                       callbacks=[budget, give_up_on_failures], catch=(RunError,))


def _worker_process(run_dir: str, threads: int, worker: int, quota: int) -> None:
    def body() -> int:
        work(Path(run_dir), threads, worker, quota)
        return 0

    sys.exit(guarded(f"{PROG} worker {worker}", body))


def run_sweep(cfg: SweepConfig, run_dir: Path) -> None:
    """``--workers N`` processes on the sweep's storage, each with its share of the cores."""
    if cfg.workers == 1:
        work(run_dir)
        return
    import optuna

    # The tables and the study exist before the workers start (they would race to make them),
    # and each worker takes its share of the trials still to run, so the total is exact.
    study = open_study(cfg, run_dir)
    state = optuna.trial.TrialState
    done = len(study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED)))
    left = max(0, cfg.trials - done)
    quotas = [left // cfg.workers + (k < left % cfg.workers) for k in range(cfg.workers)]
    threads = max(1, (os.cpu_count() or 1) // cfg.workers)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_process, args=(str(run_dir), threads, k, quotas[k]))
             for k in range(cfg.workers)]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:  # the workers got the same Ctrl-C; let them write what is done
        for proc in procs:
            proc.join(timeout=60)
        raise
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RunError(f"{len(failed)} of {cfg.workers} workers failed (exit codes "
                       f"{', '.join(map(str, failed))}); their errors are above")


def show(run_dir: Path) -> int:
    cfg = SweepConfig.load(run_dir)
    study = open_study(cfg, run_dir)
    md = write_results(run_dir, study, cfg, trainables()[cfg.command])
    print(format_rows(rows(study, cfg), cfg.metric))
    print(md.split("Top ten:")[0].rstrip())
    print(f"sweep: {run_dir}  (results.csv, results.md, best.toml, history.png)")
    return 0


def worker_main(argv: list[str]) -> int:
    p = Parser(prog=f"{PROG} worker", description="Join a running sweep.")
    p.add_argument("run_dir", nargs="?", help="the sweep folder (shared, or a copy of its "
                   f"{SWEEP_FILE})")
    p.add_argument("--run-dir", dest="run_dir_flag", help="the same, as a flag")
    p.add_argument("--storage", help="the sweep's storage URL (default: the folder's)")
    p.add_argument("--study", help="the study name (default: the folder's)")
    ns = p.parse_args(argv)
    folder = ns.run_dir or ns.run_dir_flag
    if not folder:
        raise RunError("sweep worker needs the sweep folder (RUN_DIR or --run-dir)")
    run_dir = Path(folder)
    cfg = SweepConfig.load(run_dir)
    if ns.storage or ns.study:
        cfg = SweepConfig(**{**cfg.__dict__, "storage": ns.storage or cfg.storage,
                             "study": ns.study or cfg.study})
        cfg.save(run_dir)
    work(run_dir, worker=os.getpid())
    return 0


def show_main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise RunError("usage: sweep show RUN_DIR")
    return show(Path(argv[0]))


def sweep_main(command: str, argv: list[str]) -> int:
    cfg, run_dir = configure(command, argv)
    run_sweep(cfg, run_dir)
    return show(run_dir)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = sorted(trainables())
    commands = {"worker": worker_main, "show": show_main,
                **{n: functools.partial(sweep_main, n) for n in names}}
    return dispatch(PROG, argv, commands, doc=__doc__.strip(),
                    usage=f"usage: {PROG} {{{','.join(names)}}} [flags] | {PROG} worker RUN_DIR "
                          f"| {PROG} show RUN_DIR  (-h for help)")


if __name__ == "__main__":
    sys.exit(main())
