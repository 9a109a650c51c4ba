"""Session rules: rewards, outcomes, lengths, and who wins with which paddle."""

import gymnasium as gym
import numpy as np
import pytest

import pucklab.envs  # noqa: F401  (registers the ids)
from helpers import play


def run_session(env, action=0):
    steps, total = 0, 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        total += reward
        if terminated or truncated:
            return steps, reward, terminated, truncated, info, total
        assert reward == 0.0 and "outcome" not in info


@pytest.mark.parametrize("env_id", ["pucklab/AirHockey-v0", "pucklab/Pong-v0"])
def test_session_ends_with_one_outcome_reward(env_id):
    env = gym.make(env_id, session_length=30)
    for seed in range(40):
        env.reset(seed=seed)
        steps, reward, terminated, truncated, info, total = run_session(env)
        assert steps <= 30 and total == reward
        if truncated:
            assert steps == 30 and reward == 1.0 and info["outcome"] == "win" and not terminated
        else:
            assert terminated and reward in (-1.0, 1.0)
            assert info["outcome"] == ("win" if reward > 0 else "loss")


def test_step_after_session_end_needs_reset():
    env = gym.make("pucklab/AirHockey-v0", session_length=1).unwrapped
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)


def test_paddle_that_never_moves_loses():
    counts = play("pucklab/AirHockey-v0", "stay")
    assert counts["loss"] > 3 * counts["win"]


def test_oracle_paddle_wins_at_least_95_percent():
    for env_id in ("pucklab/AirHockey-v0", "pucklab/Pong-v0"):
        counts = play(env_id, "oracle")
        assert counts["win"] >= 0.95 * (counts["win"] + counts["loss"]), (env_id, counts)


def test_random_policy_loses_more_often_than_it_wins():
    counts = play("pucklab/AirHockey-v0", "random")
    assert counts["win"] < 0.35 * (counts["win"] + counts["loss"])


def test_pong_agent_scores_against_a_weak_opponent_not_a_strong_one():
    weak = play("pucklab/Pong-v0", "oracle", opponent_skill=0.0)
    strong = play("pucklab/Pong-v0", "oracle", opponent_skill=1.0)
    assert weak["scored"] > 0
    assert strong["scored"] < weak["scored"] / 5


def test_air_hockey_agent_never_scores():
    assert play("pucklab/AirHockey-v0", "oracle")["scored"] == 0


@pytest.mark.parametrize("env_id", ["pucklab/AirHockey-v0", "pucklab/Pong-v0"])
def test_same_seed_same_trajectory(env_id):
    def rollout(seed):
        env = gym.make(env_id)
        obs, _ = env.reset(seed=seed)
        frames, rewards = [obs], []
        rng = np.random.default_rng(123)
        for _ in range(120):
            obs, r, te, tr, _ = env.step(int(rng.integers(3)))
            frames.append(obs)
            rewards.append(r)
            if te or tr:
                obs, _ = env.reset()
                frames.append(obs)
        return np.stack(frames), rewards

    a, b, c = rollout(7), rollout(7), rollout(8)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert not np.array_equal(a[0][:20], c[0][:20])
