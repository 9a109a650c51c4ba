"""The shape of the code: dependencies point one way, and no module imports itself back.

envs imports nothing of ours; agents imports envs and runs; seqmodels imports runs only; runs
imports nothing of ours. Checked on the source of every module of every package and subpackage
(every ``import pucklab.x`` / ``from pucklab.x``, also those inside functions, which would
only hide a cycle: :func:`pucklab.runs.provenance.imports`, which also decides what code a
result's stamp covers), and no module is over ~300 lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pucklab.runs.provenance import imports

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"envs": set(), "runs": set(), "agents": {"envs", "runs"}, "seqmodels": {"runs"}}
MAX_LINES = 320  # "about 300"
#: Modules allowed to be longer, and why.
LONG: dict[str, str] = {}

def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["pucklab", *parts])


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in ALLOWED for p in sorted((ROOT / package).rglob("*.py"))
            if "runs" not in p.relative_to(ROOT / package).parts[:-1]}  # not ./runs/<run>/


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    files = [p for name, p in modules().items() if name.split(".")[1] == package]
    assert len(files) > 3, package
    for path in files:
        others = {m.split(".")[1] for m in imports(path)} - {package}
        assert others <= ALLOWED[package], f"{path.relative_to(ROOT)} imports {others}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of nodes, or None (depth-first, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_modules():
    mods = modules()
    graph = {name: imports(path) - {name} for name, path in mods.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_modules_are_small():
    big = {name: n for name, path in modules().items() if name not in LONG
           and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, big


def test_every_package_folder_is_installed():
    """pyproject's explicit package list names every folder with an ``__init__.py``: a folder
    left out is missing from a wheel (an editable install hides it)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {module_name(p) for package in ALLOWED for p in (ROOT / package).rglob("__init__.py")
             if "runs" not in p.relative_to(ROOT / package).parts[:-1]}
    assert found == listed
