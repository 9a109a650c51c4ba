"""What goes wrong before and around a run: Ctrl-C while the command imports, envs the agent
cannot play, damaged saved settings. Each is one line on stderr and an exit code, never a
traceback, and no run folder is left behind or damaged."""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from helpers import make_corpus
from pucklab.agents import cli as agent_cli
from pucklab.agents import reinforce
from pucklab.agents.env_setup import DEFAULT_ROLLOUT_STEPS, make_env
from pucklab.runs import launch, load_checkpoint
from pucklab.runs.lab import main as lab_main
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


# --- envs the agent could not play before: flattened observations, one line for the rest ----

class SequenceObservations(gym.Env):
    """Observations with no fixed-size vector form."""

    observation_space = spaces.Sequence(spaces.Discrete(3))
    action_space = spaces.Discrete(2)


class NeedsAMissingPackage(gym.Env):
    def __init__(self) -> None:
        raise gym.error.DependencyNotInstalled("box9000 is not installed: pip install box9000")


gym.register("pucklab-test/SequenceObs-v0", entry_point=SequenceObservations)
gym.register("pucklab-test/Missing-v0", entry_point=NeedsAMissingPackage)


def one_line_exit_2(argv: list[str], capsys, expect: str) -> None:
    code = agent_cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert expect in err, err


@pytest.mark.parametrize(("env_id", "width"), [("FrozenLake-v1", 16), ("Blackjack-v1", 32 + 11 + 2)])
def test_discrete_and_tuple_observations_are_one_hot(tmp_path, env_id, width):
    run_dir = tmp_path / "run"
    code = agent_cli.main(["--env", env_id, "--batch-sessions", "16", "--total-steps", "3000",
                           "--eval-sessions", "16", "--video-sessions", "1", "--run-dir", str(run_dir)])
    assert code == 0
    state = load_checkpoint(run_dir, command="train-agent")
    assert state["policy_args"]["obs_shape"] == [width]
    assert agent_cli.main(["evaluate", str(run_dir), "--sessions", "8"]) == 0
    assert (run_dir / "videos" / "final.mp4").stat().st_size > 0


def test_envs_without_a_time_limit_get_one():
    setup = make_env("CliffWalking-v1", 2)
    try:
        obs, _ = setup.env.reset(seed=0)
        assert setup.obs_shape == (48,) and obs.sum() == 2  # one-hot cells
        for _ in range(DEFAULT_ROLLOUT_STEPS):
            _, _, terminated, truncated, _ = setup.env.step(np.zeros(2, dtype=np.int64))  # up
        assert (terminated | truncated).all()
    finally:
        setup.close()


def test_unplayable_envs_are_one_line(tmp_path, capsys):
    one_line_exit_2(["--env", "pucklab-test/SequenceObs-v0", "--run-dir", str(tmp_path / "t")], capsys,
                    "no fixed-size vector form")
    one_line_exit_2(["--env", "pucklab-test/Missing-v0", "--run-dir", str(tmp_path / "m")], capsys,
                    "needs a package that is not installed: box9000")
    assert not (tmp_path / "t").exists() and not (tmp_path / "m").exists()


# --- damaged saved settings: every command reads config.json through the same checks ---------

def damaged(run_dir: Path, tmp_path: Path, name: str, edit) -> Path:
    """A copy of ``run_dir`` whose config.json went through ``edit(data) -> data``."""
    copy = tmp_path / name
    shutil.copytree(run_dir, copy)
    path = copy / "config.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return copy


