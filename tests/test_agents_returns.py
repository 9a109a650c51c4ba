"""Session credit assignment on hand-computed sessions (SB3 test_gae style: returns known exactly)."""

import pytest
import torch

from pucklab.agents.returns import discounted_returns, normalise


def col(*values):
    return torch.tensor(values, dtype=torch.float32)[:, None]


def test_gamma_one_gives_every_action_the_full_outcome():
    rewards = col(0, 0, 0, 1)
    ends = col(0, 0, 0, 1).bool()
    assert discounted_returns(rewards, ends, 1.0)[:, 0].tolist() == [1, 1, 1, 1]


def test_gamma_below_one_decays_with_distance_from_the_end():
    rewards = col(0, 0, -1)
    ends = col(0, 0, 1).bool()
    got = discounted_returns(rewards, ends, 0.5)[:, 0]
    torch.testing.assert_close(got, torch.tensor([-0.25, -0.5, -1.0]))


def test_returns_restart_at_session_boundaries():
    # two sessions back to back: a loss after 2 steps, a win after 3
    rewards = col(0, -1, 0, 0, 1)
    ends = col(0, 1, 0, 0, 1).bool()
    got = discounted_returns(rewards, ends, 0.9)[:, 0]
    torch.testing.assert_close(got, torch.tensor([-0.9, -1.0, 0.81, 0.9, 1.0]))


def test_pg_pong_rule_restarts_at_every_nonzero_reward():
    # one long ALE episode holding two points: without the rule the first point's credit
    # would leak into the second one's actions
    rewards = col(0, 1, 0, -1)
    ends = col(0, 0, 0, 1).bool()
    plain = discounted_returns(rewards, ends, 0.5)[:, 0]
    pong = discounted_returns(rewards, ends, 0.5, reset_on_reward=True)[:, 0]
    torch.testing.assert_close(plain, torch.tensor([0.375, 0.75, -0.5, -1.0]))
    torch.testing.assert_close(pong, torch.tensor([0.5, 1.0, -0.5, -1.0]))


def test_parallel_streams_are_independent():
    rewards = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, -1.0]])
    ends = torch.tensor([[False, False], [True, False], [False, True]])
    got = discounted_returns(rewards, ends, 1.0)
    assert got[:, 0].tolist() == [1, 1, 0] and got[:, 1].tolist() == [-1, -1, -1]


def test_normalise_masks_and_has_zero_mean_unit_std():
    returns = torch.tensor([[1.0, -1.0], [1.0, -1.0], [9.0, 9.0]])
    mask = torch.tensor([[True, True], [True, True], [False, False]])
    adv = normalise(returns, mask)
    assert adv[2].tolist() == [0, 0]
    torch.testing.assert_close(adv[mask].mean(), torch.tensor(0.0))
    torch.testing.assert_close(adv[mask].std(unbiased=False), torch.tensor(1.0), atol=1e-6, rtol=0)


def test_a_batch_where_every_session_has_the_same_outcome_gives_no_nan():
    adv = normalise(torch.ones(50, 8))
    assert torch.isfinite(adv).all() and (adv == 0).all()
    assert (normalise(torch.ones(3, 2), torch.zeros(3, 2, dtype=torch.bool)) == 0).all()


def test_gamma_outside_unit_interval_is_refused():
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns(col(1), col(1).bool(), 1.5)
