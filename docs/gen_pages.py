"""The lab's and the benchmarks' pages, generated from their results files at every build.

mkdocs-gen-files runs this script inside ``mkdocs build`` / ``mkdocs serve``; the pages it
writes exist only in the built site. Nothing measured is copied into ``docs/`` by hand: a page
shows the table, conclusions, figure and provenance of ``benchmarks/results/``, with the state
``lab check`` gives it (current, stale, unstamped) at its top. What is written by hand is the
setup and discussion of each experiment (``docs/lab/_notes/<name>.md``) and the lab's
introduction (``docs/lab/_intro.md``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mkdocs_gen_files

from pucklab.runs.lab import experiments
from pucklab.runs.lab_publish import measured_times
from pucklab.runs.provenance import MARKDOWN_HEADING, ROOT, Status, module_file, read_rows, status

DOCS = Path(__file__).resolve().parent
RESULTS = ROOT / "benchmarks" / "results"
VERDICT = re.compile(r"\b(did not hold|inconclusive|held)\b")


def write(path: str, text: str) -> None:
    with mkdocs_gen_files.open(path, "w") as f:
        f.write(text)


def copy(source: Path, path: str) -> None:
    with mkdocs_gen_files.open(path, "wb") as f:
        f.write(source.read_bytes())


def state_note(st: Status) -> str:
    """An admonition saying whether the numbers below are those of the code as it is now."""
    rel = st.path.relative_to(ROOT).as_posix()
    if st.state == "current":
        assert st.stamp is not None
        return (f'!!! success "Current"\n    Measured {st.stamp.date} at commit '
                f"`{st.stamp.commit[:10]}`; the code that computed it has not changed since.\n")
    if st.state == "stale":
        assert st.stamp is not None
        return (f'!!! warning "Stale"\n    Measured {st.stamp.date}; since then these files '
                f"changed: {', '.join(f'`{c}`' for c in st.changed)}. Run the command in the "
                "provenance again to refresh it.\n")
    return (f'!!! note "Unstamped"\n    `{rel}` was measured before results carried their '
            "provenance (commit, code, machine, seeds); it has not been re-run since.\n")


def demote(text: str, levels: int = 1) -> str:
    """Markdown headings one (or more) levels lower, so an included file nests in a page."""
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + levels) + " ", text, flags=re.M)


def split_results(md: str) -> tuple[str, str]:
    """A results.md's body (its title, claim and command lines dropped) and its provenance."""
    body, _, provenance = md.partition(MARKDOWN_HEADING)
    kept = [line for line in body.splitlines()
            if not re.match(r"^(# |Claim: |Command: )", line)]
    return "\n".join(kept).strip() + "\n", provenance.strip()


def provenance_list(provenance: str) -> str:
    return f"## Provenance\n\n{provenance}\n" if provenance else ""


def module_docstring(module: str) -> str:
    path = module_file(module)
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) if path else None
    paragraphs = [p for p in (doc or "").split("\n\n") if not p.startswith("Listed in")]
    text = re.sub(r":\w+:`(~?)([^`]+)`",  # Sphinx roles: ~ shows the last name only
                  lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`",
                  "\n\n".join(paragraphs))
    return re.sub(r"``([^`]+)``", r"`\1`", text).strip() + "\n"


def verdict_summary(folder: Path, body: str) -> str:
    """How the verdicts came out: from verdicts.csv (the rule on intervals), else counted from
    the generated sentences of an experiment that still counts seeds."""
    if (folder / "verdicts.csv").is_file():
        words = [row["verdict"] for row in read_rows(folder / "verdicts.csv")]
    else:
        found = [VERDICT.findall(line) for line in body.splitlines() if line.startswith("- ")]
        words = [w for line in found for w in line]
    counts = {w: words.count(w) for w in ("held", "did not hold", "inconclusive") if w in words}
    return ", ".join(f"{w} ×{n}" for w, n in counts.items()) or "-"


def run_time(folder: Path, fallback: str) -> str:
    """'2 workers 9.1 min, 1 worker 15.2 min' as ``lab publish`` recorded them in the
    experiment's ``timings.csv``, else the experiment's own estimate."""
    shown = [f"{w} worker{'s' if w > 1 else ''} {time}" for w, time in measured_times(folder)]
    return ", ".join(shown) if shown else f"{fallback} (estimated, not measured)"