def checkpoints(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*.pt"))}


def refused(main, argv: list[str], capsys, expect: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert expect in err, err


def setting(name, value):
    def edit(data):
        data["settings"][name] = value
        return data
    return edit


def test_damaged_saved_settings_are_one_line_and_touch_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PUCKLAB_DATA", str(tmp_path))  # nothing to download
    agent = tmp_path / "agent"
    assert agent_cli.main(["--env-kwargs", "obs_type=state", "--batch-sessions", "8", "--total-steps",
                           "400", "--eval-sessions", "8", "--video-sessions", "0",
                           "--run-dir", str(agent)]) == 0
    text = make_corpus(tmp_path / "words.txt")
    chars = tmp_path / "chars"
    assert char_cli.main(["train", "--corpus", str(text), "--hidden", "16", "--embed", "8",
                          "--seq-len", "16", "--batch-size", "4", "--max-steps", "6",
                          "--eval-every", "3", "--no-progress", "--run-dir", str(chars)]) == 0
    series = tmp_path / "series"
    assert forecast_cli.main(["--dataset", "sunspots", "--hidden", "8", "--max-steps", "6",
                              "--baselines", "naive", "--no-progress",
                              "--run-dir", str(series)]) == 0
    capsys.readouterr()
    cases = [
        (agent_cli.main, agent, "list", lambda d: [d], "is not a train-agent run"),
        (agent_cli.main, agent, "str_number", setting("lr", "0.008"), "lr must be float"),
        (agent_cli.main, agent, "kwargs_str", setting("env_kwargs", "obs_type=state"),
         "env_kwargs must be a table"),
        (char_cli.main, chars, "hidden", setting("hidden", 64), "config.json says hidden 64"),
        (char_cli.main, chars, "batch", setting("batch_size", 8), "hidden state of 4 text streams"),
        (forecast_cli.main, series, "no_series", lambda d: {k: v for k, v in d.items()
                                                          if k != "series"}, "it has no series"),
        (forecast_cli.main, series, "layers", setting("layers", 3), "does not fit this model"),
    ]
    for main, run_dir, name, edit, expect in cases:
        copy = damaged(run_dir, tmp_path, f"{run_dir.name}-{name}", edit)
        before = checkpoints(copy)
        resume = ["train"] if main is char_cli.main else []
        refused(main, [*resume, "--resume", str(copy), "--max-steps" if resume or main is
                       forecast_cli.main else "--total-steps", "800"], capsys, expect)
        assert checkpoints(copy) == before, name
    for main, argv, expect in [
            (agent_cli.main, ["evaluate"], "lr must be float"),
            (forecast_cli.main, ["predict"], "it has no series")]:
        run_dir = agent if main is agent_cli.main else series
        name = "str_number" if main is agent_cli.main else "no_series"
        refused(main, [*argv, str(tmp_path / f"{run_dir.name}-{name}")], capsys, expect)


# --- Ctrl-C, then --resume: the same curve as a run never interrupted ------------------------

def ctrl_c_during(cls_or_module, name: str, when) -> None:
    """Make ``cls_or_module.name`` press Ctrl-C (a real SIGINT) after it ran, when
    ``when(args)``: the signal lands in the middle of a step."""
    real = getattr(cls_or_module, name)

    def pressed(*args, **kwargs):
        out = real(*args, **kwargs)  # random numbers drawn, hidden state carried on
        if when(args):
            signal.raise_signal(signal.SIGINT)
        return out

    return pressed


def table(run_dir: Path, skip=("wall_time_s",)) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in skip} for row in csv.DictReader(f)]


