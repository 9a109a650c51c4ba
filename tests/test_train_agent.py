"""train-agent end to end: run folders, resume, Ctrl-C, checkpoints, videos, SB3, bad input."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from helpers import one_line_error
from pucklab.agents import cli, reinforce
from pucklab.agents.trained import load_run
from pucklab.agents.video import CAPTION, HOLD, LOST, WON, play_sessions
from pucklab.runs.store import load_checkpoint, save_checkpoint

# Small and fast: state observations, 16 sessions per update.
SMALL = ["--env-kwargs", "obs_type=state", "--batch-sessions", "16", "--eval-sessions", "16",
         "--eval-every", "2", "--video-sessions", "1", "--lr", "1e-2", "--seed", "3"]
STEPS_PER_UPDATE = 16 * 50  # a rollout runs until every game ended its session: <= 50 steps


def rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def train(tmp_path: Path, name: str, *extra: str) -> tuple[int, Path]:
    run_dir = tmp_path / name
    code = cli.main([*SMALL, "--run-dir", str(run_dir), *extra])
    return code, run_dir


def test_run_writes_everything(tmp_path, capsys):
    code, run_dir = train(tmp_path, "a", "--total-steps", str(3 * STEPS_PER_UPDATE))
    assert code == 0
    out = capsys.readouterr().out
    assert "final evaluation: win rate" in out and str(run_dir) in out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["command"] == "train-agent" and config["settings"]["batch_sessions"] == 16
    assert config["settings"]["lr"] == 1e-2 and config["settings"]["gamma"] == 0.999
    assert config["settings"]["entropy"] == 0.06  # REINFORCE's defaults, filled in and saved
    assert "torch" in config["versions"]
    table = rows(run_dir)
    assert {"env_steps", "wall_time_s", "sessions", "win_rate", "mean_session_reward", "loss",
            "entropy"} <= set(table[0])
    assert [int(r["updates"]) for r in table] == [1, 2, 3, 3]  # last row: final evaluation
    assert table[1]["eval_win_rate"] != "" and table[-1]["eval_win_rate"] != ""
    assert int(table[-1]["sessions"]) == 3 * 16
    assert (run_dir / "learning_curve.png").stat().st_size > 1000
    assert list(run_dir.glob("events.out.tfevents.*"))
    state = load_checkpoint(run_dir)
    assert state["counters"]["updates"] == 3 and state["env"] == "pucklab/AirHockey-v0"


def test_resume_continues_the_same_run(tmp_path):
    """2 updates + resume to 4 == 4 updates straight: same losses, counters keep counting."""
    budget = ["--eval-every", "0", "--video-sessions", "0"]
    code, straight = train(tmp_path, "straight", "--total-steps", str(4 * STEPS_PER_UPDATE - 1),
                           *budget)
    assert code == 0
    code, split = train(tmp_path, "split", "--total-steps", str(2 * STEPS_PER_UPDATE - 1),
                        *budget)
    assert code == 0
    first_time = float(rows(split)[-1]["wall_time_s"])
    assert cli.main(["--resume", str(split), "--total-steps", str(4 * STEPS_PER_UPDATE - 1)]) == 0
    a, b = rows(straight), rows(split)
    train_rows = lambda t: [r for r in t if r["loss"] != ""]  # noqa: E731
    assert [r["updates"] for r in train_rows(b)] == ["1", "2", "3", "4"]
    assert [r["env_steps"] for r in train_rows(a)] == [r["env_steps"] for r in train_rows(b)]
    assert [r["loss"] for r in train_rows(a)] == [r["loss"] for r in train_rows(b)]
    assert float(train_rows(b)[2]["wall_time_s"]) > first_time  # time keeps counting too
    assert load_checkpoint(split)["counters"]["updates"] == 4


def test_ctrl_c_saves_and_resume_goes_on(tmp_path, monkeypatch, capsys):
    real = reinforce.collect
    calls = {"n": 0}

    def interrupted_collect(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(reinforce, "collect", interrupted_collect)
    code, run_dir = train(tmp_path, "c", "--total-steps", "100000", "--eval-every", "0")
    assert code == 130
    err = capsys.readouterr().err
    # stderr holds the progress bar, then exactly one line about the interruption
    assert "Traceback" not in err and "checkpoint saved" in err.strip().splitlines()[-1]
    assert load_checkpoint(run_dir)["counters"]["updates"] == 2
    monkeypatch.setattr(reinforce, "collect", real)
    assert cli.main(["--resume", str(run_dir), "--total-steps", str(3 * STEPS_PER_UPDATE)]) == 0
    assert load_checkpoint(run_dir)["counters"]["updates"] == 3


def test_checkpoint_round_trip_and_video(tmp_path, capsys):
    code, run_dir = train(tmp_path, "v", "--total-steps", str(STEPS_PER_UPDATE),
                          "--env-kwargs", "session_length=20", "--video-format", "both")
    assert code == 0
    args, logits, _ = load_run(run_dir)
    state = load_checkpoint(run_dir)
    from pucklab.agents.policies import make_policy

    again = make_policy(**state["policy_args"])
    again.load_state_dict(state["policy"])
    x = torch.randn(7, 5)
    assert torch.equal(logits(x), again(x))
    # One session of at most 20 steps: first frame + one per step + the held last frame.
    frames = iio.imread(run_dir / "videos" / "final.mp4")
    assert frames.ndim == 4 and frames.shape[1:] == (CAPTION + 320, 320, 3)  # no side panel
    assert 1 + 1 + HOLD <= len(frames) <= 1 + 20 + HOLD
    assert (run_dir / "videos" / "final.gif").stat().st_size > 0
    # evaluate / record subcommands on the saved run
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir), "--sessions", "32"]) == 0
    assert "over 32 sessions" in capsys.readouterr().out
    assert cli.main(["record", str(run_dir), "--sessions", "2", "--out",
                     str(tmp_path / "clip")]) == 0
    clip = iio.imread(tmp_path / "clip.mp4")
    assert 2 * (2 + HOLD) <= len(clip) <= 2 * (21 + HOLD)


def test_pixel_video_is_side_by_side(tmp_path):
    code = cli.main(["--batch-sessions", "8", "--eval-sessions", "8", "--total-steps", "1",
                     "--video-sessions", "1", "--run-dir", str(tmp_path / "p"),
                     "--env-kwargs", "session_length=10"])
    assert code == 0
    frames = iio.imread(tmp_path / "p" / "videos" / "final.mp4")
    assert frames.shape[1:] == (CAPTION + 320, 640, 3)  # the game, the difference beside it
    assert 1 + 1 + HOLD <= len(frames) <= 1 + 10 + HOLD


def test_video_captions_name_the_panels_and_each_session_outcome():
    """The caption bar: panel titles and "session k/K" in plain white while a session plays;
    its held last picture says won (green) or lost (red), as the session's reward says."""
    from pucklab.agents.env_setup import make_single_env

    env = make_single_env("pucklab/AirHockey-v0", {"session_length": 15})
    frames, totals = play_sessions(env, lambda x: torch.zeros(1, 3), 4, seed=0, side_by_side=True)
    env.close()
    assert len(totals) == 4 and frames[0].shape == (CAPTION + 320, 640, 3)

    def has(frame, colour):
        return bool((np.abs(frame[:CAPTION].astype(int) - colour).sum(-1) < 60).any())

    assert (frames[0][:CAPTION, :320] > 100).any() and (frames[0][:CAPTION, 320:] > 100).any()
    assert not has(frames[0], WON) and not has(frames[0], LOST)
    end = 0
    for total in totals:  # each session's frames end with its held, captioned last picture
        end = next(i for i in range(end, len(frames)) if has(frames[i], WON) or has(frames[i], LOST))
        assert has(frames[end], WON if total > 0 else LOST)
        end += HOLD + 1