def lab_pages() -> None:
    rows = []
    for name, exp in experiments().items():
        folder = RESULTS / "lab" / name
        md_path = folder / "results.md"
        if not md_path.is_file():
            continue
        st = status(folder / "results.csv")
        body, provenance = split_results(md_path.read_text(encoding="utf-8"))
        notes = DOCS / "lab" / "_notes" / f"{name}.md"
        extras = "".join(f"\n### `{p.name}`\n\n{demote(p.read_text(encoding='utf-8'), 3)}\n"
                         for p in sorted(folder.glob("*.md")) if p.name != "results.md")
        page = (f"# lab {name}\n\n> {exp.claim}\n\n{state_note(st)}\n"
                f"Default run: `lab {name}`, {exp.default_seeds} seeds; wall time on 2 CPU cores: "
                f"{run_time(folder, exp.duration)}. Files: "
                f"`benchmarks/results/lab/{name}/`.\n\n"
                f"## What it does\n\n{module_docstring(exp.source)}\n"
                f"## Results\n\n{body}\n![{name}](figure.png)\n\n"
                + (f"## Notes\n\n{notes.read_text(encoding='utf-8')}\n" if notes.is_file() else "")
                + (f"## More files\n{extras}\n" if extras else "")
                + provenance_list(provenance))
        write(f"lab/{name}/index.md", page)
        if (folder / "figure.png").is_file():
            copy(folder / "figure.png", f"lab/{name}/figure.png")
        seeds = st.stamp.seeds.split() if st.stamp else []
        rows.append(f"| [{name}]({name}/index.md) | {exp.claim} | {verdict_summary(folder, body)} | "
                    f"{len(seeds) or '-'} | {st.state} | "
                    f"{run_time(folder, exp.duration)} |")
    first, _, rest = (DOCS / "lab" / "_intro.md").read_text(encoding="utf-8").partition("\n\n")
    table = ("| experiment | claim | verdicts | seeds | state | default run, 2 CPU cores |\n"
             "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    write("lab/index.md", f"# Lab: the course's claims, measured\n\n{first}\n\n{table}\n"
                          f"## How the lab works\n\n{rest}")


def benchmark_pages() -> None:
    sources = sorted(p for p in RESULTS.glob("*.md")) + sorted(RESULTS.glob("sweeps/*/results.md"))
    rows = []
    for md_path in sources:
        key = (md_path.parent.name if md_path.name == "results.md" else md_path.stem)
        key = key.replace(".", "-")
        st = status(md_path)
        body, provenance = split_results(md_path.read_text(encoding="utf-8"))
        images = (sorted(md_path.parent.glob("*.png")) if md_path.name == "results.md" else
                  sorted(p for p in RESULTS.glob("*.png")
                         if p.stem == md_path.stem or p.stem.startswith(md_path.stem + "_")))
        shown = ""
        for image in images:
            copy(image, f"benchmarks/{key}/{image.name}")
            shown += f"\n![{image.stem}]({image.name})\n"
        for video in sorted(md_path.parent.glob(f"{md_path.stem}_*.mp4")):
            copy(video, f"benchmarks/{key}/{video.name}")
            shown += (f'\n<video controls width="640" src="{video.name}"></video>\n\n'
                      f"Video: [`{video.name}`]({video.name})\n")
        rel = md_path.relative_to(ROOT).as_posix()
        write(f"benchmarks/{key}/index.md",
              f"# {key}\n\n{state_note(st)}\nFile: `{rel}`.\n\n{demote(body)}{shown}\n"
              + provenance_list(provenance))
        date = st.stamp.date if st.stamp else "-"
        rows.append(f"| [{key}]({key}/index.md) | `{rel}` | {st.state} | {date} |")
    write("benchmarks/index.md",
          "# Benchmarks\n\nEvery table the `benchmarks/` scripts wrote, as they wrote it, with its "
          "state against the code as it is now (`lab check`).\n\n"
          "| benchmark | file | state | measured |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")


lab_pages()
benchmark_pages()
