"""The agent's parts on their own: sparse first layer, point-set policy, SB3 adapter, ALE prepro."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import pucklab.envs  # noqa: F401
from pucklab.agents.atari import prepro
from pucklab.agents.env_setup import make_single_env
from pucklab.agents.policies import (
    PointSetPolicy,
    PooledMLP,
    SparseInputLinear,
    make_policy,
    pooled_features,
)
from pucklab.agents.sb3 import PooledExtractor, SB3VecEnv
from pucklab.envs.wrappers import FrameDifference, VectorFrameDifference


def sparse_batch(n: int, d: int, per_row: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, d)
    idx = torch.randint(0, d, (n, per_row), generator=g)
    x.scatter_(1, idx, torch.randn(n, per_row, generator=g))
    x[1] = 0.0  # an all-zero row (an episode's first frame difference)
    return x


@pytest.mark.parametrize("per_row", [3, 40, 600])  # sparse path, and the dense fallback
def test_sparse_linear_equals_dense_linear(per_row):
    torch.manual_seed(0)
    ours = SparseInputLinear(1000, 17)
    ref = torch.nn.Linear(1000, 17)
    ref.load_state_dict(ours.state_dict())
    x = sparse_batch(64, 1000, per_row)
    y, y_ref = ours(x), ref(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    (y ** 2).sum().backward()
    (y_ref ** 2).sum().backward()
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad, rtol=1e-4, atol=1e-5)


def test_sparse_linear_cache_follows_the_weights():
    layer = SparseInputLinear(50, 4)
    x = sparse_batch(8, 50, 2)
    with torch.no_grad():
        before = layer(x)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(x).sum().backward()
    opt.step()
    with torch.no_grad():  # the cached transposed weight must not be stale
        after = layer(x)
        torch.testing.assert_close(after, torch.nn.functional.linear(x, layer.weight, layer.bias))
    assert not torch.allclose(before, after)


def dense_pooling(x: torch.Tensor, cell: int) -> torch.Tensor:
    """The reference: brighter and darker parts apart, summed over cell x cell blocks."""
    x = x if x.dim() == 4 else x[:, None]
    h, w = x.shape[-2:]
    x = torch.nn.functional.pad(x, (0, -w % cell, 0, -h % cell))  # partial edge cells
    split = torch.stack([x.clamp(min=0), (-x).clamp(min=0)], 2).flatten(1, 2)  # (N, 2C, H, W)
    return torch.nn.functional.avg_pool2d(split, cell).flatten(1) * cell * cell


@pytest.mark.parametrize("shape", [(1, 80, 80), (80, 80), (2, 30, 22)])
def test_pooled_policy_equals_dense_pooling_then_mlp(shape):
    torch.manual_seed(0)
    policy = make_policy("pooled", shape, 3)
    assert isinstance(policy, PooledMLP)
    n = 64
    x = sparse_batch(n, int(np.prod(shape)), 12).reshape(n, *shape)
    pooled = dense_pooling(x, 4)
    torch.testing.assert_close(pooled_features(x), pooled)
    ref_fc = torch.nn.Linear(pooled.shape[1], 200)
    ref_fc.load_state_dict(policy.fc.state_dict())
    y = policy(x)
    y_ref = policy.out(ref_fc(pooled))
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    y.square().sum().backward()
    grad = policy.fc.weight.grad.clone()
    policy.zero_grad()
    policy.out(ref_fc(pooled)).square().sum().backward()
    torch.testing.assert_close(grad, ref_fc.weight.grad, rtol=1e-4, atol=1e-5)
    # SB3's extractor sees exactly the same features
    space = gym.spaces.Box(-1.0, 1.0, shape, np.float32)
    torch.testing.assert_close(PooledExtractor(space)(x), pooled)


def test_pooled_features_keep_what_signed_sums_lose():
    x = torch.zeros(3, 1, 8, 8)
    x[0, 0, 1, 1], x[0, 0, 1, 2] = -1.0, 1.0  # a puck moving inside cell 0
    x[1, 0, 1, 3], x[1, 0, 1, 4] = -1.0, 1.0  # moving right from cell 0 into cell 1
    x[2, 0, 1, 3], x[2, 0, 1, 4] = 1.0, -1.0  # moving left from cell 1 into cell 0
    assert torch.nn.functional.avg_pool2d(x[:1], 4).abs().sum() == 0  # the signed sum: nothing
    f = pooled_features(x)  # features: [brighter cells 0..3, darker cells 0..3]
    assert f[0].tolist() == [1, 0, 0, 0, 1, 0, 0, 0]  # present, here
    assert f[1].tolist() == [0, 1, 0, 0, 1, 0, 0, 0]  # now in cell 1, was in cell 0
    assert f[2].tolist() == [1, 0, 0, 0, 0, 1, 0, 0]  # now in cell 0, was in cell 1


def test_point_set_policy_reads_positions_and_ignores_zeros():
    torch.manual_seed(0)
    policy = make_policy("points", (1, 20, 20), 3)
    assert isinstance(policy, PointSetPolicy)
    x = torch.zeros(3, 1, 20, 20)
    x[0, 0, 2, 3] = 1.0
    x[1, 0, 15, 3] = 1.0  # same pixel value, another row
    out = policy(x)
    assert out.shape == (3, 3)
    assert not torch.allclose(out[0], out[1])  # position matters
    # an all-zero frame gives the head's answer to "nothing seen", whatever else is in the batch
    torch.testing.assert_close(out[2], policy(torch.zeros(1, 1, 20, 20))[0])
    out.sum().backward()
    assert all(p.grad is not None for p in policy.parameters())


def test_sb3_adapter_resets_ended_games_in_the_same_step():
    venv = VectorFrameDifference(gym.make_vec("pucklab/AirHockey-v0", num_envs=4,
                                              session_length=5), copy=False)
    env = SB3VecEnv(venv)
    env.seed(7)
    obs = env.reset()
    assert obs.shape == (4, 1, 80, 80) and np.all(obs == 0)
    for step in range(1, 6):
        obs, rewards, dones, infos = env.step(np.zeros(4, dtype=np.int64))
        if step < 5:
            assert not dones.any()
    assert dones.all()  # a paddle that never moves: some sessions may end earlier, all by 5
    for i in range(4):
        assert "terminal_observation" in infos[i]
        assert infos[i]["TimeLimit.truncated"] == (rewards[i] > 0)
    assert np.all(obs == 0)  # the new sessions' first frame differences
    obs, _, dones, _ = env.step(np.zeros(4, dtype=np.int64))
    assert not dones.any() and np.abs(obs).sum() > 0  # play goes on: no ignored step


def test_sb3_check_env_accepts_our_env():
    from stable_baselines3.common.env_checker import check_env

    check_env(make_single_env("pucklab/AirHockey-v0", render_mode=None), warn=True)


def test_frame_difference_reset_mask_through_sync_vector_env():
    """Gymnasium's SyncVectorEnv pops options['reset_mask']: the wrapper must still see it."""
    env = VectorFrameDifference(gym.make_vec("pucklab/AirHockey-v0", num_envs=3,
                                             vectorization_mode="sync"))
    env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step(np.array([1, 1, 1]))
    assert all(np.abs(obs[i]).sum() > 0 for i in range(3))
    mask = np.array([False, True, False])
    obs, _ = env.reset(options={"reset_mask": mask})
    assert np.all(obs[1] == 0) and np.abs(obs[0]).sum() > 0


