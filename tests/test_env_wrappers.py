"""Frame differences: semantics, both vector paths, autoreset modes, other frame envs."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import pucklab.envs  # noqa: F401
from pucklab.envs.wrappers import FrameDifference, VectorFrameDifference


def test_single_env_difference_is_scaled_frame_change_and_zero_after_reset():
    raw = gym.make("pucklab/Pong-v0")
    wrapped = FrameDifference(gym.make("pucklab/Pong-v0"))
    prev, _ = raw.reset(seed=5)
    diff, _ = wrapped.reset(seed=5)
    assert diff.shape == (1, 80, 80) and diff.dtype == np.float32 and not diff.any()
    assert wrapped.observation_space.contains(diff)
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = int(rng.integers(3))
        frame, _, te, tr, _ = raw.step(a)
        diff, _, te2, tr2, _ = wrapped.step(a)
        expected = (frame.astype(np.float32) - prev.astype(np.float32)) / 255.0
        np.testing.assert_array_equal(diff, expected)
        prev = frame
        if te or tr:
            prev, _ = raw.reset()
            diff, _ = wrapped.reset()
            assert not diff.any()


def _vector_diffs(env, steps, actions_seed=0, reset_every=0):
    """Observations of ``steps`` random steps; every ``reset_every`` steps a partial reset of a
    random third of the games (its observation is recorded too)."""
    obs, _ = env.reset(seed=11)
    out = [obs.copy()]
    rng = np.random.default_rng(actions_seed)
    for t in range(1, steps + 1):
        obs, *_ = env.step(rng.integers(0, 3, env.num_envs))
        out.append(obs.copy())
        if reset_every and t % reset_every == 0:
            mask = rng.random(env.num_envs) < 1 / 3
            mask[rng.integers(env.num_envs)] = True  # Gymnasium wants at least one
            obs, _ = env.reset(options={"reset_mask": mask})
            out.append(obs.copy())
    return np.stack(out)


@pytest.mark.parametrize("env_id", ["pucklab/AirHockey-v0", "pucklab/Pong-v0"])
def test_differences_computed_in_the_env_equal_the_generic_path(env_id):
    """The vector env writes the differences while it redraws (planning and prefetching games
    ahead of the one it draws); a SyncVectorEnv of single games cannot, so the wrapper takes
    the generic full-frame path. Both agree bit for bit, across autoresets and partial resets,
    for batches smaller and larger than the kernel's look-ahead."""
    for num in (3, 37):
        fast = VectorFrameDifference(gym.make_vec(env_id, num_envs=num, session_length=15),
                                     copy=False)
        assert fast._fast
        generic = VectorFrameDifference(
            SyncVectorEnv([lambda: gym.make(env_id, session_length=15) for _ in range(num)]))
        assert not generic._fast
        a = _vector_diffs(fast, 100, reset_every=23)
        b = _vector_diffs(generic, 100, reset_every=23)
        assert a.shape == (105, num, 1, 80, 80)
        np.testing.assert_array_equal(a, b)
        assert (a != 0).any()


def test_vector_difference_matches_hand_computed_frames_across_autoresets():
    num, steps = 8, 80
    raw = gym.make_vec("pucklab/AirHockey-v0", num_envs=num, session_length=10)
    diffs = _vector_diffs(
        VectorFrameDifference(gym.make_vec("pucklab/AirHockey-v0", num_envs=num,
                                           session_length=10, copy=False), copy=False), steps)
    obs, _ = raw.reset(seed=11)
    rng = np.random.default_rng(0)
    new_episode = np.zeros(num, dtype=bool)
    prev = obs.astype(np.float32) / 255
    for t in range(1, steps + 1):
        obs, _, te, tr, _ = raw.step(rng.integers(0, 3, num))
        cur = obs.astype(np.float32) / 255
        expected = np.where(new_episode[:, None, None, None], 0.0, cur - prev)
        np.testing.assert_array_equal(diffs[t], expected)
        prev, new_episode = cur, te | tr


def test_same_step_autoreset_zeroes_the_first_frame_of_an_episode():
    env = VectorFrameDifference(SyncVectorEnv(
        [lambda: gym.make("pucklab/AirHockey-v0", session_length=4) for _ in range(3)],
        autoreset_mode=AutoresetMode.SAME_STEP))
    env.reset(seed=0)
    for t in range(1, 13):
        obs, _, te, tr, _ = env.step(np.array([1, 2, 0]))
        done = te | tr
        # Every game's session ends on steps 4, 8, 12: the obs returned then is a new session's.
        assert done.all() == (t % 4 == 0)
        assert not obs[done].any()
        assert all(obs[i].any() for i in np.flatnonzero(~done))


def test_works_on_any_env_with_an_80x80_frame():
    def make():
        env = gym.make("pucklab/AirHockey-v0")
        space = gym.spaces.Box(0.0, 1.0, (80, 80, 1), dtype=np.float32)
        return gym.wrappers.TransformObservation(
            env, lambda o: (o[0, :, :, None] / 255.0).astype(np.float32), space)

    ours = FrameDifference(gym.make("pucklab/AirHockey-v0"))
    other = FrameDifference(make())
    a, _ = ours.reset(seed=2)
    b, _ = other.reset(seed=2)
    for action in [1, 1, 2, 0, 2]:
        a, *_ = ours.step(action)
        b, *_ = other.step(action)
        np.testing.assert_allclose(a, b, atol=1e-6)
        assert b.shape == (1, 80, 80)


def test_refuses_observations_that_are_not_one_frame():
    with pytest.raises(ValueError, match="one frame"):
        FrameDifference(gym.make("pucklab/AirHockey-v0", obs_type="state"))
    with pytest.raises(ValueError, match="one frame"):
        VectorFrameDifference(gym.make_vec("pucklab/Pong-v0", num_envs=2, obs_type="state"))
