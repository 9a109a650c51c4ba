"""Session credit assignment: each session's outcome, spread back over the actions that led to it.

The seeds' scheme: a session's reward arrives on its last step; every action of the session gets
that outcome times ``gamma ** (steps to the end)``. ``gamma = 1`` gives every action the full
outcome ("the same reward for all steps"); ``gamma < 1`` weights the actions near the end more
("reward decaying for stability"). Credit never flows across a session boundary, and, for envs
whose episodes hold many points (ALE Pong's 21-point games), optionally not across a non-zero
reward either -- pg-pong's ``if r[t] != 0: running_add = 0``.
"""

from __future__ import annotations

import torch

NORMALISE_EPS = 1e-8


def discounted_returns(rewards: torch.Tensor, ends: torch.Tensor, gamma: float,
                       reset_on_reward: bool = False) -> torch.Tensor:
    """Returns G_t = r_t + gamma * G_{t+1}, restarting after every session end.

    Args:
        rewards: (T, B) rewards of B parallel streams over T steps.
        ends: (T, B) bool, True on a session's last step (terminated or truncated).
        gamma: Decay per step away from the end, in [0, 1].
        reset_on_reward: Also restart at every non-zero reward (a point in ALE Pong).

    Returns:
        (T, B) float32 returns. Steps after a stream's last end (a session still running when
        the rollout stopped) get the rewards seen so far, usually 0: mask them out.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    rewards = rewards.to(torch.float32)
    boundary = ends.to(torch.bool)
    if reset_on_reward:
        boundary = boundary | (rewards != 0)
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])  # (B,)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = torch.where(boundary[t], rewards[t], rewards[t] + gamma * running)
        returns[t] = running
    return returns


def normalise(returns: torch.Tensor, mask: torch.Tensor | None = None,
              centre: float | None = None) -> torch.Tensor:
    """(returns - centre) / (std + eps) over the valid entries; 0 where ``mask`` is False.

    ``centre`` defaults to the mean of the valid entries; a running-mean baseline goes there.
    A batch where every session had the same outcome has std 0: the epsilon turns that into
    zero advantages (no gradient) instead of NaN.
    """
    valid = torch.ones_like(returns, dtype=torch.bool) if mask is None else mask.to(torch.bool)
    values = returns[valid]
    if values.numel() == 0:
        return torch.zeros_like(returns)
    mean = values.mean() if centre is None else centre
    std = values.std(unbiased=False)
    return torch.where(valid, (returns - mean) / (std + NORMALISE_EPS), torch.zeros_like(returns))
