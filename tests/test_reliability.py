"""What goes wrong before and around a run: Ctrl-C while the command imports, envs the agent
cannot play, damaged saved settings. Each is one line on stderr and an exit code, never a
traceback, and no run folder is left behind or damaged."""

from __future__ import annotations

import signal
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from pucklab.agents import cli as agent_cli
from pucklab.agents.env_setup import DEFAULT_ROLLOUT_STEPS, make_env
from pucklab.runs import launch, load_checkpoint


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
