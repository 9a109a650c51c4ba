"""What a lab experiment measured, and the files that publish it.

:class:`LabOutcome` is what an experiment returns; :func:`write_outcome` turns it into
``results.csv``, ``results.md``, ``verdicts.csv`` (each stamped with its provenance) and
``figure.png``; :func:`check_results` is ``lab check``: every published result held against the
code as it is now.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pucklab.runs.figures import pyplot, save_figure
from pucklab.runs.provenance import Stamp, status
from pucklab.runs.stats import Claim
from pucklab.runs.store import RunError, atomic_write
from pucklab.runs.tables import csv_bytes, markdown_table


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


def claims_table(claims: Sequence[Claim]) -> str:
    rows = [{"claim": c.text, "difference [95% interval]": c.diff.format(),
             "N": c.diff.n, "verdict": str(c.verdict)} for c in claims]
    return markdown_table(["claim", "difference [95% interval]", "N", "verdict"], rows)


def results_markdown(outcome: LabOutcome) -> str:
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


def write_outcome(run_dir: Path, name: str, claim: str, outcome: LabOutcome, made: Stamp) -> None:
    """results.csv, results.md and verdicts.csv (each with ``made``'s stamp) and figure.png of
    experiment ``name``, each written atomically."""
    files = {"results.csv": csv_bytes(made.csv_header(), outcome.columns, outcome.rows)}
    if outcome.claims:
        files["verdicts.csv"] = csv_bytes(made.csv_header(), ["claim", "difference", "n", "verdict"], [
            {"claim": c.text, "difference": c.diff, "n": c.diff.n, "verdict": str(c.verdict)}
            for c in outcome.claims])
    files["results.md"] = (f"# lab {name}\n\nClaim: {claim}\n\n"
                           + results_markdown(outcome) + "\n" + made.markdown()).encode()
    for name, data in files.items():
        atomic_write(run_dir / name, functools.partial(_write_bytes, data))
    fig = pyplot().figure(figsize=(11, 4.5))
    outcome.draw(fig)
    fig.tight_layout()
    save_figure(fig, run_dir / "figure.png")


def check_results(folder: Path) -> int:
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
