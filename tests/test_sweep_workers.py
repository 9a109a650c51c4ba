"""Sweeps across processes: a worker killed mid-trial loses nothing, on the embedded SQLite
storage and on a real PostgreSQL server (started here from Debian's ``postgresql`` package)."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pucklab.runs.sweep import main as sweep_main

SWEEP = [sys.executable, "-m", "pucklab.runs.sweep"]
# One trial of a few seconds that writes a checkpoint every epoch.
SLOW = ["forecast", "--fixed", "dataset=sunspots", "horizon=5", "epochs=20", "patience=0",
        "progress=false", "baselines=naive", "seeds=[0]", "difference=none", "lookback=15",
        "--param", "lr=log:1e-3:1e-2",
        "--sampler", "random", "--pruner", "none", "--heartbeat", "1"]


def results(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    """Until a file matching ``path`` (a glob pattern) exists."""
    end = time.monotonic() + seconds
    while not list(Path(path.anchor).glob(str(path.relative_to(path.anchor)))):
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else proc.returncode
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.1)


def kill_mid_trial_then_finish(run_dir: Path, extra: list[str]) -> list[dict[str, str]]:
    """Worker A starts a 2-trial sweep and is SIGKILLed once trial 0 has a checkpoint; worker B
    (``sweep worker``) then fails the stale trial, retries it from that checkpoint, and
    finishes the sweep."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    a = subprocess.Popen([*SWEEP, *SLOW, *extra, "--trials", "2", "--run-dir", str(run_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_for(run_dir / "trials" / "0" / "candidates" / "*" / "seed-0" / "checkpoints" /
                 "last.pt", a)
        time.sleep(0.5)  # a few epochs more
    finally:
        a.send_signal(signal.SIGKILL)
        a.wait()
    assert not (run_dir / "results.csv").exists()
    time.sleep(3.5)  # three heartbeats of silence: trial 0 is stale
    b = subprocess.run([*SWEEP, "worker", str(run_dir)], capture_output=True, text=True, env=env,
                       timeout=300)
    assert b.returncode == 0, b.stdout + b.stderr
    assert sweep_main(["show", str(run_dir)]) == 0
    return results(run_dir)


def check_retried(table: list[dict[str, str]]) -> None:
    by_trial = {r["trial"]: r for r in table}
    assert by_trial["0"]["state"] == "fail"  # the killed worker's trial
    done = [r for r in table if r["state"] == "complete"]
    assert len(done) == 2
    retry = next(r for r in done if r["run_dir"] == "trials/0")  # resumed in its own folder
    assert retry["trial"] != "0" and retry["lr"] == by_trial["0"]["lr"]


def test_a_killed_worker_loses_nothing_on_the_embedded_storage(tmp_path):
    table = kill_mid_trial_then_finish(tmp_path / "s", [])
    check_retried(table)


# -- PostgreSQL ----------------------------------------------------------------------------------
def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


def _runuser() -> str | None:
    """runuser lives in /usr/sbin, which a plain user's PATH (and CI's) may lack."""
    return shutil.which("runuser", path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A PostgreSQL server of our own in a temporary folder on a 127.0.0.1 port; its URL."""
    pg = _pg_bin()
    missing = ("Debian's postgresql package" if pg is None else
               "runuser" if os.geteuid() == 0 and _runuser() is None else
               "the [distributed] extra (psycopg)" if importlib.util.find_spec("psycopg") is None
               else None)
    if missing:
        if os.environ.get("CI") == "true":  # CI has them (.ci/run): the test must run there
            pytest.fail(f"CI lacks {missing}")
        pytest.skip(f"no {missing} here")
    # Not under pytest's tmp folder: as root, the server runs as the postgres user, who must
    # be able to reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="pucklab-pg-"))
    data = folder / "data"
    as_pg = [str(_runuser()), "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(folder, "postgres")
    port = _free_port()
    subprocess.run([*as_pg, str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "sweep"],
                   check=True, capture_output=True)
    subprocess.run([*as_pg, str(pg / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(data / "log"), "-o", f"-h 127.0.0.1 -p {port} -k {data}", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://sweep@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_share_a_postgresql_study_and_a_killed_one_loses_nothing(postgres,
                                                                              tmp_path):
    table = kill_mid_trial_then_finish(tmp_path / "pg", ["--storage", postgres,
                                                         "--study", "shared"])
    check_retried(table)
    assert not (tmp_path / "pg" / "study.db").exists()  # the study lived in PostgreSQL
