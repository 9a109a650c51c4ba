"""Docstring examples run; the README's test command is the one CI runs."""

import doctest
import re
from pathlib import Path

import pytest

import pucklab.envs.air_hockey
import pucklab.envs.pong
import pucklab.envs.wrappers
from pucklab.runs.result import RunResult

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", [pucklab.envs.air_hockey, pucklab.envs.pong,
                                    pucklab.envs.wrappers])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_blocks(language: str) -> list[tuple[Path, str]]:
    found = []
    for page in PAGES:
        for block in re.findall(rf"```{language}\n(.*?)\n```", page.read_text(), flags=re.S):
            found.append((page, block))
    return found


def test_ci_runs_the_test_command_of_the_readme_and_the_docs():
    ci = (ROOT / ".ci" / "run").read_text()
    for page in (ROOT / "README.md", ROOT / "docs" / "getting-started.md"):
        commands = re.findall(r"```(?:bash|sh)\n(.*?)\n```", page.read_text(), flags=re.S)
        test_commands = [c for c in commands if "pytest" in c]
        assert test_commands, f"{page.name} has no test command"
        assert test_commands[0].strip() in ci, page.name


def test_readme_stays_short_and_holds_no_result_table():
    """Details live on the docs site; measured tables live in benchmarks/results/ only."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "steps/s" not in readme and "MASE |" not in readme and "to 90%" not in readme


def test_python_examples_of_the_readme_and_the_docs_run(tmp_path, monkeypatch):
    """Every ```python block of the README and of the docs pages runs as written (gymnasium and
    torch examples, and ``run(settings)`` of each command, whose runs land in ./runs of a
    temporary folder)."""
    monkeypatch.chdir(tmp_path)
    blocks = code_blocks("python")
    assert any("pucklab.seqmodels" in b for page, b in blocks if page.name == "README.md")
    assert sum("result = run(" in b for _, b in blocks) == 3, "the docs lost a run() example"
    for page, block in blocks:
        namespace: dict = {}
        exec(compile(block, str(page.relative_to(ROOT)), "exec"), namespace)
        if "result" in namespace:
            assert isinstance(namespace["result"], RunResult)
            assert namespace["result"].run_dir.resolve().is_relative_to(tmp_path.resolve())
