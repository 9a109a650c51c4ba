"""Results files say what made them, and a result whose code changed since is flagged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pucklab.runs import lab
from pucklab.runs.provenance import (
    ROOT,
    Stamp,
    code_files,
    read_rows,
    read_stamp,
    stamp,
    status,
)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A tiny checkout: an experiment importing a model, plus a plumbing module."""
    files = {
        "seqmodels/__init__.py": "",
        "seqmodels/lab/__init__.py": "",
        "seqmodels/lab/exp.py": "from pucklab.seqmodels import model\nfrom pucklab.runs import cli\n",
        "seqmodels/model.py": "import math\n\ndef f():\n    from pucklab.runs.stats import x\n",
        "seqmodels/unused.py": "",
        "runs/__init__.py": "",
        "runs/cli.py": "A = 1\n",
        "runs/stats.py": "x = 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "start")
    return tmp_path


def write_results(folder: Path, made: Stamp) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.csv").write_text(made.csv_header() + "model,score\nsmall,0.5\n")
    (folder / "results.md").write_text("# lab exp\n\n| a |\n|---|\n\n" + made.markdown())
    return folder


def test_the_code_is_the_source_and_what_it_imports_except_plumbing(project: Path):
    found = {p.relative_to(project).as_posix()
             for p in code_files("pucklab.seqmodels.lab.exp", project)}
    # imports inside functions count; the plumbing (cli) and unused modules do not
    assert found == {"seqmodels/lab/exp.py", "seqmodels/model.py", "runs/stats.py"}


def test_a_script_reusing_a_script_beside_it_covers_that_script_and_its_imports(project: Path):
    bench = project / "benchmarks"
    bench.mkdir()
    (bench / "many.py").write_text("import json\nfrom pucklab.seqmodels import model\n")
    (bench / "unseen.py").write_text("import sys\n\ndef main():\n    from many import x\n")
    (bench / "other.py").write_text("")  # beside it, not imported
    found = {p.relative_to(project).as_posix() for p in code_files("benchmarks/unseen.py", project)}
    # the sibling script counts, and what it imports; json and sys are no files of ours
    assert found == {"benchmarks/unseen.py", "benchmarks/many.py", "seqmodels/model.py",
                     "runs/stats.py"}


def test_a_result_goes_stale_when_its_code_changes_and_says_which_file(project: Path):
    made = stamp("pucklab.seqmodels.lab.exp", "lab exp --seeds 2", [0, 1], root=project)
    assert len(made.commit) == 40 and made.seeds == "0 1" and "CPU cores" in made.machine
    out = write_results(project / "results" / "exp", made)
    for name in ("results.csv", "results.md"):
        assert read_stamp(out / name) == made
        assert status(out / name, project).state == "current"
    assert read_rows(out / "results.csv") == [{"model": "small", "score": "0.5"}]

    (project / "runs" / "cli.py").write_text("A = 2\n")  # plumbing: still current
    assert status(out / "results.csv", project).state == "current"
    (project / "seqmodels" / "model.py").write_text("import math\n\nB = 2\n")
    stale = status(out / "results.csv", project)
    assert stale.state == "stale" and stale.changed == ["seqmodels/model.py"]


def test_a_result_measured_on_modified_code_says_so(project: Path):
    (project / "runs" / "stats.py").write_text("x = 2\n")
    assert stamp("pucklab.seqmodels.lab.exp", "lab exp", root=project).commit.endswith(" + modified")
    assert stamp("pucklab.seqmodels.lab.exp", "lab exp", root=project).seeds == "-"


def test_lab_check_lists_states_and_fails_on_stale_or_unstamped(tmp_path, capsys):
    made = stamp("pucklab.runs.stats", "lab exp", [0])
    write_results(tmp_path / "current", made)
    assert lab.main(["check", str(tmp_path)]) == 0
    write_results(tmp_path / "old", Stamp(**{**made.__dict__, "code": "0" * 16}))
    (tmp_path / "old" / "results.md").unlink()
    (tmp_path / "bench.md").write_text("| measure | ours |\n")  # a benchmark table, unstamped
    assert lab.main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "current   current/results.csv" in out
    assert "stale     old/results.csv" in out
    assert "unstamped bench.md  (no provenance)" in out
    assert lab.main(["check", str(tmp_path / "nothing-here")]) == 2


def test_a_benchmark_command_shows_no_machine_local_path(monkeypatch, tmp_path):
    from pucklab.runs.provenance import script_command

    inside = ROOT / "benchmarks" / "results"
    monkeypatch.setattr("sys.argv", [str(ROOT / "benchmarks" / "rl_race.py"), "--out",
                                     str(tmp_path), f"--report={inside}", "--seeds", "10"])
    assert script_command() == ("python benchmarks/rl_race.py --out <path> "
                                "--report=benchmarks/results --seeds 10")


def test_a_benchmark_that_runs_a_command_in_a_subprocess_fingerprints_that_command():
    """Every benchmark script that starts a subprocess imports the module it runs, so the code
    behind its published numbers is in its fingerprint (else a changed forecaster would leave
    forecast_many's table marked current)."""
    scripts = [p for p in sorted((ROOT / "benchmarks").glob("*.py"))
               if "subprocess" in p.read_text(encoding="utf-8")]
    assert scripts, "expected at least forecast_many.py"
    for script in scripts:
        covered = {p.relative_to(ROOT).as_posix() for p in code_files(str(script.relative_to(ROOT)))}
        assert any(f.startswith(("seqmodels/", "agents/", "envs/")) and f.endswith("runner.py")
                   for f in covered), f"{script.name} does not fingerprint the command it runs"


def test_a_result_goes_stale_when_a_data_file_it_read_changes(project: Path):
    data = project / "results" / "best.toml"
    data.parent.mkdir(parents=True)
    data.write_text("lr = 0.01\n")
    made = stamp("pucklab.seqmodels.lab.exp", "python b.py", root=project, inputs=[data])
    assert made.inputs.startswith("results/best.toml=") and len(made.inputs) == 18 + 16
    out = write_results(project / "results" / "exp", made)
    assert read_stamp(out / "results.md") == made
    assert status(out / "results.md", project).state == "current"
    data.write_text("lr = 0.02\n")  # a re-run sweep wrote a new best.toml
    stale = status(out / "results.md", project)
    assert stale.state == "stale" and stale.changed == ["results/best.toml (input changed)"]
    data.unlink()
    assert status(out / "results.md", project).changed == ["results/best.toml (input gone)"]


def test_a_stamp_without_inputs_reads_as_before(project: Path):
    made = stamp("pucklab.seqmodels.lab.exp", "lab exp", root=project)
    assert made.inputs == "-" and "inputs" not in made.markdown() + made.csv_header()
    out = write_results(project / "results" / "exp", made)
    assert read_stamp(out / "results.csv") == made
