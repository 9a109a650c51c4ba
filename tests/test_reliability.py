"""What goes wrong before and around a run: envs the agent cannot play, damaged saved settings,
devices, places nobody may write, resuming a finished run. Each is one line on stderr and exit
code 2, never a traceback, and no run folder is left behind or damaged. (Ctrl-C: test_ctrl_c.py.)"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from helpers import make_corpus, one_line_error
from pucklab.agents import cli as agent_cli
from pucklab.agents.env_setup import DEFAULT_ROLLOUT_STEPS, make_env
from pucklab.runs.lab import main as lab_main
from pucklab.runs.store import load_checkpoint
from pucklab.seqmodels.charrnn import cli as char_cli
from pucklab.seqmodels.forecast import cli as forecast_cli

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
    one_line_error(agent_cli.main, ["--env", "pucklab-test/SequenceObs-v0",
                                    "--run-dir", str(tmp_path / "t")],
                   capsys, "no fixed-size vector form")
    one_line_error(agent_cli.main, ["--env", "pucklab-test/Missing-v0",
                                    "--run-dir", str(tmp_path / "m")],
                   capsys, "needs a package that is not installed: box9000")
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
        one_line_error(main, [*resume, "--resume", str(copy), "--max-steps" if resume or main is
                       forecast_cli.main else "--total-steps", "800"], capsys, expect)
        assert checkpoints(copy) == before, name
    for main, argv, expect in [
            (agent_cli.main, ["evaluate"], "lr must be float"),
            (forecast_cli.main, ["predict"], "it has no series")]:
        run_dir = agent if main is agent_cli.main else series
        name = "str_number" if main is agent_cli.main else "no_series"
        one_line_error(main, [*argv, str(tmp_path / f"{run_dir.name}-{name}")], capsys, expect)


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
    one_line_error(forecast_cli.main, ["predict", str(series), "--device", "cuda"], capsys,
            "no CUDA device")
    one_line_error(forecast_cli.main, ["predict", str(series), "--device", "tpu"], capsys,
            "--device must be one of")
    assert forecast_cli.main(["predict", str(series), "--device", "auto"]) == 0


# --- output paths nobody may write: one line, as an unprivileged user --------------------------

def _unprivileged_child(cases: list[tuple[str, list[str]]], cwd: str, out) -> None:
    """In a spawned child: load everything as the parent user, drop to nobody, run each
    ``main(argv)`` of ``cases`` in turn (one child for all: each would pay the imports)."""
    mains = []
    for main_path, _ in cases:
        module, _, name = main_path.partition(":")
        mains.append(getattr(importlib.import_module(module), name))
    from pucklab.seqmodels.forecast.series import load_series

    load_series("sunspots")  # statsmodels' loaders import more of the standard library
    importlib.import_module("pucklab.seqmodels.lab.gradients")
    pyplot_of = importlib.import_module("pucklab.runs.figures").pyplot
    pyplot_of()
    os.chdir(cwd)
    if os.geteuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    results = []
    for main, (_, argv) in zip(mains, cases, strict=True):
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code: object = main(argv)
        except BaseException as exc:  # noqa: BLE001 - any escape is what the test reports
            code = f"escaped: {type(exc).__name__}: {exc}"
        results.append((code, err.getvalue()))
    out.put(results)


def as_unprivileged(cases: list[tuple[str, list[str]]], cwd: Path) -> list[tuple[object, str]]:
    """Each ``main(argv)`` of ``cases`` run by an unprivileged user (nobody, when the tests
    run as root; else the user running them) in ``cwd``, in one spawned process; the exit code
    and stderr of each."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_unprivileged_child, args=(cases, str(cwd), out))
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
        for (_, argv), (code, err) in zip(cases, as_unprivileged(cases, locked), strict=True):
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