@pytest.mark.parametrize("observation", ["frame", "frames2"])
def test_raw_frame_observations_train_evaluate_and_record(tmp_path, observation):
    run_dir = tmp_path / observation
    code = cli.main(["--observation", observation, "--batch-sessions", "8", "--eval-sessions",
                     "8", "--total-steps", "400", "--video-sessions", "1", "--run-dir",
                     str(run_dir), "--env-kwargs", "session_length=10"])
    assert code == 0
    state = load_checkpoint(run_dir)
    frames = 2 if observation == "frames2" else 1
    assert state["policy_args"]["obs_shape"] == [frames, 80, 80]
    assert iio.imread(run_dir / "videos" / "final.mp4").shape[1:] == (CAPTION + 320, 640, 3)
    assert cli.main(["evaluate", str(run_dir), "--sessions", "4"]) == 0
    code = cli.main(["--algo", "ppo", "--observation", observation, "--num-envs", "2",
                     "--total-steps", "200", "--eval-every", "0", "--eval-sessions", "4",
                     "--video-sessions", "0", "--run-dir", str(tmp_path / f"ppo-{observation}")])
    assert code == 0


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_sb3_baselines_run_and_log_the_same_columns(tmp_path, algo):
    code = cli.main(["--algo", algo, "--env-kwargs", "obs_type=state", "--num-envs", "4",
                     "--total-steps", "600", "--eval-every", "1", "--eval-sessions", "8",
                     "--video-sessions", "0", "--run-dir", str(tmp_path / algo)])
    assert code == 0
    table = rows(tmp_path / algo)
    assert int(table[-1]["env_steps"]) >= 600
    assert any(r["eval_win_rate"] != "" for r in table)
    assert load_checkpoint(tmp_path / algo)["algo"] == algo
    assert cli.main(["evaluate", str(tmp_path / algo), "--sessions", "8"]) == 0


