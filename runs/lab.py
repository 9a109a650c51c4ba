"""``lab``: the course's claims as controlled experiments, one subcommand each.

    lab                                    list the experiments and the claim each one tests
    lab vanishing-gradients [--quick] [--seeds N] [--seed S] [--run-dir DIR]
    lab check [FOLDER]                     which published results the code has moved past

An experiment lives next to what it studies (sequence experiments in ``pucklab.seqmodels.lab``,
RL ones in ``pucklab.agents.lab``); :mod:`pucklab.runs.registry` lists them by name, so this
module -- the run plumbing -- imports neither half. Every
experiment gets the same flags and writes the same files into ``runs/lab-<name>__<time>/``:
``config.json``, ``results.csv`` (one row per measured condition), ``results.md`` (the claim,
the table and the conclusions) and ``figure.png``; the command prints the table and the
conclusions, which the experiment states from its own numbers. Both results files carry a
:class:`~pucklab.runs.provenance.Stamp` (commit, code fingerprint, command, date, machine,
seeds); ``lab check`` holds every stamped result under ``benchmarks/results`` against the code.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from pucklab.runs import registry
from pucklab.runs.cli import guarded, parse_settings
from pucklab.runs.device import DEVICES, resolve_device
from pucklab.runs.figures import pyplot, save_figure
from pucklab.runs.lifecycle import open_run
from pucklab.runs.provenance import ROOT, Stamp, stamp, status
from pucklab.runs.settings import MAX_SEED, Settings, field_info, names, seed_setting, setting, walk
from pucklab.runs.stats import Claim
from pucklab.runs.store import RunError, atomic_write
from pucklab.runs.tables import csv_bytes, markdown_table

PROG = "lab"


@dataclass
class LabOutcome:
    """What an experiment measured: table rows, conclusions and a figure.

    A cell may be an :class:`~pucklab.runs.stats.Interval` (a mean over seeds with its 95 %
    interval): tables show ``mean [low, high]``, results.csv its mean, low and high as three
    columns (``x``, ``x_low``, ``x_high``). ``claims`` are the comparisons the claim makes, each
    decided by the one rule (:mod:`pucklab.runs.stats`); ``flags`` are the sanity checks'
    warnings about numbers that cannot be right.
    """

    columns: list[str]
    rows: list[dict[str, Any]]
    conclusions: list[str]  # sentences built from the numbers above
    draw: Callable[[Any], None]  # draws the figure onto a matplotlib Figure
    formats: dict[str, str] = field(default_factory=dict)  # column -> format spec for tables
    claims: list[Claim] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


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
    run_dir: str | None = setting(None, "where to write (default: runs/lab-<name>__<time>)")
    progress: bool | None = setting(None, "progress bars (default: when stderr is a terminal)")

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


def seed_verdict(wins: int, runs: int) -> str:
    """A claim's verdict from how many of ``runs`` seeds showed it: held when every seed did,
    did not hold when none did, inconclusive between."""
    if wins == runs:
        return f"held ({wins} of {runs} seeds)."
    if wins == 0:
        return f"did not hold here (0 of {runs} seeds)."
    return f"inconclusive ({wins} of {runs} seeds)."


L = TypeVar("L", bound=LabSettings)


@dataclass
class LabExperiment:
    """One ``lab`` subcommand: its claim, its settings, and the function that runs it.

    ``run(settings, seeds, run_dir)`` gets the resolved settings (``settings.quick`` among
    them), the seeds to average over and the run folder for anything extra (e.g. training
    runs), and returns a :class:`LabOutcome`.
    """

    name: str
    claim: str
    run: Callable[[Any, list[int], Path], LabOutcome]
    settings: type[LabSettings]
    duration: str = "about 15 minutes"  # of the default size on 2 CPU cores

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


def claims_table(claims: Sequence[Claim]) -> str:
    rows = [{"claim": c.text, "difference [95% interval]": c.diff.format(),
             "N": c.diff.n, "verdict": str(c.verdict)} for c in claims]
    return markdown_table(["claim", "difference [95% interval]", "N", "verdict"], rows)


def results_markdown(exp: LabExperiment, outcome: LabOutcome) -> str:
    """The table, the verdicts, the conclusions and any sanity warnings, as the command
    prints them."""
    parts = [markdown_table(outcome.columns, outcome.rows, outcome.formats)]
    if outcome.claims:
        parts.append("Verdicts (held: the interval of the difference excludes 0 in the claimed "
                     "direction; did not hold: it excludes 0 the other way; else inconclusive):"
                     "\n\n" + claims_table(outcome.claims))
    parts.append("\n".join(f"- {c}" for c in outcome.conclusions))
    if outcome.flags:
        parts.append("Sanity checks failed:\n\n" + "\n".join(f"- ⚠ {f}" for f in outcome.flags))
    return "\n\n".join(parts) + "\n"


def _write_bytes(data: bytes, f: IO[bytes]) -> None:
    f.write(data)


def write_outcome(run_dir: Path, exp: LabExperiment, outcome: LabOutcome, made: Stamp) -> None:
    """results.csv, results.md and verdicts.csv (each with ``made``'s stamp) and figure.png,
    each written atomically."""
    files = {"results.csv": csv_bytes(made.csv_header(), outcome.columns, outcome.rows)}
    if outcome.claims:
        files["verdicts.csv"] = csv_bytes(made.csv_header(), ["claim", "difference", "n", "verdict"], [
            {"claim": c.text, "difference": c.diff, "n": c.diff.n, "verdict": str(c.verdict)}
            for c in outcome.claims])
    files["results.md"] = (f"# lab {exp.name}\n\nClaim: {exp.claim}\n\n"
                           + results_markdown(exp, outcome) + "\n" + made.markdown()).encode()
    for name, data in files.items():
        atomic_write(run_dir / name, functools.partial(_write_bytes, data))
    fig = pyplot().figure(figsize=(11, 4.5))
    outcome.draw(fig)
    fig.tight_layout()
    save_figure(fig, run_dir / "figure.png")


def run_experiment(exp: LabExperiment, argv: list[str]) -> tuple[Path, str]:
    """Parse ``argv``, run, write the files; returns the run folder and the table with the
    conclusions."""
    s = parse_settings(exp.settings, argv, f"{PROG} {exp.name}", f"Claim: {exp.claim}")
    if isinstance(s, TorchLabSettings):
        resolve_device(s.device)  # cuda without a GPU: one line, before a run folder exists
    command = " ".join([PROG, exp.name, *_without_run_dir(argv)])
    settings = {"lab": exp.name, "claim": exp.claim, "seeds": s.seed_list(),
                "args": {k: v for k, v in s.to_dict().items() if k != "run_dir"}}
    made = stamp(exp.run.__module__, command, s.seed_list())
    with open_run(PROG, settings, s.run_dir, name=f"lab-{exp.name}", resumable=False,
                  facts={"command_line": command}) as opened:
        outcome = exp.run(s, s.seed_list(), opened.dir)
        write_outcome(opened.dir, exp, outcome, made)
        return opened.dir, results_markdown(exp, outcome)


def check(folder: Path) -> int:
    """``lab check``: every results file under ``folder`` with its state (current, stale:
    the files changed since it was measured, unstamped); 1 when any is not current."""
    found = sorted(folder.rglob("results.csv")) + sorted(
        p for p in folder.glob("*.md") if p.name != "README.md")
    if not found:
        raise RunError(f"no results files under {folder}")
    worst = 0
    for path in found:
        st = status(path)
        when = f"{st.stamp.date}, {st.stamp.commit[:10]}" if st.stamp else "no provenance"
        detail = f": {', '.join(st.changed)}" if st.changed else ""
        print(f"{st.state:<9} {path.relative_to(folder).as_posix()}  ({when}){detail}")
        worst = max(worst, st.state != "current")
    return worst


def _without_run_dir(argv: list[str]) -> list[str]:
    """The command line as a reader would retype it: without ``--run-dir``, a machine's path."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--run-dir":
            skip = True
        elif not arg.startswith("--run-dir="):
            out.append(arg)
    return out


def listing(found: dict[str, LabExperiment]) -> str:
    width = max(map(len, found), default=0)
    lines = [f"usage: {PROG} EXPERIMENT [--quick] [--seeds N] [--seed S] [--run-dir DIR] "
             "(lab EXPERIMENT -h for its flags)",
             f"       {PROG} check [FOLDER]  (which published results the code has moved past)", "",
             "experiments (default size, 2 CPU cores):"]
    lines += [f"  {name:<{width}}  {exp.claim} [{exp.duration}]" for name, exp in found.items()]
    return "\n".join(lines)


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
        if name == "check":
            if len(rest) > 1 or any(a.startswith("-") for a in rest):
                raise RunError("usage: lab check [FOLDER] (default: benchmarks/results)")
            return check(Path(rest[0]) if rest else ROOT / "benchmarks" / "results")
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
