"""Where a published number came from, and whether the code that made it has changed since.

Every results file the lab and the benchmarks write carries a :class:`Stamp`: the commit, a
fingerprint of the code that computed the numbers, the command as a reader would type it, the
date, the machine and the seeds. ``results.csv`` holds it as leading ``# key: value`` lines
(``pandas.read_csv(comment="#")`` skips them; :func:`read_rows` too), ``results.md`` as a
"Provenance" list at its end.

The fingerprint covers the *source* (an experiment's module or a benchmark script) and every
pucklab module it imports, transitively, except the plumbing that moves numbers without
computing them (:data:`PLUMBING`). :func:`check` recomputes it for each committed result: a
result whose code changed since it was measured is *stale*, and the files that changed are named
(``lab check`` prints this; the docs pages show it), so an old number cannot pass for a current
one. A result computed from a data file in the repository (a benchmark that runs a sweep's
published ``best.toml``) names it among its ``inputs``, with a hash of its bytes: when that file
changes, the result is stale too.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from pucklab.runs.store import atomic_write, versions

#: The folder that holds envs/, agents/, seqmodels/ and runs/ (the repository, in a checkout).
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "seqmodels", "runs")

#: pucklab.runs modules that carry numbers without computing them: flags and files, run
#: folders, locks, figures, progress, the registry. A change there does not make a result stale
#: (the tests of exact resume and identical reruns guard them instead).
PLUMBING = frozenset(f"pucklab.runs.{m}" for m in (
    "cli", "config_files", "figures", "launch", "lifecycle", "metrics", "registry", "result",
    "settings", "stopping", "store", "provenance", "sweep", "sweep_report", "sweep_setup",
    "sweep_study", "search_space", "tables", "lab", "lab_tasks", "lab_results", "lab_publish"))

MARKDOWN_HEADING = "## Provenance"


@dataclass(frozen=True)
class Stamp:
    """What produced a results file."""

    source: str  # the experiment's module, or the benchmark script (benchmarks/x.py)
    code: str  # fingerprint of the source and what it imports (see module docstring)
    commit: str  # git HEAD when measured; "+ modified" when the code differed from it
    command: str  # as a reader retypes it: no machine-local paths
    date: str  # UTC, to the minute
    machine: str  # cores, architecture, Python, torch
    seeds: str  # "0 1 2 3 4", or "-" where seeds do not apply
    inputs: str = "-"  # "path=hash ..." of data files it read (paths from the root), or "-"

    def _items(self) -> list[tuple[str, str]]:
        """The fields to write: ``inputs`` only where there are some."""
        return [(k, v) for k, v in asdict(self).items() if k != "inputs" or v != "-"]

    def csv_header(self) -> str:
        return "".join(f"# {k}: {v}\n" for k, v in self._items())

    def markdown(self) -> str:
        return (f"{MARKDOWN_HEADING}\n\n" + "".join(f"- {k}: `{v}`\n" for k, v in self._items()))


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The file of a pucklab module (``pucklab.seqmodels.lab.word2vec``), or None."""
    parts = module.split(".")
    if parts[0] != "pucklab" or len(parts) < 2 or parts[1] not in PACKAGES:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _references(path: Path, root: Path = ROOT) -> tuple[set[str], set[Path]]:
    """What ``path`` imports, those inside functions too, read in one walk of its syntax tree:
    the pucklab modules (``from pucklab.a import b``: ``pucklab.a.b`` when that is a module,
    else ``pucklab.a``), and the scripts beside it that it imports by their bare name (a
    benchmark that reuses another's loaders and runner: ``from forecast_many import ...``)."""
    modules: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names if a.name.startswith("pucklab.")}
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module.startswith("pucklab."):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    modules.add(sub if module_file(sub, root) else node.module)
    scripts = {path.parent / f"{n}.py" for n in names
               if "." not in n and (path.parent / f"{n}.py").is_file()}
    return modules, scripts - {path}


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """The pucklab modules ``path`` imports, those inside functions too."""
    return _references(path, root)[0]


def code_files(source: str, root: Path = ROOT) -> list[Path]:
    """The source's file and every pucklab module it reaches through imports, minus
    :data:`PLUMBING`, and, for a script, the scripts beside it that it imports, sorted.
    ``source`` is a module name or a path relative to ``root``."""
    start = module_file(source, root) if source.startswith("pucklab.") else root / source
    if start is None or not start.is_file():
        raise FileNotFoundError(f"no source {source!r} under {root}")
    seen, todo = {start}, [start]
    while todo:
        path = todo.pop()
        modules, scripts = _references(path, root)
        found = {f for m in modules if m not in PLUMBING
                 and (f := module_file(m, root)) is not None}
        if path.relative_to(root).parts[0] not in PACKAGES:  # a script, not a pucklab module
            found |= scripts
        todo += sorted(found - seen)
        seen |= found
    return sorted(seen)


def fingerprint(files: Iterable[Path], root: Path = ROOT) -> str:
    """sha256 over each file's path (relative to ``root``) and bytes; 16 hex digits."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commit_of(files: Sequence[Path], root: Path = ROOT) -> str:
    """HEAD's commit, with "+ modified" when any of ``files`` differs from it."""
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return "unknown (not a git checkout)"
    changed = _git(root, "status", "--porcelain", "--", *map(str, files))
    return f"{head} + modified" if changed else head


