"""The vector env is the single-game env at batch size B: same seeds, same games."""

import gymnasium as gym
import numpy as np
import pytest

import pucklab.envs  # noqa: F401


@pytest.mark.parametrize("env_id", ["pucklab/AirHockey-v0", "pucklab/Pong-v0"])
@pytest.mark.parametrize("obs_type", ["pixels", "state"])
def test_batched_equals_batch_of_one(env_id, obs_type):
    num, seed, steps = 5, 100, 150
    kwargs = dict(obs_type=obs_type, session_length=20)
    vec = gym.make_vec(env_id, num_envs=num, **kwargs)
    singles = [gym.make(env_id, **kwargs) for _ in range(num)]
    vobs, _ = vec.reset(seed=seed)
    needs_reset = [False] * num
    for i, env in enumerate(singles):
        obs, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs, vobs[i])
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(steps):
        actions = rng.integers(0, 3, num)
        vobs, vrew, vterm, vtrunc, _ = vec.step(actions)
        for i, env in enumerate(singles):
            if needs_reset[i]:  # next-step autoreset: the vector env served a new session
                obs, _ = env.reset()
                rew, term, trunc = 0.0, False, False
            else:
                obs, rew, term, trunc, _ = env.step(int(actions[i]))
            np.testing.assert_array_equal(obs, vobs[i])
            assert (rew, term, trunc) == (vrew[i], vterm[i], vtrunc[i])
            needs_reset[i] = term or trunc
            ended += term or trunc
    assert ended > num  # the comparison crossed several autoresets


def test_vector_info_names_outcomes_with_mask():
    vec = gym.make_vec("pucklab/AirHockey-v0", num_envs=64, session_length=5)
    vec.reset(seed=0)
    for _ in range(5):
        _, rewards, term, trunc, infos = vec.step(np.zeros(64, dtype=np.int64))
    done = term | trunc
    assert done.all()
    np.testing.assert_array_equal(infos["_outcome"], done)
    assert set(infos["outcome"][rewards > 0]) == {"win"}
    assert set(infos["outcome"][rewards < 0]) <= {"loss"}


def test_autoreset_ignores_the_action_and_serves_anew():
    vec = gym.make_vec("pucklab/AirHockey-v0", num_envs=8, session_length=3, obs_type="state")
    vec.reset(seed=1)
    for _ in range(3):
        vec.step(np.ones(8, dtype=np.int64))
    obs, rewards, term, trunc, infos = vec.step(np.full(8, 2, dtype=np.int64))
    assert not rewards.any() and not term.any() and not trunc.any() and infos == {}
    np.testing.assert_allclose(obs[:, 4], 0.5)  # paddles centred again


def test_partial_reset_holds_the_other_games():
    vec = gym.make_vec("pucklab/Pong-v0", num_envs=4, obs_type="state")
    obs0, _ = vec.reset(seed=3)
    obs1, *_ = vec.step(np.array([1, 1, 1, 1]))
    mask = np.array([True, False, True, False])
    obs2, _ = vec.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(obs2[~mask], obs1[~mask])
    assert not np.array_equal(obs2[mask], obs1[mask])


def test_copy_false_returns_the_live_buffer_copy_true_does_not():
    live = gym.make_vec("pucklab/AirHockey-v0", num_envs=2, copy=False)
    a, _ = live.reset(seed=0)
    b, *_ = live.step(np.array([1, 2]))
    assert a is b
    fresh = gym.make_vec("pucklab/AirHockey-v0", num_envs=2)
    a, _ = fresh.reset(seed=0)
    b, *_ = fresh.step(np.array([1, 2]))
    assert a is not b and not np.array_equal(a, b)
