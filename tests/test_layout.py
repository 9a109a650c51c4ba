"""The package boundaries of the design: dependencies point one way.

envs imports nothing of ours; agents imports envs and runs; seqmodels imports runs only; runs
imports nothing of ours. Checked on the source (every ``import pucklab.x`` / ``from pucklab.x``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"envs": set(), "runs": set(), "agents": {"envs", "runs"}, "seqmodels": {"runs"}}


def pucklab_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "pucklab" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    files = sorted((ROOT / package).glob("*.py"))
    assert files, package
    for path in files:
        others = pucklab_imports(path) - {package}
        assert others <= ALLOWED[package], f"{path.relative_to(ROOT)} imports {others}"