def test_ctrl_c_mid_rollout_then_resume_equals_an_uninterrupted_train_agent_run(
        tmp_path, monkeypatch, capsys):
    argv = ["--env-kwargs", "obs_type=state", "--batch-sessions", "16", "--eval-sessions", "16",
            "--eval-every", "2", "--video-sessions", "0", "--seed", "3", "--total-steps", "4799",
            "--no-progress"]
    assert agent_cli.main([*argv, "--run-dir", str(tmp_path / "straight")]) == 0
    calls = iter(range(100))
    monkeypatch.setattr(reinforce, "collect", ctrl_c_during(reinforce, "collect",
                                                            lambda a: next(calls) == 2))
    assert agent_cli.main([*argv, "--run-dir", str(tmp_path / "split")]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted after 3 updates" in err.splitlines()[-1], err
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
    for part in ("seed-0", "seed-1"):
        assert table(tmp_path / "split" / part) == table(tmp_path / "straight" / part)
    assert (tmp_path / "split" / "backtest.csv").read_text() == \
        (tmp_path / "straight" / "backtest.csv").read_text()


# --- devices: every command that computes takes --device, checked before anything is written --

def test_lab_and_predict_take_a_device_and_refuse_a_missing_gpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("regularisation", "session-decay", "frame-difference", "hyperparameter-search"):
        code = lab_main([name, "--quick", "--device", "cuda", "--run-dir", str(tmp_path / name)])
        err = capsys.readouterr().err
        assert code == 2 and err.strip().endswith("no CUDA device is available here "
                                                  "(try --device auto)"), err
        assert not (tmp_path / name).exists()
    assert lab_main(["vanishing-gradients", "--device", "cpu"]) == 2  # computes on CPU only
    assert "unrecognized arguments: --device" in capsys.readouterr().err
    series = tmp_path / "series"
    assert forecast_cli.main(["--dataset", "sunspots", "--hidden", "8", "--max-steps", "4",
                              "--baselines", "naive", "--no-progress",
                              "--run-dir", str(series)]) == 0
    capsys.readouterr()
    refused(forecast_cli.main, ["predict", str(series), "--device", "cuda"], capsys,
            "no CUDA device")
    refused(forecast_cli.main, ["predict", str(series), "--device", "tpu"], capsys,
            "invalid choice")
    assert forecast_cli.main(["predict", str(series), "--device", "auto"]) == 0


# --- output paths nobody may write: one line, as an unprivileged user --------------------------

def _unprivileged_child(main_path: str, argv: list[str], cwd: str, out) -> None:
    """In a spawned child: load everything as the parent user, drop to nobody, run."""
    module, _, name = main_path.partition(":")
    main = getattr(importlib.import_module(module), name)
    from pucklab.seqmodels.forecast.series import load_series

    load_series("sunspots")  # statsmodels' loaders import more of the standard library
    importlib.import_module("pucklab.seqmodels.lab.gradients")
    pyplot_of = importlib.import_module("pucklab.runs.figures").pyplot
    pyplot_of()
    os.chdir(cwd)
    if os.geteuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code: object = main(argv)
    except BaseException as exc:  # noqa: BLE001 - any escape is what the test reports
        code = f"escaped: {type(exc).__name__}: {exc}"
    out.put((code, err.getvalue()))


def as_unprivileged(main_path: str, argv: list[str], cwd: Path) -> tuple[object, str]:
    """``main(argv)`` run by an unprivileged user (nobody, when the tests run as root; else
    the user running them) in ``cwd``, in a spawned process; its exit code and stderr."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_unprivileged_child, args=(main_path, argv, str(cwd), out))
    child.start()
    try:
        return out.get(timeout=240)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()


NOBODY = 65534
AGENT, CHARS = "pucklab.agents.cli:main", "pucklab.seqmodels.charrnn.cli:main"
SERIES, LAB = "pucklab.seqmodels.forecast.cli:main", "pucklab.runs.lab:main"


def test_unwritable_places_are_one_line_as_an_unprivileged_user(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="pucklab-ro-"))  # under /tmp, which nobody can reach
    try:
        base.chmod(0o755)
        monkeypatch.setenv("PUCKLAB_DATA", str(base))
        series, agent = base / "series", base / "agent"
        assert forecast_cli.main(["--dataset", "sunspots", "--hidden", "8", "--max-steps", "4",
                                  "--baselines", "naive", "--no-progress",
                                  "--run-dir", str(series)]) == 0
        assert agent_cli.main(["--env-kwargs", "obs_type=state", "--batch-sessions", "8",
                               "--total-steps", "100", "--eval-sessions", "8", "--video-sessions",
                               "1", "--no-progress", "--run-dir", str(agent)]) == 0
        text = make_corpus(base / "words.txt")
        locked = base / "locked"
        locked.mkdir()
        locked.chmod(0o555)  # read-only for everyone (root aside)
        cases = [
            (AGENT, ["--total-steps", "10", "--run-dir", str(locked / "run")]),
            (AGENT, ["--total-steps", "10"]),  # the default runs/ under a locked cwd
            (AGENT, ["record", str(agent), "--sessions", "1", "--out", str(locked / "clip")]),
            (CHARS, ["train", "--corpus", str(text), "--max-steps", "2",
                     "--run-dir", str(locked / "c")]),
            (SERIES, ["--dataset", "sunspots", "--max-steps", "2", "--run-dir", str(locked / "f")]),
            (SERIES, ["predict", str(series), "--out", str(locked / "f.csv")]),
            (LAB, ["vanishing-gradients", "--quick", "--run-dir", str(locked / "lab")]),
        ]
        for main, argv in cases:
            code, err = as_unprivileged(main, argv, locked)
            assert code == 2, (argv, code, err)
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and "Permission denied" in lines[0], (argv, err)
        assert not any(locked.iterdir())
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_resuming_a_finished_run_adds_no_rows(tmp_path):
    run_dir = tmp_path / "done"
    argv = ["--env-kwargs", "obs_type=state", "--batch-sessions", "8", "--total-steps", "300",
            "--eval-sessions", "8", "--video-sessions", "0", "--no-progress"]
    assert agent_cli.main([*argv, "--run-dir", str(run_dir)]) == 0
    before = (run_dir / "metrics.csv").read_text()
    assert agent_cli.main(["--resume", str(run_dir)]) == 0  # the budget was already spent
    assert (run_dir / "metrics.csv").read_text() == before