def test_sb3_resume_continues_weights_optimiser_counters_and_rows(tmp_path):
    """What a PPO resume continues (README, SB3 resume): the policy and its Adam state, the step
    and update counters, the RNG streams and metrics.csv; not the games under way."""
    run_dir = tmp_path / "ppo"
    argv = ["--algo", "ppo", "--env-kwargs", "obs_type=state", "--num-envs", "4", "--eval-every",
            "0", "--eval-sessions", "8", "--video-sessions", "0", "--seed", "1"]
    rollout = 4 * 128  # PPO_KWARGS n_steps per env
    assert cli.main([*argv, "--total-steps", str(rollout), "--run-dir", str(run_dir)]) == 0
    first = load_checkpoint(run_dir, command="train-agent")
    assert first["counters"]["updates"] == 1 and first["counters"]["env_steps"] == rollout
    adam_steps = {int(v["step"]) for v in first["optimizer"]["state"].values()}
    assert adam_steps == {4 * 2}  # 4 epochs x 2 minibatches of 256
    assert cli.main(["--resume", str(run_dir), "--total-steps", str(2 * rollout)]) == 0
    second = load_checkpoint(run_dir, command="train-agent")
    assert second["counters"]["updates"] == 2 and second["counters"]["env_steps"] == 2 * rollout
    assert {int(v["step"]) for v in second["optimizer"]["state"].values()} == {2 * 4 * 2}
    assert not all(torch.equal(first["policy"][k], second["policy"][k]) for k in first["policy"])
    train_rows = [r for r in rows(run_dir) if r["loss"] != ""]
    assert [r["updates"] for r in train_rows] == ["1", "2"]
    assert [int(r["env_steps"]) for r in train_rows] == [rollout, 2 * rollout]


