"""The lab's runs as tasks on the sweep's engine: --workers gives the serial run's results,
a worker killed with SIGKILL has its task retried, and re-running the command continues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from lab_toy import TOY

from pucklab.runs import lab
from pucklab.runs.lab_publish import Timing, measured_times, publish, read_timings
from pucklab.runs.provenance import read_rows

TESTS = Path(__file__).resolve().parent


def tables(run_dir: Path) -> tuple[list[dict], list[dict]]:
    return read_rows(run_dir / "results.csv"), read_rows(run_dir / "verdicts.csv")


def test_two_workers_give_the_serial_results_csv(tmp_path):
    argv = ["perceptron", "--quick", "--no-progress", "--seeds", "3"]
    assert lab.main([*argv, "--run-dir", str(tmp_path / "serial")]) == 0
    assert lab.main([*argv, "--run-dir", str(tmp_path / "two"), "--workers", "2"]) == 0
    serial, two = tables(tmp_path / "serial"), tables(tmp_path / "two")
    assert serial == two and len(serial[0]) == 9 and len(serial[1]) == 9
    folders = [p for p in (tmp_path / "two" / "tasks").iterdir()
               if "accuracy" in json.loads((p / "result.json").read_text())]
    assert len(folders) == 27  # 3 learners x 3 gates x 3 seeds, each its own folder


def test_a_worker_killed_with_sigkill_has_its_task_retried(tmp_path):
    run_dir, log = tmp_path / "run", tmp_path / "log.txt"
    script = ("import sys; from lab_toy import TOY; from pucklab.runs.lab import run_experiment; "
              "run_experiment(TOY, sys.argv[1:])")
    argv = ["--seeds", "2", "--workers", "2", "--heartbeat", "1", "--pause", "2",
            "--log", str(log), "--run-dir", str(run_dir), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script, *argv], env=env)
    pid_file = run_dir / "tasks" / "b-seed0" / "pid"
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)  # mid-task: it sleeps 2 s
    assert proc.wait(timeout=240) == 0
    started = log.read_text().split("\n")
    assert "b-seed0 new" in started and "b-seed0 resumed" in started  # retried in its folder
    study = optuna.load_study(study_name="run", storage=f"sqlite:///{run_dir / 'study.db'}")
    assert any("failed_trial" in t.system_attrs for t in study.trials)  # Optuna's retry
    serial = tmp_path / "serial"
    assert lab.run_experiment(TOY, ["--seeds", "2", "--run-dir", str(serial)])
    assert tables(run_dir) == tables(serial)


def test_two_workers_never_take_the_same_task(tmp_path):
    """Many tasks of no time at all, so the workers pop the queue at the same moments: each task
    runs once (SQLite cannot lock the row, so a file lock serialises the pops)."""
    run_dir, log = tmp_path / "run", tmp_path / "log.txt"
    assert lab.run_experiment(TOY, ["--seeds", "30", "--workers", "2", "--log", str(log),
                                    "--run-dir", str(run_dir), "--no-progress"])
    started = log.read_text().split("\n")[:-1]
    assert len(started) == 60 and len(set(started)) == 60, sorted(started)


def test_a_failed_task_is_one_line_and_running_again_continues(tmp_path, capsys):
    run_dir, log, marker = tmp_path / "run", tmp_path / "log.txt", tmp_path / "fail"
    marker.touch()
    argv = ["--seeds", "2", "--log", str(log), "--fail", str(marker), "--run-dir", str(run_dir)]
    try:
        lab.run_experiment(TOY, argv)
        raise AssertionError("the marked task did not fail")
    except lab.RunError as err:
        assert str(err) == "task b-seed1 failed: marked to fail"
    assert not (run_dir / "results.csv").exists()
    marker.unlink()
    lab.run_experiment(TOY, argv)  # the same command: the three finished tasks are kept
    assert sorted(log.read_text().split("\n")[4:-1]) == ["b-seed1 resumed"]
    assert read_rows(run_dir / "verdicts.csv")[0]["verdict"] == "held"
    try:
        lab.run_experiment(TOY, [*argv[:-2], "--seeds", "3", "--run-dir", str(run_dir)])
        raise AssertionError("a run of other settings continued")
    except lab.RunError as err:
        assert "holds a lab run of other settings" in str(err)


def test_a_database_storage_holds_the_study_and_the_command_keeps_no_local_path(tmp_path):
    run_dir, db = tmp_path / "w2v-run", tmp_path / "shared.db"
    lab.run_experiment(TOY, ["--seeds", "2", "--storage", f"sqlite:///{db}",
                             "--run-dir", str(run_dir)])
    assert not (run_dir / "study.db").exists()
    study = optuna.load_study(study_name="w2v-run", storage=f"sqlite:///{db}")
    assert len([t for t in study.trials if "result" in t.user_attrs]) == 4
    provenance = (run_dir / "results.md").read_text().split("## Provenance")[1]
    assert "- command: `lab toy --seeds 2`" in provenance  # no database URL, no folder


def test_a_sigterm_to_the_command_stops_its_workers_too(tmp_path):
    """``kill <pid>`` of a lab run with --workers: the workers get the signal too, and none
    outlives the command."""
    run_dir = tmp_path / "run"
    script = ("import sys; from lab_toy import TOY; from pucklab.runs.lab import main, "
              "experiments; from pucklab.runs import registry; "
              "registry.find = lambda kind, name: TOY; "
              "from pucklab.runs.lab import run_experiment; run_experiment(TOY, sys.argv[1:])")
    argv = ["--seeds", "2", "--workers", "2", "--pause", "60", "--run-dir", str(run_dir),
            "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script, *argv], env=env)
    pids = [run_dir / "tasks" / f"b-seed{s}" / "pid" for s in (0, 1)]
    deadline = time.monotonic() + 120
    while not all(p.exists() and p.read_text() for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(p.read_text()) for p in pids]  # both asleep in a b task
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) != 0
    for pid in workers:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"worker {pid} outlived the command")


def test_publish_copies_results_and_records_each_worker_counts_time(tmp_path, capsys):
    """``lab publish``: results files copied, the timing of a whole run recorded once per worker
    count; a run that only continued (nothing left to run) publishes no time."""
    argv = ["perceptron", "--quick", "--no-progress", "--seeds", "2"]
    dest = tmp_path / "published"
    for workers in (1, 2):
        run_dir = tmp_path / f"w{workers}"
        assert lab.main([*argv, "--workers", str(workers), "--run-dir", str(run_dir)]) == 0
        timing = Timing.load(run_dir)
        assert timing is not None and timing.complete and timing.workers == workers
        assert timing.tasks == 18 and 0 < timing.task_s and 0 < timing.wall_s
        publish(run_dir, dest)
    assert {p.name for p in dest.iterdir()} == {"results.csv", "results.md", "verdicts.csv",
                                                "figure.png", "timings.csv"}
    assert (dest / "results.csv").read_bytes() == (tmp_path / "w2" / "results.csv").read_bytes()
    rows = read_timings(dest)
    assert [r["workers"] for r in rows] == ["2", "1"]
    assert rows[1]["command"] == f"lab {' '.join(argv[:-1])} 2 --workers 1"
    first = rows[1]["wall_s"]
    assert lab.main([*argv, "--run-dir", str(tmp_path / "w1")]) == 0  # continues: all done
    assert not Timing.load(tmp_path / "w1").complete
    publish(tmp_path / "w1", dest)
    assert "timing not recorded" in capsys.readouterr().out
    assert read_timings(dest)[1]["wall_s"] == first
    publish(tmp_path / "w2", dest, timing=False)  # lab publish --no-timing: a busy machine
    assert "timing not recorded (--no-timing)" in capsys.readouterr().out
    assert read_timings(dest) == rows
    # the docs and lab list show each time, marking one measured on other code than the results'
    assert [w for w, shown in measured_times(dest)] == [2, 1]
    assert not any("older code" in shown for _, shown in measured_times(dest))
    text = (dest / "timings.csv").read_text()
    (dest / "timings.csv").write_text(text.replace(rows[0]["code"], "0" * 16, 1))
    assert [("older code" in shown) for _, shown in measured_times(dest)] == [True, False]
