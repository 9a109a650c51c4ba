"""``lab``: the course's claims as controlled experiments, one subcommand each.

    lab                                    list the experiments and the claim each one tests
    lab vanishing-gradients [--quick] [--seeds N] [--seed S] [--run-dir DIR]
    lab check [FOLDER]                     which published results the code has moved past
    lab worker RUN_DIR [--storage URL]     join a lab run's tasks (another process or machine)
    lab publish RUN_DIR [--no-timing]      copy a finished run's results and timing into
                                           benchmarks/results/lab/<name>/

An experiment lives next to what it studies (sequence experiments in ``pucklab.seqmodels.lab``,
RL ones in ``pucklab.agents.lab``: sessions, frames); :mod:`pucklab.runs.registry` lists them by name, so this
module -- the run plumbing -- imports neither half. Every
experiment gets the same flags and writes the same files into ``runs/lab-<name>__<time>/``:
``config.json``, ``results.csv`` (one row per measured condition), ``results.md`` (the claim,
the table and the conclusions), ``figure.png`` and ``timing.json`` (how long it took); the
command prints the table and the conclusions, which the experiment states from its own
numbers. Both results files carry a
:class:`~pucklab.runs.provenance.Stamp` (commit, code fingerprint, command, date, machine,
seeds); ``lab check`` holds every stamped result under ``benchmarks/results`` against the code.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pucklab.runs import registry
from pucklab.runs.cli import guarded, parse_settings
from pucklab.runs.device import DEVICES, resolve_device
from pucklab.runs.lab_publish import PUBLISHED, Timing, measured_times, publish
from pucklab.runs.lab_results import LabOutcome as LabOutcome
from pucklab.runs.lab_results import check_results, results_markdown, write_outcome
from pucklab.runs.lab_tasks import Measure, Plan, Task, execute, open_study, study_name, work
from pucklab.runs.lifecycle import open_run
from pucklab.runs.provenance import ROOT, stamp
from pucklab.runs.settings import MAX_SEED, Settings, field_info, names, seed_setting, setting, walk
from pucklab.runs.store import CONFIG_FILE, RunError, load_config
from pucklab.runs.sweep_study import storage_url

PROG = "lab"


@dataclass
class LabSettings(Settings):
    """The flags every experiment takes. An experiment's settings subclass this (or
    :class:`TorchLabSettings`) with its own; a size (steps, epochs, seeds ...) is declared
    ``setting(None, help, sizes=(full, quick))`` and filled in by :meth:`resolved`, so a given
    value -- 0 included, for validation to refuse -- always wins."""

    quick: bool = setting(False, "a reduced version that finishes in well under a minute (what "
                          "the tests run)")
    seeds: int | None = setting(None, "how many seeds to average over", low=1, sizes=(3, 2))
    seed: int = seed_setting("the first seed; the seeds are S, S+1, ...")
    run_dir: str | None = setting(None, "where to write (default: runs/lab-<name>__<time>); a "
                                  "folder of the same experiment and settings continues")
    progress: bool | None = setting(None, "progress bars (default: when stderr is a terminal)")
    workers: int = setting(1, "worker processes on this machine, each with its share of the "
                           "cores (experiments split into tasks)", low=1, resumable=True)
    storage: str = setting("", "an SQLAlchemy URL (postgresql://...) for tasks that workers on "
                           "other machines join with 'lab worker' (default: study.db in the run "
                           "folder)", resumable=True)
    heartbeat: int = setting(10, "seconds between a worker's heartbeats; a task silent for three "
                             "is retried by a live worker", low=1, resumable=True)

    def resolved(self: L) -> L:
        """A copy with every size not given set to the default run's, or to --quick's."""
        sizes = {f.name: f.metadata["sizes"][1 if self.quick else 0]
                 for f, *_ in walk(type(self)) if f.metadata.get("sizes") is not None
                 and getattr(self, f.name) is None}
        return self.replace(**sizes) if sizes else self

    def validate(self) -> None:
        """Validated as it will run: with its sizes filled in (so ``check`` sees them too)."""
        Settings.validate(self.resolved())

    def check(self) -> None:
        n = self.seeds or 1
        if self.seed + n - 1 > MAX_SEED:
            raise RunError(f"--seed must be in [0, {MAX_SEED - n + 1}] for {n} seeds, "
                           f"got {self.seed}")

    def seed_list(self) -> list[int]:
        """The seeds to average over (of resolved settings)."""
        assert self.seeds is not None
        return list(range(self.seed, self.seed + self.seeds))


@dataclass
class TorchLabSettings(LabSettings):
    """An experiment that trains with torch: it takes ``--device`` too."""

    device: str = setting("cpu", "where its runs train (cpu: where the README's numbers were "
                          "measured)", choices=DEVICES)


def lab_seeds(full: int) -> Any:
    """The ``--seeds`` setting of an experiment whose default run averages ``full`` seeds."""
    return setting(None, "how many seeds to average over", low=1, sizes=(full, 2))


L = TypeVar("L", bound=LabSettings)


@dataclass
class LabExperiment:
    """One ``lab`` subcommand: its claim, its settings, and its runs as tasks.

    An experiment declares three functions, and its runs go through the worker engine
    (:mod:`pucklab.runs.lab_tasks`):

    - ``tasks(settings, seeds) -> list[Task]``: its independent runs (condition x seed);
    - ``measure(settings, task, folder, resume) -> dict``: one task's numbers, JSON-able;
    - ``aggregate(settings, results, run_dir) -> LabOutcome``: the table, verdicts and figure
      from every task's result (``results[task.key]``, in the order ``tasks`` gave).

    Each gets the resolved settings (``settings.quick`` among them). The third field is what
    experiments that ran in one process declared; none does now, and it is always None (it
    goes when the registrations are next edited: editing them marks their results stale).
    """

    name: str
    claim: str
    run: None
    settings: type[LabSettings]
    duration: str = "about 15 minutes"  # of the default size on 2 CPU cores
    tasks: Callable[[Any, list[int]], list[Task]] | None = None
    measure: Measure | None = None
    aggregate: Callable[[Any, dict[str, dict[str, Any]], Path], LabOutcome] | None = None

    def __post_init__(self) -> None:
        assert self.tasks and self.measure and self.aggregate, \
            f"lab {self.name} must declare tasks, measure and aggregate"

    @property
    def source(self) -> str:
        """The module that holds the experiment's code (what its results' stamp covers)."""
        assert self.measure is not None
        return self.measure.__module__

    @property
    def default_seeds(self) -> int:
        seeds: int = field_info(self.settings)["seeds"][0].metadata["sizes"][0]
        return seeds

    @property
    def uses_device(self) -> bool:
        """Whether it trains full runs with torch: it takes --device (cpu unless asked)."""
        return "device" in names(self.settings)


def experiments() -> dict[str, LabExperiment]:
    """Every experiment by name (:data:`pucklab.runs.registry.EXPERIMENTS`, and plug-ins')."""
    return registry.find_all("experiments")


#: Settings that say how a run is executed, not what it computes: a continued run may change them.
EXECUTION = ("run_dir", "progress", "workers", "storage", "heartbeat")


def run_experiment(exp: LabExperiment, argv: list[str]) -> tuple[Path, str]:
    """Parse ``argv``, run, write the files; returns the run folder and the table with the
    conclusions."""
    s = parse_settings(exp.settings, argv, f"{PROG} {exp.name}", f"Claim: {exp.claim}")
    if isinstance(s, TorchLabSettings):
        resolve_device(s.device)  # cuda without a GPU: one line, before a run folder exists
    command = " ".join([PROG, exp.name, *_without_local(argv)])
    args = {k: v for k, v in s.to_dict().items() if k not in EXECUTION}
    settings = {"lab": exp.name, "claim": exp.claim, "seeds": s.seed_list(), "args": args}
    made = stamp(exp.source, command, s.seed_list())
    again = _continues(exp, s.run_dir, settings)
    start = time.perf_counter()
    with open_run(PROG, settings, s.run_dir, name=f"lab-{exp.name}", resumable=False,
                  resume=again, started=lambda _: again,
                  facts={"command_line": command}) as opened:
        assert exp.tasks and exp.measure and exp.aggregate, exp.name
        plan = Plan(exp.name, s.to_dict(), exp.tasks(s, s.seed_list()), s.heartbeat)
        found, ran = execute(opened.dir, plan, exp.measure, s, s.workers, s.storage)
        outcome = exp.aggregate(s, found, opened.dir)
        write_outcome(opened.dir, exp.name, exp.claim, outcome, made)
        timing = Timing(s.workers, round(time.perf_counter() - start, 1), len(plan.tasks),
                        len(ran), round(sum(ran), 1))
        timing.save(opened.dir)
        return opened.dir, results_markdown(outcome) + "\n" + timing.line()


def _continues(exp: LabExperiment, run_dir: str | None, settings: dict[str, Any]) -> bool:
    """Whether ``run_dir`` holds this experiment's run with these settings, split into tasks:
    then it continues (finished tasks are kept). A run of other settings is refused."""
    if run_dir is None or not (Path(run_dir) / CONFIG_FILE).exists():
        return False
    saved = load_config(Path(run_dir))
    if not isinstance(saved, dict) or saved.get("command") != PROG:
        return False  # open_run refuses the folder: it already holds a run
    if saved.get("settings") != settings:
        raise RunError(f"{run_dir} holds a lab run of other settings; give the same flags to "
                       "continue it, or choose another --run-dir")
    return True


#: Flags whose values are this machine's (a folder, a database URL with its password): the
#: command a result records leaves them out.
LOCAL_FLAGS = ("--run-dir", "--storage")


def _without_local(argv: list[str]) -> list[str]:
    """The command line as a reader would retype it: without :data:`LOCAL_FLAGS`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LOCAL_FLAGS:
            skip = True
        elif not arg.startswith(tuple(f"{flag}=" for flag in LOCAL_FLAGS)):
            out.append(arg)
    return out


@dataclass
class WorkerSettings(Settings):
    """``lab worker``: join a lab run's tasks from another process or machine."""

    folder: str = setting(help="the lab run's folder: on its machine, the one whose study.db "
                          "it joins; elsewhere, a folder of the same name for this worker's "
                          "tasks (the study is named after it)", positional=True,
                          metavar="RUN_DIR")
    storage: str = setting("", "the run's storage URL (postgresql://...; default: "
                           "RUN_DIR/study.db)")


def worker_main(argv: list[str]) -> int:
    ns = parse_settings(WorkerSettings, argv, f"{PROG} worker", WorkerSettings.__doc__ or "")
    folder = Path(ns.folder)
    url = storage_url(folder, ns.storage)
    if not ns.storage and not (folder / "study.db").is_file():
        raise RunError(f"{folder} holds no lab run's study.db; give --storage URL")
    saved = open_study(url, study_name(folder), 10).user_attrs.get("plan")
    if not saved:
        raise RunError(f"{url} holds no lab run")
    plan = Plan.load(saved)
    exp = registry.find("experiments", plan.experiment)
    assert exp.measure is not None, plan.experiment
    folder.mkdir(parents=True, exist_ok=True)
    work(folder, url, plan, exp.measure, exp.settings.from_dict(plan.settings, source=url))
    return 0


def listing(found: dict[str, LabExperiment]) -> str:
    width = max(map(len, found), default=0)
    lines = [f"usage: {PROG} EXPERIMENT [--quick] [--seeds N] [--seed S] [--run-dir DIR] "
             "(lab EXPERIMENT -h for its flags)",
             f"       {PROG} check [FOLDER]  (which published results the code has moved past)",
             f"       {PROG} worker RUN_DIR [--storage URL]  (join a lab run's tasks)",
             f"       {PROG} publish RUN_DIR [--no-timing]  (its results and timing into "
             "benchmarks/results/lab/<name>/)", "",
             "experiments (the default run's wall time on 2 CPU cores):"]
    lines += [f"  {name:<{width}}  {exp.claim} [{run_time(name, exp)}]"
              for name, exp in found.items()]
    return "\n".join(lines)


def run_time(name: str, exp: LabExperiment) -> str:
    """The default run's wall time as ``lab publish`` recorded it (in a checkout), else the
    experiment's own estimate."""
    measured = measured_times(PUBLISHED / name)
    if not measured:
        return exp.duration
    return ", ".join(f"{shown} with --workers {w}" for w, shown in measured) + ", measured"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        if not argv:  # like every other command: what to type, on stderr, exit 2
            print(listing(experiments()), file=sys.stderr)
            return 2
        if argv[0] in ("-h", "--help", "list"):
            print(listing(experiments()))
            return 0
        name, rest = argv[0], argv[1:]
        if name == "worker":
            return worker_main(rest)
        if name == "publish":
            folders = [a for a in rest if a != "--no-timing"]
            if len(folders) != 1 or folders[0].startswith("-"):
                raise RunError("usage: lab publish RUN_DIR [--no-timing]")
            publish(Path(folders[0]), timing="--no-timing" not in rest)
            return 0
        if name == "check":
            if len(rest) > 1 or any(a.startswith("-") for a in rest):
                raise RunError("usage: lab check [FOLDER] (default: benchmarks/results)")
            return check_results(Path(rest[0]) if rest else ROOT / "benchmarks" / "results")
        if name not in registry.names("experiments"):
            raise RunError(f"unknown experiment {name!r}; choose from "
                           f"{', '.join(registry.names('experiments'))}")
        run_dir, md = run_experiment(registry.find("experiments", name), rest)
        print(md.rstrip())
        print(f"run: {run_dir}  (results.csv, results.md, figure.png)")
        return 0

    return guarded(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
