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


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)\n(.*?)\n```", readme, flags=re.S)
    test_commands = [c for c in commands if "pytest" in c]
    assert test_commands, "README has no test command"
    assert test_commands[0].strip() in (ROOT / ".ci" / "run").read_text()


def test_readme_python_examples_run(tmp_path, monkeypatch):
    """Every ```python block of the README runs as written (gymnasium and torch examples, and
    ``run(settings)`` of each command, whose runs land in ./runs of a temporary folder)."""
    monkeypatch.chdir(tmp_path)
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)\n```", readme, flags=re.S)
    assert any("pucklab.seqmodels" in b for b in blocks), "README lost its cells example"
    assert sum("result = run(" in b for b in blocks) == 3, "README lost a run() example"
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)
        if "result" in namespace:
            assert isinstance(namespace["result"], RunResult)
            assert namespace["result"].run_dir.resolve().is_relative_to(tmp_path.resolve())