def cpu_model() -> str:
    """The processor's name (``/proc/cpuinfo`` on Linux): two machines of the same size can
    differ by 2x in speed, so a timed result must say which it ran on."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    found = versions()
    return (f"{os.cpu_count()} CPU cores ({cpu_model()}), {platform.machine()}, "
            f"Python {found['python']}, torch {found['torch']}")


def _digest(path: Path) -> str:
    """A data file's hash: sha256 of its bytes, 16 hex digits."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def input_hashes(inputs: Sequence[Path], root: Path = ROOT) -> str:
    """``path=hash`` for each data file (path relative to ``root``), space-separated; "-" for
    none."""
    return " ".join(f"{Path(p).resolve().relative_to(root.resolve()).as_posix()}={_digest(p)}"
                    for p in sorted(inputs)) or "-"


def changed_inputs(inputs: str, root: Path = ROOT) -> list[str]:
    """Which of a stamp's ``inputs`` are gone or differ now, each as "path (input ...)"."""
    out = []
    for item in inputs.split() if inputs != "-" else []:
        name, _, digest = item.rpartition("=")
        path = root / name
        if not path.is_file():
            out.append(f"{name} (input gone)")
        elif _digest(path) != digest:
            out.append(f"{name} (input changed)")
    return out


def stamp(source: str, command: str, seeds: Sequence[int] = (), root: Path = ROOT,
          inputs: Sequence[Path] = ()) -> Stamp:
    """The stamp of a result computed now by ``source``'s code (a plug-in's code outside
    pucklab gets the fingerprint "unknown") from the data files ``inputs`` (inside ``root``)."""
    try:
        files = code_files(source, root)
    except FileNotFoundError:
        files = []
    return Stamp(source=source, code=fingerprint(files, root) if files else "unknown",
                 commit=commit_of(files, root),
                 command=command, date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 machine=machine(), seeds=" ".join(map(str, seeds)) or "-",
                 inputs=input_hashes(inputs, root))


def script_command() -> str:
    """How the running benchmark script was invoked, as a reader retypes it from the
    repository's root: ``python benchmarks/x.py --flag ...`` (no machine-local path)."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT).as_posix() if script.is_relative_to(ROOT) else script.name
    return " ".join(["python", shown, *map(portable_argument, sys.argv[1:])])


def portable_argument(arg: str) -> str:
    """``arg`` as a reader on another machine would type it: an absolute path inside the
    repository relative to its root, one outside it ``<path>`` (``--out=/x`` alike)."""
    flag, sep, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
    path = Path(value)
    if not path.is_absolute():
        return arg
    shown = path.resolve().relative_to(ROOT).as_posix() if path.resolve().is_relative_to(ROOT) \
        else "<path>"
    return f"{flag}{sep}{shown}"


def publish(path: Path, text: str, seeds: Sequence[int] = (),
            inputs: Sequence[Path] = ()) -> Stamp:
    """Write a benchmark's markdown report to ``path`` with its stamp at the end (atomically):
    the source is the running script, the command how it was invoked, ``inputs`` the data
    files in the repository it read."""
    script = Path(sys.argv[0]).resolve()
    source = script.relative_to(ROOT).as_posix() if script.is_relative_to(ROOT) else script.name
    made = stamp(source, script_command(), seeds, inputs=inputs)
    data = (text.rstrip() + "\n\n" + made.markdown()).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(data))
    return made


def read_stamp(path: Path) -> Stamp | None:
    """The stamp of a results.csv (leading ``# key: value`` lines) or results.md (its
    Provenance list); None when it has none."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".md":
        if MARKDOWN_HEADING not in lines:
            return None
        for line in lines[lines.index(MARKDOWN_HEADING) + 1:]:
            key, sep, value = line.removeprefix("- ").partition(": ")
            if line.startswith("- ") and sep:
                values[key] = value.strip("`")
    else:
        for line in lines:
            if not line.startswith("# "):
                break
            key, _, value = line[2:].partition(": ")
            values[key] = value
    names = [f.name for f in fields(Stamp) if f.name != "inputs"]  # older stamps lack it
    if not all(k in values for k in names):
        return None
    return Stamp(**{k: values[k] for k in names}, inputs=values.get("inputs", "-"))


def read_rows(path: Path) -> list[dict[str, str]]:
    """A results.csv's rows, past its stamp."""
    text = "".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                   if not line.startswith("# "))
    return list(csv.DictReader(io.StringIO(text)))


@dataclass(frozen=True)
class Status:
    """One results file held against the code as it is now."""

    path: Path
    stamp: Stamp | None
    changed: list[str]  # files changed since the stamp's commit (when git can tell)

    @property
    def state(self) -> str:
        if self.stamp is None:
            return "unstamped"
        return "stale" if self.changed else "current"


def status(path: Path, root: Path = ROOT) -> Status:
    """Whether the code behind ``path`` changed since it was measured. A results.csv that a
    reader must parse plainly (a sweep's) carries no stamp: its results.md beside it does."""
    found = read_stamp(path)
    beside = path.with_name("results.md")
    if found is None and path.name == "results.csv" and beside.is_file():
        found = read_stamp(beside)
    if found is None:
        return Status(path, None, [])
    inputs = changed_inputs(found.inputs, root)
    try:
        files = code_files(found.source, root)
    except FileNotFoundError:
        return Status(path, found, [f"{found.source} (gone)", *inputs])
    if fingerprint(files, root) == found.code:
        return Status(path, found, inputs)
    commit = found.commit.split(" ")[0]
    names = _git(root, "diff", "--name-only", commit, "--", *map(str, files))
    return Status(path, found, [*(names.split() if names else ["(code changed since measured)"]),
                                *inputs])
