"""REINFORCE collection and learning on the fast state observations."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import pucklab.envs  # noqa: F401
from pucklab.agents import reinforce
from pucklab.agents.policies import make_policy
from pucklab.envs.wrappers import VectorFrameDifference


def state_env(num_envs, seed=0, **kwargs):
    env = gym.make_vec("pucklab/AirHockey-v0", num_envs=num_envs, obs_type="state", **kwargs)
    env.reset(seed=seed)
    return env


def test_collect_counts_one_whole_session_per_env():
    torch.manual_seed(0)
    env = state_env(32, session_length=20)
    policy = make_policy("mlp", env.single_observation_space.shape, 3)
    batch = reinforce.collect(env, policy, gamma=1.0, max_steps=20)
    assert batch.sessions == 32
    assert batch.obs.shape[1:] == (5,) and len(batch.obs) == len(batch.actions) == len(batch.returns)
    assert 32 <= len(batch.obs) <= 32 * 20
    assert set(batch.returns.tolist()) <= {-1.0, 1.0}  # gamma = 1: every action gets the outcome
    assert batch.session_reward == pytest.approx(2 * batch.wins / 32 - 1)
    assert batch.env_steps <= 32 * 20


def test_collect_with_decay_credits_the_last_action_fully():
    env = state_env(8, session_length=10)
    policy = make_policy("mlp", (5,), 3)
    batch = reinforce.collect(env, policy, gamma=0.5, max_steps=10)
    magnitudes = batch.returns.abs()
    assert magnitudes.max() == 1.0 and magnitudes.min() >= 0.5 ** 9


def test_collect_keeps_each_frame_even_from_a_reused_buffer():
    env = VectorFrameDifference(
        gym.make_vec("pucklab/AirHockey-v0", num_envs=4, session_length=6, copy=False), copy=False)
    env.reset(seed=0)
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return torch.zeros(len(x), 3)

    batch = reinforce.collect(env, Recorder(), gamma=1.0, max_steps=6)
    assert batch.obs.shape[1:] == (1, 80, 80)
    # rows are (step, env) in order; step 0 is every env's first frame: zero after the reset
    assert not seen[0].any() and seen[1].any()
    torch.testing.assert_close(batch.obs[:4], seen[0])
    torch.testing.assert_close(batch.obs[4:8], seen[1])


def test_same_outcome_batch_gives_finite_advantages():
    adv = reinforce.advantages(torch.ones(100))
    assert torch.isfinite(adv).all() and (adv == 0).all()


def test_short_training_run_on_state_observations_improves_the_win_rate():
    torch.manual_seed(0)
    env = state_env(128, seed=0)
    evaluation = state_env(512, seed=10_000)
    policy = make_policy("mlp", (5,), 3)
    optimiser = torch.optim.Adam(policy.parameters(), lr=0.01)

    def win_rate():
        b = reinforce.collect(evaluation, policy, gamma=1.0, max_steps=50, greedy=True)
        return b.wins / b.sessions

    before = win_rate()
    for _ in range(120):
        batch = reinforce.collect(env, policy, gamma=1.0, max_steps=50)
        stats = reinforce.update(policy, optimiser, batch, reinforce.advantages(batch.returns),
                                 entropy_coef=0.0, max_grad_norm=0.0)
        assert set(stats) == {"loss", "entropy"}
    after = win_rate()
    assert after > before + 0.3, (before, after)


def test_update_is_one_clipped_step_on_the_loss():
    """update() == zero_grad, backward of loss(), clip to max_grad_norm, step: by hand on SGD."""
    torch.manual_seed(1)
    env = state_env(32, seed=1)
    policy = make_policy("mlp", (5,), 3)
    twin = make_policy("mlp", (5,), 3)
    twin.load_state_dict(policy.state_dict())
    batch = reinforce.collect(env, policy, gamma=0.9, max_steps=50)
    adv = reinforce.advantages(batch.returns)
    stats = reinforce.update(policy, torch.optim.SGD(policy.parameters(), lr=0.5), batch, adv,
                             entropy_coef=0.01, max_grad_norm=0.05)
    total, expected = reinforce.loss(twin, batch, adv, 0.01)
    total.backward()
    grads = [p.grad for p in twin.parameters()]
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    assert norm > 0.05  # so the clipping is exercised
    with torch.no_grad():
        for p, g in zip(twin.parameters(), grads, strict=True):
            p -= 0.5 * g * (0.05 / (norm + 1e-6))
    assert stats == pytest.approx(expected)
    for mine, theirs in zip(policy.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs)


@pytest.mark.parametrize("kind,shape", [("mlp", (1, 80, 80)), ("cnn", (1, 80, 80)), ("cnn", (5,))])
def test_policies_map_observations_to_logits(kind, shape):
    policy = make_policy(kind, shape, 3)
    assert policy(torch.zeros(7, *shape)).shape == (7, 3)
    with pytest.raises(ValueError, match="policy"):
        make_policy("transformer", (1, 80, 80), 3)


def test_policy_sizes_follow_pg_pong():
    mlp = make_policy("mlp", (1, 80, 80), 3)
    assert sum(p.numel() for p in mlp.parameters()) == 6400 * 200 + 200 + 200 * 3 + 3
    assert all(torch.isfinite(p).all() for p in mlp.parameters())


class _PointsEnv(gym.Env):
    """A game that never ends but scores a point every 4 steps: +1, -1, +1, ... (ALE-like)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        reward = 0.0 if self.t % 4 else (1.0 if (self.t // 4) % 2 else -1.0)
        return np.full(2, self.t / 10, np.float32), reward, False, False, {}


def test_collect_counts_points_as_sessions_with_reset_on_reward():
    env = gym.vector.SyncVectorEnv([_PointsEnv for _ in range(3)])
    policy = torch.nn.Linear(2, 2)
    batch = reinforce.collect(env, policy, gamma=1.0, max_steps=10, reset_on_reward=True,
                              first_session_only=False, seed=0)
    # Points at steps 4 (+1) and 8 (-1) in each game; steps 9-10 belong to no finished point.
    assert batch.sessions == 6 and batch.wins == 3 and batch.session_reward == 0.0
    assert batch.obs.shape == (3 * 8, 2)
    assert sorted(set(batch.returns.tolist())) == [-1.0, 1.0]