def test_pg_pong_prepro():
    frame = np.full((210, 160, 3), 144, dtype=np.uint8)  # background colour 1
    frame[35:195:4, :, 0] = 109  # background colour 2 on some rows
    frame[100:104, 140:142] = (236, 236, 236)  # the "ball"
    frame[10:20, :] = 255  # the score area: cropped away
    out = prepro(frame)
    assert out.shape == (1, 80, 80) and out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 255}
    assert np.argwhere(out[0]).tolist() == [[33, 70], [34, 70]]  # rows 101, 103 of 35::2
    wrapped = FrameDifference(gym.make("pucklab/AirHockey-v0"))  # the same obs format
    assert wrapped.env.observation_space.shape == out.shape


def test_ale_pong_vector_makes_pg_pong_frames_for_the_batch():
    """PgPongVector (ale-py's AtariVectorEnv) hands back pg-pong's frames: prepro of each game's
    picture, 0/255, and maps UP/DOWN to Pong's RIGHT/LEFT."""
    from pucklab.agents.atari import PgPongVector, prepro, prepro_batch

    env = PgPongVector(2, noop=True)
    try:
        obs, _ = env.reset(seed=10**12)  # large seeds fold into ale-py's C ints
        assert obs.shape == (2, 1, 80, 80) and set(np.unique(obs)) <= {0, 255}
        raw, _ = env.ale.reset(seed=3)
        batch = prepro_batch(raw[:, 0])
        for i in range(2):
            np.testing.assert_array_equal(batch[i], prepro(raw[i, 0]))
        assert env.single_action_space.n == 3 and list(env._actions) == [0, 2, 3]
        for _ in range(30):
            obs, reward, terminated, truncated, _ = env.step(np.array([1, 2]))
        assert obs.shape == (2, 1, 80, 80) and reward.dtype == np.float32
    finally:
        env.close()


def test_reinforce_defaults_differ_on_ale_ids_only_where_stated():
    """pucklab's games get the latest sweep's rate and entropy bonus; ALE ids keep pg-pong's
    discount and the rate and bonus ALE Pong was beaten with; a given value always wins."""
    from pucklab.agents.settings import (
        ALE_ENTROPY,
        ALE_GAMMA,
        ALE_LR,
        DEFAULT_ENTROPY,
        DEFAULT_GAMMA,
        DEFAULT_LR,
        AgentSettings,
    )

    ours = AgentSettings().resolved()
    assert (ours.lr, ours.gamma, ours.entropy) == (
        DEFAULT_LR["reinforce"], DEFAULT_GAMMA["reinforce"], DEFAULT_ENTROPY["reinforce"])
    ale = AgentSettings(env="ALE/Pong-v5").resolved()
    assert (ale.lr, ale.gamma, ale.entropy) == (ALE_LR, ALE_GAMMA, ALE_ENTROPY)
    assert (ale.lr, ale.entropy) != (ours.lr, ours.entropy)
    assert AgentSettings(env="ALE/Pong-v5", lr=1e-3).resolved().lr == 1e-3
    ppo = AgentSettings(env="ALE/Pong-v5", algo="ppo").resolved()
    assert (ppo.lr, ppo.entropy) == (DEFAULT_LR["ppo"], DEFAULT_ENTROPY["ppo"])
