"""``lab``: the course's claims as controlled experiments, one subcommand each.

    lab                                    list the experiments and the claim each one tests
    lab vanishing-gradients [--quick] [--seeds N] [--seed S] [--run-dir DIR]

An experiment lives next to what it studies (sequence experiments in ``pucklab.seqmodels.lab*``,
RL ones in ``pucklab.agents.lab``) and registers under the entry-point group ``pucklab.lab`` in
pyproject.toml, so this module -- the run plumbing -- needs to import neither half. Every
experiment gets the same flags and writes the same files into ``runs/lab-<name>__<time>/``:
``config.json``, ``results.csv`` (one row per measured condition), ``results.md`` (the claim,
the table and the conclusions) and ``figure.png``; the command prints the table and the
conclusions, which the experiment states from its own numbers.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pucklab.runs.cli import Parser, guarded
from pucklab.runs.device import DEVICES, resolve_device
from pucklab.runs.figures import pyplot, save_figure
from pucklab.runs.store import RunError, atomic_write, claim_run_dir, discard_unstarted, save_config

PROG = "lab"
GROUP = "pucklab.lab"


@dataclass
class LabOutcome:
    """What an experiment measured: table rows, conclusions and a figure."""

    columns: list[str]
    rows: list[dict[str, Any]]
    conclusions: list[str]  # sentences built from the numbers above
    draw: Callable[[Any], None]  # draws the figure onto a matplotlib Figure
    formats: dict[str, str] = field(default_factory=dict)  # column -> format spec for tables


@dataclass
class LabExperiment:
    """One ``lab`` subcommand: its claim, its own flags, and the function that runs it.

    ``run(ns, seeds, run_dir)`` gets the parsed flags (``ns.quick`` among them), the seeds to
    average over and the run folder for anything extra (e.g. training runs), and returns a
    :class:`LabOutcome`.
    """

    name: str
    claim: str
    run: Callable[[argparse.Namespace, list[int], Path], LabOutcome]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    default_seeds: int = 3
    uses_device: bool = False  # trains full runs: takes --device (cpu unless asked)
    duration: str = "about 15 minutes"  # of the default size on 2 CPU cores


def size(ns: argparse.Namespace, flag: str, quick: Any, full: Any) -> Any:
    """The value of size flag ``flag`` (steps, epochs, ...): as given, or the experiment's
    ``quick`` / ``full`` default. A given 0 stays 0, for the experiment's check to refuse."""
    value = getattr(ns, flag)
    if value is not None:
        return value
    return quick if ns.quick else full


def experiments() -> dict[str, LabExperiment]:
    """Every registered experiment by name (entry points of the group ``pucklab.lab``)."""
    found = {}
    for ep in entry_points(group=GROUP):
        exp = ep.load()
        found[exp.name] = exp
    return dict(sorted(found.items()))


def _cell(value: Any, spec: str | None) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "never" if value > 0 else "-inf"
        return format(value, spec or ".4g")
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[dict[str, Any]],
                   formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, ""), formats.get(c)) for c in columns)
                     + " |")
    return "\n".join(lines)


def write_outcome(run_dir: Path, exp: LabExperiment, outcome: LabOutcome, command: str) -> str:
    """results.csv, results.md and figure.png, each written atomically; returns the markdown."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, outcome.columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(outcome.rows)
    data = buf.getvalue().encode()
    atomic_write(run_dir / "results.csv", lambda f: f.write(data))
    md = (f"# lab {exp.name}\n\nClaim: {exp.claim}\n\nCommand: `{command}`\n\n"
          + markdown_table(outcome.columns, outcome.rows, outcome.formats) + "\n\n"
          + "\n".join(f"- {c}" for c in outcome.conclusions) + "\n")
    atomic_write(run_dir / "results.md", lambda f: f.write(md.encode()))
    fig = pyplot().figure(figsize=(11, 4.5))
    outcome.draw(fig)
    fig.tight_layout()
    save_figure(fig, run_dir / "figure.png")
    return md


def parser_for(exp: LabExperiment) -> Parser:
    p = Parser(prog=f"{PROG} {exp.name}", description=f"Claim: {exp.claim}")
    p.add_argument("--quick", action="store_true", help="a reduced version that finishes in "
                   "well under a minute (what the tests run)")
    p.add_argument("--seeds", type=int, default=None, help="how many seeds to average over "
                   f"(default: {exp.default_seeds}; 2 with --quick)")
    p.add_argument("--seed", type=int, default=0, help="the first seed; seeds are S, S+1, ... "
                   "(default: 0)")
    p.add_argument("--run-dir", help=f"where to write (default: runs/lab-{exp.name}__<time>)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (default: when stderr is a terminal)")
    if exp.uses_device:
        p.add_argument("--device", choices=DEVICES, default="cpu", help="where its runs train "
                       "(default: cpu, where the README's numbers were measured)")
    if exp.add_arguments is not None:
        exp.add_arguments(p)
    return p


def run_experiment(exp: LabExperiment, argv: list[str]) -> tuple[Path, str]:
    """Parse ``argv``, run, write the files; returns the run folder and the markdown."""
    ns = parser_for(exp).parse_args(argv)
    n = ns.seeds if ns.seeds is not None else (2 if ns.quick else exp.default_seeds)
    if n < 1:
        raise RunError(f"--seeds must be >= 1, got {n}")
    if exp.uses_device:
        resolve_device(ns.device)  # cuda without a GPU: one line, before a run folder exists
    seeds = list(range(ns.seed, ns.seed + n))
    run_dir = claim_run_dir(ns.run_dir, f"lab-{exp.name}", resumable=False)
    command = " ".join([PROG, exp.name, *argv])
    save_config(run_dir, {"lab": exp.name, "claim": exp.claim, "seeds": seeds,
                          "args": {k: v for k, v in vars(ns).items() if k != "run_dir"},
                          "command": command})
    try:
        outcome = exp.run(ns, seeds, run_dir)
    except RunError:
        discard_unstarted(run_dir)
        raise
    return run_dir, write_outcome(run_dir, exp, outcome, command)


def listing(found: dict[str, LabExperiment]) -> str:
    width = max(map(len, found), default=0)
    lines = [f"usage: {PROG} EXPERIMENT [--quick] [--seeds N] [--seed S] [--run-dir DIR] "
             "(lab EXPERIMENT -h for its flags)", "", "experiments (default size, 2 CPU cores):"]
    lines += [f"  {name:<{width}}  {exp.claim} [{exp.duration}]" for name, exp in found.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        found = experiments()
        if not argv or argv[0] in ("-h", "--help", "list"):
            print(listing(found))
            return 0
        name, rest = argv[0], argv[1:]
        if name not in found:
            raise RunError(f"unknown experiment {name!r}; choose from {', '.join(found)}")
        run_dir, md = run_experiment(found[name], rest)
        print(md.split("\n\n", 3)[-1].rstrip())  # the table and the conclusions
        print(f"run: {run_dir}  (results.csv, results.md, figure.png)")
        return 0

    return guarded(PROG, body)

if __name__ == "__main__":
    sys.exit(main())
