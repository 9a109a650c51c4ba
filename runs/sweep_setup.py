"""What a sweep is set up with: the flags of ``sweep``, ``sweep worker`` and ``sweep show`` as
settings dataclasses, and every check a sweep makes before its first trial.

Everything that can be wrong with a sweep is found here, before any trial runs: the space
(unknown settings, empty ranges), the fixed settings, the metric, a trial's settings at both
ends of every range, what a run checks before it starts (a corpus that does not exist, an env
id nobody registered), and a sweep folder that holds another sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from shlex import quote
from typing import Any

from pucklab.runs.search_space import Param, fixed_settings, parse_param, read_space
from pucklab.runs.settings import Settings, seed_setting, setting
from pucklab.runs.store import RunError, claim_run_dir, require_choice
from pucklab.runs.sweep_study import (
    HEARTBEAT_S,
    PRUNERS,
    SAMPLERS,
    SWEEP_FILE,
    SweepConfig,
    Trainable,
    load_trainable,
)

DIRECTIONS = ("minimize", "maximize")


@dataclass
class SweepSettings(Settings):
    """``sweep COMMAND``: what to search, how, and where."""

    param: list[str] = setting(help="a searched setting: lr=log:1e-4:1e-2, gamma=0.9:1.0, "
                               "layers=1:3:1, hidden=choice:32,64 (repeatable)",
                               metavar="NAME=SPEC", default_factory=list)
    space: str | None = setting(None, "TOML / YAML file of searched settings", metavar="FILE")
    fixed: list[str] = setting(help="settings every trial shares (e.g. total_steps=2000000)",
                               metavar="KEY=VALUE", default_factory=list)
    trials: int = setting(20, "trials in all", low=1)
    sampler: str = setting("tpe", "how trials are chosen", choices=SAMPLERS)
    pruner: str = setting("median", "how trials are stopped early", choices=PRUNERS)
    grid_points: int = setting(3, "values per range on a grid (log-spaced where log)", low=2)
    metric: str | None = setting(None, "the run metric to optimise (default: the command's)")
    direction: str | None = setting(None, "minimize or maximize (default: the command's)",
                                    choices=DIRECTIONS)
    workers: int = setting(1, "worker processes on this machine, each with its share of the "
                           "cores", low=1)
    storage: str = setting("", "an SQLAlchemy URL (postgresql://...) for a sweep over many "
                           "machines (default: study.db in the sweep folder)")
    study: str = setting("sweep", "study name in the storage")
    seeds: int = setting(1, "runs per trial, each with its own seed (the command's seed, + 1, "
                         "...); a trial's value is their mean, and the pruner judges the mean",
                         low=1)
    seed: int = seed_setting("the sampler's seed")
    heartbeat: int = setting(HEARTBEAT_S, "seconds between a worker's heartbeats; a trial silent "
                             "for three is retried by a live worker", low=1)
    run_dir: str | None = setting(None, "the sweep folder; an existing one continues its sweep")


@dataclass
class WorkerSettings(Settings):
    """``sweep worker``: join a running sweep."""

    folder: str | None = setting(None, f"the sweep folder (shared, or a copy of its "
                                 f"{SWEEP_FILE})", positional=True, metavar="RUN_DIR")
    run_dir: str | None = setting(None, "the same, as a flag")
    storage: str | None = setting(None, "the sweep's storage URL (default: the folder's)")
    study: str | None = setting(None, "the study name (default: the folder's)")

    def check(self) -> None:
        if not (self.folder or self.run_dir):
            raise RunError("sweep worker needs the sweep folder (RUN_DIR or --run-dir)")


@dataclass
class ShowSettings(Settings):
    """``sweep show RUN_DIR``."""

    run_dir: str = setting(help="a sweep folder", positional=True, metavar="RUN_DIR")


@dataclass
class Space:
    """The searched and the fixed settings of a sweep, read and checked against its command."""

    params: list[Param] = field(default_factory=list)
    fixed: dict[str, Any] = field(default_factory=dict)

    def saved(self) -> list[dict[str, Any]]:
        """The searched settings as ``sweep.json`` holds them."""
        return [dict(p.__dict__, choices=list(p.choices)) for p in self.params]


def read_sweep_space(s: SweepSettings, trainable: Trainable) -> Space:
    params = [parse_param(text, trainable.settings) for text in s.param]
    if s.space:
        params += read_space(s.space, trainable.settings)
    return Space(params, fixed_settings(s.fixed, trainable.settings))


def configure(command: str, s: SweepSettings) -> tuple[SweepConfig, Path]:
    """Check everything before any trial runs; create (or reopen) the sweep folder."""
    trainable = load_trainable(command)
    space = read_sweep_space(s, trainable)
    if s.run_dir and (Path(s.run_dir) / SWEEP_FILE).exists():  # continue that sweep
        return _continued(Path(s.run_dir), command, s, space), Path(s.run_dir)
    if not space.params:
        raise RunError("nothing to search: give --param NAME=SPEC or --space FILE")
    names = [p.name for p in space.params]
    if len(set(names)) != len(names):
        raise RunError(f"a setting is searched twice: {names}")
    if set(space.fixed) & set(names):
        raise RunError("a setting is both fixed and searched: "
                       f"{sorted(set(space.fixed) & set(names))}")
    metric = s.metric or trainable.metric
    require_choice("--metric", metric, trainable.metrics)
    _check_trials(trainable, space)
    cfg = SweepConfig(command, space.saved(), space.fixed, s.trials, s.sampler, s.pruner, s.seed,
                      metric, s.direction or trainable.direction, s.grid_points, s.storage,
                      s.study, s.workers, s.heartbeat, s.seeds)
    run_dir = claim_run_dir(s.run_dir, f"sweep-{command}", resumable=False)
    cfg.save(run_dir)
    return cfg, run_dir


def _check_trials(trainable: Trainable, space: Space) -> None:
    """A trial's settings at each end of every range are valid, and what a run checks before
    it starts (files, env ids, devices) holds at the low end."""
    for end, where in ((0, "low"), (-1, "high")):
        values = {**space.fixed, **{p.name: p.grid(2)[end] for p in space.params}}
        settings = trainable.settings.from_dict(values, source="--fixed / --param")
        try:
            settings.validate()
            if end == 0:
                trainable.check(settings)
        except RunError as err:
            raise RunError(f"a trial at the {where} end of the space cannot run: {err}") from err


def _continued(run_dir: Path, command: str, s: SweepSettings, space: Space) -> SweepConfig:
    """The config of the sweep in ``run_dir``, to continue it: refused when the command, the
    space or the fixed settings given differ from the folder's (a sweep keeps its space)."""
    cfg = SweepConfig.load(run_dir)
    if cfg.command != command:
        raise RunError(f"{run_dir} holds a {cfg.command} sweep; continue it with sweep "
                       f"{cfg.command} --run-dir {quote(str(run_dir))}, or choose another "
                       "--run-dir")
    if space.params and space.saved() != cfg.params:
        raise RunError(f"{run_dir} searches {', '.join(p['name'] for p in cfg.params)} as its "
                       f"{SWEEP_FILE} says; a sweep keeps its space: give no --param / --space "
                       "to continue it, or choose another --run-dir")
    if s.fixed and space.fixed != cfg.fixed:
        raise RunError(f"{run_dir} fixes {cfg.fixed}; a sweep keeps its fixed settings: give "
                       "no --fixed to continue it, or choose another --run-dir")
    if s.seeds != 1 and s.seeds != cfg.seeds:
        raise RunError(f"{run_dir} runs {cfg.seeds} seed(s) per trial; a sweep keeps its "
                       "--seeds: give no --seeds to continue it, or choose another --run-dir")
    cfg = SweepConfig(**{**cfg.__dict__, "trials": max(cfg.trials, s.trials),
                         "workers": s.workers})
    cfg.save(run_dir)
    return cfg
