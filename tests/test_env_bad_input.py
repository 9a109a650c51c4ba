"""Bad input: a clear ValueError naming the argument, raised at once."""

import gymnasium as gym
import numpy as np
import pytest

import pucklab.envs  # noqa: F401

IDS = ["pucklab/AirHockey-v0", "pucklab/Pong-v0"]


@pytest.mark.filterwarnings("ignore:.*render_mode")  # gymnasium warns before we refuse
@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("make", ["single", "vector"])
@pytest.mark.parametrize("kwargs,name", [
    ({"obs_type": "rgb"}, "obs_type"),
    ({"session_length": 0}, "session_length"),
    ({"session_length": 2.5}, "session_length"),
    ({"paddle_height": 0}, "paddle_height"),
    ({"paddle_height": 12.5}, "paddle_height"),
    ({"ball_speed": "fast"}, "ball_speed"),
    ({"ball_speed": float("nan")}, "ball_speed"),
    ({"ball_speed": -1.0}, "ball_speed"),
    ({"render_mode": "ascii"}, "render_mode"),
])
def test_bad_constructor_arguments(env_id, make, kwargs, name):
    with pytest.raises(ValueError, match=name):
        if make == "single":
            gym.make(env_id, **kwargs)
        else:
            gym.make_vec(env_id, num_envs=2, **kwargs)


@pytest.mark.parametrize("skill", [-0.1, 1.5, None])
def test_opponent_skill_outside_unit_interval(skill):
    with pytest.raises(ValueError, match="opponent_skill"):
        gym.make("pucklab/Pong-v0", opponent_skill=skill)


@pytest.mark.parametrize("action", [3, -1, 1.0, True, "up", None, np.array([1, 2])])
def test_action_outside_the_space(action):
    env = gym.make("pucklab/AirHockey-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_numpy_scalar_actions_are_accepted():
    """numpy scalars and 0-d arrays act exactly as the Python int they hold."""
    env = gym.make("pucklab/AirHockey-v0", obs_type="state").unwrapped
    twin = gym.make("pucklab/AirHockey-v0", obs_type="state").unwrapped
    env.reset(seed=0)
    twin.reset(seed=0)
    for action in (np.int64(1), np.int32(2), np.array(0), np.int64(2)):
        obs, reward, terminated, truncated, _ = env.step(action)
        expected = twin.step(int(action))
        assert env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs, expected[0])
        assert (reward, terminated, truncated) == expected[1:4]


@pytest.mark.parametrize("actions", [np.array([0, 3]), np.array([0, -1]), np.array([0.0, 1.0]),
                                     np.array([0, 1, 2])])
def test_vector_actions_outside_the_space(actions):
    env = gym.make_vec("pucklab/AirHockey-v0", num_envs=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(actions)


@pytest.mark.parametrize(("argv", "expect"), [
    (["--seed", "-1"], "--seed must be in"), (["--seed", str(2**40)], "--seed must be in"),
    (["--sessions", "0"], "must be >= 1"), (["--frames", "x"], "invalid int value"),
    (["--env", "nope"], "unknown --env")])
def test_demo_bad_input_is_one_line_exit_2(argv, expect, capsys, tmp_path, monkeypatch):
    from pucklab.envs import demo

    monkeypatch.chdir(tmp_path)
    try:
        code = demo.main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and expect in err, err
    assert not (tmp_path / "runs").exists()