@pytest.mark.parametrize("policy", ["cnn", "pooled"])
def test_sb3_pixels_runs(tmp_path, policy):
    code = cli.main(["--algo", "ppo", "--policy", policy, "--num-envs", "2", "--total-steps",
                     "300", "--eval-every", "0", "--eval-sessions", "4", "--video-sessions",
                     "0", "--run-dir", str(tmp_path / policy)])
    assert code == 0
    table = rows(tmp_path / policy)
    assert int(table[-1]["env_steps"]) >= 300 and table[-1]["eval_win_rate"] != ""
    settings, logits, _ = load_run(tmp_path / policy)
    assert load_checkpoint(tmp_path / policy)["algo"] == "ppo" and settings.policy == policy
    assert logits(torch.zeros(5, 1, 80, 80)).shape == (5, 3)  # UP, DOWN, STAY from a frame
    assert cli.main(["evaluate", str(tmp_path / policy), "--sessions", "4"]) == 0


def test_generic_gymnasium_env(tmp_path, capsys):
    """CartPole through gym.make_vec: its episodes are the sessions, +1 per step survived."""
    code = cli.main(["--env", "CartPole-v1", "--batch-sessions", "8", "--total-steps", "2000",
                     "--eval-sessions", "4", "--video-sessions", "0",
                     "--run-dir", str(tmp_path / "cp")])
    assert code == 0
    table = [r for r in rows(tmp_path / "cp") if r["loss"] != ""]
    assert all(int(r["sessions"]) >= 8 * (k + 1) for k, r in enumerate(table))
    assert all(float(r["mean_session_reward"]) >= 8 for r in table)  # no episode is shorter
    assert all(float(r["win_rate"]) == 1.0 for r in table)  # every episode's total is > 0
    state = load_checkpoint(tmp_path / "cp")
    assert state["policy_args"]["obs_shape"] == [4] and state["policy_args"]["num_actions"] == 2


def bad(argv: list[str], capsys, expect: str) -> None:
    one_line_error(cli.main, argv, capsys, expect)


def test_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    bad(["--env", "pucklab/NoSuchGame-v0"], capsys, "unknown env id")
    bad(["--env", "Pendulum-v1", "--total-steps", "10"], capsys, "Discrete")
    bad(["--lr", "fast"], capsys, "invalid float value")
    bad(["--algo", "dqn"], capsys, "--algo must be one of")
    bad(["--observation", "pixels"], capsys, "--observation must be one of")
    bad(["--gamma", "1.5"], capsys, "--gamma must be in [0, 1]")
    bad(["--env-kwargs", "paddle_height"], capsys, "key=value")
    bad(["--env-kwargs", "paddle_height=0", "--total-steps", "10",
         "--run-dir", str(tmp_path / "ph")], capsys, "paddle_height")
    bad(["--env-kwargs", "colour=red", "--total-steps", "10",
         "--run-dir", str(tmp_path / "kw")], capsys, "bad --env-kwargs")
    bad(["--config", str(tmp_path / "missing.toml")], capsys, "cannot read config")
    (tmp_path / "broken.toml").write_text("lr = [")
    bad(["--config", str(tmp_path / "broken.toml")], capsys, "cannot parse config")
    (tmp_path / "typo.yaml").write_text("learning_rate: 0.1\n")
    bad(["--config", str(tmp_path / "typo.yaml")], capsys, "unknown setting")
    (tmp_path / "type.toml").write_text('lr = "fast"\n')
    bad(["--config", str(tmp_path / "type.toml")], capsys, "lr must be float")
    (tmp_path / "empty_run").mkdir()
    bad(["--resume", str(tmp_path / "empty_run")], capsys, "not a run folder")
    bad(["evaluate", str(tmp_path / "empty_run")], capsys, "not a run folder")
    bad(["evaluate"], capsys, "RUN_DIR")
    for cmd in ("evaluate", "record"):  # checked before the run folder is even read
        bad([cmd, str(tmp_path / "empty_run"), "--device", "foo"], capsys, "--device")
        bad([cmd, str(tmp_path / "empty_run"), "--seed", "-2000000"], capsys, "--seed must be")
        bad([cmd, str(tmp_path / "empty_run"), "--sessions", "0"], capsys, "--sessions must")
    monkeypatch.setitem(sys.modules, "ale_py", None)  # as if the [atari] extra were missing
    bad(["--env", "ALE/Pong-v5"], capsys, "pip install 'pucklab[atari]'")


