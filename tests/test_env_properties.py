"""Property tests over random action sequences (hypothesis)."""

import gymnasium as gym
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import pucklab.envs  # noqa: F401
from helpers import draw_from_scratch
from pucklab.envs import physics as ph


@settings(max_examples=60, deadline=None)
@given(
    env_id=st.sampled_from(["pucklab/AirHockey-v0", "pucklab/Pong-v0"]),
    obs_type=st.sampled_from(["pixels", "state"]),
    session_length=st.integers(1, 60),
    paddle_height=st.integers(2, 40),
    ball_speed=st.floats(0.5, 6.0),
    seed=st.integers(0, 2**31 - 1),
    actions=st.lists(st.integers(0, 2), min_size=1, max_size=250),
)
def test_random_play_stays_in_bounds(env_id, obs_type, session_length, paddle_height,
                                     ball_speed, seed, actions):
    env = gym.make(env_id, obs_type=obs_type, session_length=session_length,
                   paddle_height=paddle_height, ball_speed=ball_speed)
    game = env.unwrapped
    obs, _ = env.reset(seed=seed)
    steps = 0
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        steps += 1
        assert env.observation_space.contains(obs), obs
        assert obs.dtype == env.observation_space.dtype and obs.shape == env.observation_space.shape
        s = game._core.state[0]
        assert 0 <= s[ph.BX] <= ph.FIELD - ph.BALL and 0 <= s[ph.BY] <= ph.FIELD - ph.BALL
        assert 0 <= s[ph.AGENT_Y] <= ph.FIELD - paddle_height
        assert 0 <= s[ph.OPP_Y] <= ph.FIELD - paddle_height
        assert steps <= session_length
        assert reward in (-1.0, 0.0, 1.0)
        # The frame drawn incrementally (erase and redraw what moved) is the frame drawn anew.
        np.testing.assert_array_equal(game._core.frames[0, 0],
                                      draw_from_scratch(s, game.config))
        if terminated or truncated:
            obs, _ = env.reset()
            steps = 0
