"""How long a lab run took, and how its results reach ``benchmarks/results/lab`` (``lab publish``).

Every lab run writes ``timing.json`` beside its results: the wall time of the command, the
number of workers, how many tasks that invocation ran and their summed time (from the study's
trials). A run that continued an interrupted one says so (it ran fewer tasks than the plan has),
and its wall time is not a measurement of the default run.

``lab publish RUN_DIR [--no-timing]`` copies a finished run's files (``results.csv``, ``results.md``,
``verdicts.csv``, ``figure.png`` and any other ``*.md`` it wrote) into
``benchmarks/results/lab/<name>/``, and records its timing as one row of that folder's
``timings.csv`` (the latest measurement per worker count and machine). The docs' lab pages are
generated from these files, so no published number, run time included, is typed by hand. A run
whose code has changed since it was measured is refused: it would be published stale.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from pucklab.runs.provenance import ROOT, read_rows, read_stamp, status
from pucklab.runs.store import CONFIG_FILE, RunError, atomic_write, load_config

TIMING_FILE = "timing.json"
TIMINGS_FILE = "timings.csv"
RESULT_FILES = ("results.csv", "results.md", "verdicts.csv", "figure.png")
PUBLISHED = ROOT / "benchmarks" / "results" / "lab"


@dataclass(frozen=True)
class Timing:
    """One invocation of a lab experiment: how long it took and on what."""

    workers: int
    wall_s: float  # the command, from start to written results
    tasks: int  # in the plan
    tasks_run: int  # by this invocation (fewer when it continued an interrupted run)
    task_s: float  # the summed time of the tasks this invocation ran

    @property
    def complete(self) -> bool:
        """Whether this invocation ran every task: its wall time is the whole run's."""
        return self.tasks_run == self.tasks

    def save(self, run_dir: Path) -> None:
        data = json.dumps(asdict(self), indent=1).encode()
        atomic_write(run_dir / TIMING_FILE, lambda f: f.write(data))

    @classmethod
    def load(cls, run_dir: Path) -> Timing | None:
        path = run_dir / TIMING_FILE
        if not path.is_file():
            return None
        saved = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{f.name: saved[f.name] for f in fields(cls)})

    def line(self) -> str:
        workers = f"{self.workers} worker{'s' * (self.workers > 1)}"
        ran = "" if self.complete else f"; continued: {self.tasks_run} of {self.tasks} tasks ran"
        return (f"wall time {minutes(self.wall_s)} with {workers} ({self.tasks} tasks, "
                f"{minutes(self.task_s)} of task time{ran})")


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


#: Columns of a published ``timings.csv``: the timing, and the stamp of the run it timed.
TIMING_COLUMNS = ["workers", "wall_s", "tasks", "task_s", "code", "commit", "date", "machine",
                  "command"]


def read_timings(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/timings.csv`` (none when it does not exist)."""
    path = folder / TIMINGS_FILE
    return read_rows(path) if path.is_file() else []


def measured_times(folder: Path) -> list[tuple[int, str]]:
    """(workers, "19.0 min") for each worker count ``folder/timings.csv`` records, most workers
    first. A time measured on other code than the published results' is marked "(older
    code)": it timed a different computation, so it may not be the results' time."""
    found = read_stamp(folder / "results.csv") if (folder / "results.csv").is_file() else None
    latest = {int(row["workers"]): row for row in read_timings(folder)}
    return [(w, minutes(float(row["wall_s"]))
             + ("" if found is None or row["code"] == found.code else " (older code)"))
            for w, row in sorted(latest.items(), reverse=True)]


def publish(run_dir: Path, dest: Path | None = None, timing: bool = True) -> Path:
    """Copy a finished lab run's results into ``dest`` (default: ``benchmarks/results/lab/<name>``)
    and record its timing there (unless ``timing`` is False: the machine was busy with other
    work, so the wall time measures that too); returns ``dest``."""
    config = load_config(run_dir) if (run_dir / CONFIG_FILE).is_file() else None
    if not isinstance(config, dict) or config.get("command") != "lab":
        raise RunError(f"{run_dir} holds no lab run")
    if not (run_dir / "results.csv").is_file():
        raise RunError(f"{run_dir} has not finished (no results.csv); run its command again "
                       "with --run-dir to continue it")
    st = status(run_dir / "results.csv")
    if st.state != "current":
        raise RunError(f"{run_dir}'s code changed since it ran ({', '.join(st.changed)}); "
                       "run the experiment again")
    name = config["settings"]["lab"]
    dest = dest or PUBLISHED / name
    dest.mkdir(parents=True, exist_ok=True)
    wrote = [p for p in run_dir.glob("*.md") if p.name != "results.md"]
    for path in [run_dir / f for f in RESULT_FILES] + wrote:
        if path.is_file():
            shutil.copyfile(path, dest / path.name)
    took = Timing.load(run_dir)
    if took is None or not took.complete or not timing:
        why = ("--no-timing" if not timing else took.line() if took else f"no {TIMING_FILE}")
        print(f"{name}: results published; timing not recorded ({why})")
        return dest
    made = read_stamp(run_dir / "results.csv")
    assert made is not None  # status() said current
    row = {"workers": took.workers, "wall_s": f"{took.wall_s:.1f}", "tasks": took.tasks,
           "task_s": f"{took.task_s:.1f}", "code": made.code, "commit": made.commit,
           "date": made.date, "machine": made.machine, "command": made.command}
    rows = [r for r in read_timings(dest)
            if (int(r["workers"]), r["machine"]) != (took.workers, made.machine)]
    rows = sorted([*rows, {k: str(v) for k, v in row.items()}],
                  key=lambda r: (r["machine"], -int(r["workers"])))
    text = io.StringIO()
    writer = csv.DictWriter(text, TIMING_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = text.getvalue().encode()
    atomic_write(dest / TIMINGS_FILE, lambda f: f.write(data))
    print(f"{name}: results published; {took.line()}")
    return dest
