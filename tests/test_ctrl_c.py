"""Ctrl-C: while a command imports (one line, exit 130, the command never runs), and during a
run (taken at the end of the step, so that --resume logs the same rows as a run never stopped)."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_corpus
from pucklab.agents import cli as agent_cli
from pucklab.agents import reinforce
from pucklab.runs import launch
from pucklab.runs.store import load_checkpoint
from pucklab.seqmodels.charrnn import cli as char_cli
from pucklab.seqmodels.charrnn.data import CharTask
from pucklab.seqmodels.forecast import cli as forecast_cli
from pucklab.seqmodels.forecast.task import WindowTask


def test_ctrl_c_while_the_command_imports_is_one_line(monkeypatch, capsys):
    def interrupted_import(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(launch, "load_main", interrupted_import)
    assert launch.launch("train-agent") == 130
    assert capsys.readouterr().err == "train-agent: interrupted\n"


def test_an_import_that_swallows_ctrl_c_cannot_make_the_command_run(monkeypatch, capsys):
    def swallowing_import(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
        return lambda: pytest.fail("the command ran after Ctrl-C")

    monkeypatch.setattr(launch, "load_main", swallowing_import)
    assert launch.launch("char-rnn") == 130
    assert capsys.readouterr().err == "char-rnn: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("command", ["train-agent", "forecast", "char-rnn"])
def test_ctrl_c_at_start_of_the_real_script(tmp_path, command):
    """The installed script, interrupted while torch and the rest load: exit 130, one line."""
    args = {"train-agent": [], "forecast": ["--dataset", "sunspots"],
            "char-rnn": ["train", "--corpus", "shakespeare"]}[command]
    script = ("import sys\n"
              "from pucklab.runs import launch as L\n"
              "real = L.load_main\n"
              "def load(name):\n"
              "    print('importing', flush=True)\n"
              "    return real(name)\n"
              "L.load_main = load\n"
              f"sys.exit(L.launch({command!r}))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, *args, "--run-dir", str(tmp_path / "r")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "importing\n"  # torch and the rest load now
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err == f"{command}: interrupted\n"
    assert not (tmp_path / "r").exists()


def test_every_command_has_its_entry_point():
    for name in ("train-agent", "char-rnn", "forecast", "lab", "sweep", "pucklab-demo"):
        assert callable(launch.load_main(name))


# --- Ctrl-C, then --resume: the same curve as a run never interrupted ------------------------

def ctrl_c_during(cls_or_module, name: str, when, sig=signal.SIGINT) -> None:
    """Make ``cls_or_module.name`` press Ctrl-C (a real SIGINT, or ``sig``) after it ran, when
    ``when(args)``: the signal lands in the middle of a step."""
    real = getattr(cls_or_module, name)

    def pressed(*args, **kwargs):
        out = real(*args, **kwargs)  # random numbers drawn, hidden state carried on
        if when(args):
            signal.raise_signal(sig)
        return out

    return pressed


def table(run_dir: Path, skip=("wall_time_s",)) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in skip} for row in csv.DictReader(f)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_mid_rollout_then_resume_equals_an_uninterrupted_train_agent_run(
        tmp_path, monkeypatch, capsys, sig):
    argv = ["--env-kwargs", "obs_type=state", "--batch-sessions", "16", "--eval-sessions", "16",
            "--eval-every", "2", "--video-sessions", "0", "--seed", "3", "--total-steps", "4799",
            "--no-progress"]
    assert agent_cli.main([*argv, "--run-dir", str(tmp_path / "straight")]) == 0
    calls = iter(range(100))
    monkeypatch.setattr(reinforce, "collect", ctrl_c_during(reinforce, "collect",
                                                            lambda a: next(calls) == 2, sig))
    assert agent_cli.main([*argv, "--run-dir", str(tmp_path / "split")]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted after 3 updates" in err.splitlines()[-1], err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # given back after the run
    assert load_checkpoint(tmp_path / "split")["counters"]["updates"] == 3  # the step finished
    monkeypatch.undo()
    assert agent_cli.main(["--resume", str(tmp_path / "split")]) == 0
    assert table(tmp_path / "split") == table(tmp_path / "straight")


def test_ctrl_c_mid_step_then_resume_equals_an_uninterrupted_char_rnn_run(
        tmp_path, monkeypatch, capsys):
    text = make_corpus(tmp_path / "words.txt")
    argv = ["train", "--corpus", str(text), "--hidden", "16", "--embed", "8", "--seq-len", "16",
            "--batch-size", "4", "--max-steps", "20", "--eval-every", "4", "--log-every", "1",
            "--dropout", "0.2", "--no-progress"]
    assert char_cli.main([*argv, "--run-dir", str(tmp_path / "straight")]) == 0
    monkeypatch.setattr(CharTask, "train_loss", ctrl_c_during(CharTask, "train_loss",
                                                              lambda a: a[2] == 5))
    assert char_cli.main([*argv, "--run-dir", str(tmp_path / "split")]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted at step 6" in err.splitlines()[-1], err
    monkeypatch.undo()
    assert char_cli.main(["train", "--resume", str(tmp_path / "split")]) == 0
    assert table(tmp_path / "split") == table(tmp_path / "straight")


def test_ctrl_c_mid_step_then_resume_equals_an_uninterrupted_forecast_run(
        tmp_path, monkeypatch, capsys):
    argv = ["--dataset", "sunspots", "--hidden", "8", "--max-steps", "12", "--eval-every", "4",
            "--seed", "0", "1", "--baselines", "naive", "--no-progress"]
    assert forecast_cli.main([*argv, "--run-dir", str(tmp_path / "straight")]) == 0
    monkeypatch.setattr(WindowTask, "train_loss", ctrl_c_during(
        WindowTask, "train_loss", lambda a: a[0].seed == 1 and a[2] == 5))
    assert forecast_cli.main([*argv, "--run-dir", str(tmp_path / "split")]) == 130
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.undo()
    assert forecast_cli.main(["--resume", str(tmp_path / "split")]) == 0
    parts = sorted(p.relative_to(tmp_path / "straight")
                   for p in (tmp_path / "straight").glob("candidates/*/seed-*"))
    assert len(parts) >= 4  # two candidates at least, two seeds each
    for part in parts:
        assert table(tmp_path / "split" / part) == table(tmp_path / "straight" / part)
    assert (tmp_path / "split" / "backtest.csv").read_text() == \
        (tmp_path / "straight" / "backtest.csv").read_text()
