"""Raw-frame observations (``pucklab.envs.frames``): single and vector agree, stacks shift."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import pucklab.envs  # noqa: F401
from pucklab.envs.frames import VectorFrameStack, frame_stack


def _pair(k: int) -> tuple[gym.Env, VectorFrameStack]:
    single = frame_stack(gym.make("pucklab/AirHockey-v0", session_length=5), k)
    vec = VectorFrameStack(gym.make_vec("pucklab/AirHockey-v0", num_envs=1, session_length=5), k)
    return single, vec


@pytest.mark.parametrize("k", [1, 2])
def test_single_and_vector_stacks_agree_across_episodes(k: int) -> None:
    single, vec = _pair(k)
    o1, _ = single.reset(seed=3)
    o2, _ = vec.reset(seed=3)
    assert o1.shape == (k, 80, 80) and o1.dtype == np.float32
    assert np.array_equal(o1, o2[0])
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(60):
        a = int(rng.integers(3))
        o1, _, terminated, truncated, _ = single.step(a)
        o2, *_ = vec.step(np.array([a]))
        assert np.array_equal(o1, o2[0])
        if terminated or truncated:
            episodes += 1
            o1, _ = single.reset()
            o2, *_ = vec.step(np.array([0]))  # next-step autoreset: the new episode's first
            assert np.array_equal(o1, o2[0])
            if k == 2:  # no older frame yet: the first frame twice
                assert np.array_equal(o1[0], o1[1])
    assert episodes >= 5


def test_stack_holds_the_previous_and_current_frame() -> None:
    env = gym.make_vec("pucklab/AirHockey-v0", num_envs=2)
    raw = VectorFrameStack(env, 1)
    stacked = VectorFrameStack(gym.make_vec("pucklab/AirHockey-v0", num_envs=2), 2)
    r0, _ = raw.reset(seed=1)
    s0, _ = stacked.reset(seed=1)
    assert set(np.unique(r0)) <= {0.0, 1.0} and r0.max() == 1.0
    r1, *_ = raw.step(np.array([0, 2]))
    s1, *_ = stacked.step(np.array([0, 2]))
    assert np.array_equal(s1[:, 0], r0[:, 0]) and np.array_equal(s1[:, 1], r1[:, 0])
    assert not np.array_equal(r0, r1)  # the puck moved


def test_reset_mask_restarts_only_the_masked_games() -> None:
    vec = VectorFrameStack(gym.make_vec("pucklab/AirHockey-v0", num_envs=2), 2)
    vec.reset(seed=0)
    before, *_ = vec.step(np.array([2, 2]))
    after, _ = vec.reset(options={"reset_mask": np.array([True, False])})
    assert np.array_equal(after[1], before[1])  # game 1 goes on untouched
    assert np.array_equal(after[0, 0], after[0, 1])  # game 0 restarts: its first frame twice


def test_frames_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        VectorFrameStack(gym.make_vec("pucklab/AirHockey-v0", num_envs=1), 0)