def test_resume_refuses_another_setup(tmp_path, capsys):
    code, run_dir = train(tmp_path, "r", "--total-steps", "1", "--video-sessions", "0")
    assert code == 0
    capsys.readouterr()
    bad(["--resume", str(run_dir), "--env", "pucklab/Pong-v0"], capsys, "--env cannot change")
    bad(["--resume", str(run_dir), "--lr", "0.5"], capsys, "--lr cannot change")
    good = load_checkpoint(run_dir)
    save_checkpoint(run_dir, {"model": {}, "task": {}}, command="char-rnn")
    for argv in (["--resume", str(run_dir)], ["evaluate", str(run_dir)]):
        bad(argv, capsys, "is a char-rnn checkpoint; train-agent needs")
    save_checkpoint(run_dir, {"algo": "reinforce", "env": good["env"]}, command="train-agent")
    bad(["evaluate", str(run_dir)], capsys, "damaged: it lacks policy")
    shrunk = {k: v for k, v in good.items() if k != "written_by"}
    shrunk["policy_args"] = dict(good["policy_args"], hidden=7)
    save_checkpoint(run_dir, shrunk, command="train-agent")
    bad(["evaluate", str(run_dir)], capsys, "does not fit the policy")
    (run_dir / "checkpoints" / "last.pt").unlink()  # as if stopped before its first checkpoint
    bad(["--run-dir", str(run_dir), "--total-steps", "1"], capsys,
        "already holds a run; continue it with --resume")
    assert cli.main(["--resume", str(run_dir)]) == 0  # where that hint leads: a fresh start
    assert load_checkpoint(run_dir)["counters"]["updates"] >= 1


def test_config_file_sets_and_flags_override(tmp_path):
    (tmp_path / "c.toml").write_text('batch-sessions = 8\nlr = 0.02\ngamma = 0.9\n'
                                     'eval_sessions = 8\nvideo_sessions = 0\n'
                                     '[env_kwargs]\nobs_type = "state"\n')
    run_dir = tmp_path / "cfg"
    assert cli.main(["--config", str(tmp_path / "c.toml"), "--gamma", "0.8", "--total-steps",
                     "1", "--run-dir", str(run_dir)]) == 0
    saved = json.loads((run_dir / "config.json").read_text())["settings"]
    assert saved["batch_sessions"] == 8 and saved["lr"] == 0.02 and saved["gamma"] == 0.8
    assert saved["env_kwargs"] == {"obs_type": "state"}


def test_no_progress_hides_the_bar(tmp_path, capsys):
    for flag, shown in (("--progress", True), ("--no-progress", False)):
        code, _ = train(tmp_path, flag, "--total-steps", "1", "--video-sessions", "0",
                        "--eval-every", "0", flag)
        assert code == 0
        assert ("pucklab/AirHockey-v0 reinforce" in capsys.readouterr().err) == shown


def test_async_vectorization_plays_the_same_games_as_sync(tmp_path):
    """--vectorization async (Gymnasium's AsyncVectorEnv, a process per env) runs the same
    seeded games as sync: the same rows, wall time aside."""
    argv = ["--env", "CartPole-v1", "--num-envs", "4", "--batch-sessions", "8", "--total-steps",
            "1500", "--eval-sessions", "4", "--eval-every", "1", "--video-sessions", "0",
            "--no-progress"]
    for mode in ("sync", "async"):
        assert cli.main([*argv, "--vectorization", mode, "--run-dir", str(tmp_path / mode)]) == 0
    strip = lambda table: [{k: v for k, v in r.items() if k != "wall_time_s"} for r in table]  # noqa: E731
    assert strip(rows(tmp_path / "async")) == strip(rows(tmp_path / "sync"))
