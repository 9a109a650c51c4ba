"""Scripted players for the vector envs' state observations: the floor and the ceiling an agent
is judged by (``benchmarks/scripted_play.py``) and the players the env tests use.

A state observation holds the puck's y at index 1 and the agent's paddle y at index 4, each
scaled to [0, 1] over the field.
"""

from __future__ import annotations

import numpy as np

from pucklab.envs import physics as ph


def oracle_actions(state_obs: np.ndarray, paddle_height: int = 12) -> np.ndarray:
    """Move the paddle's centre towards the puck's centre (state observations, (B, n))."""
    puck_y = state_obs[:, 1] * (ph.FIELD - ph.BALL) + ph.BALL / 2
    paddle_y = state_obs[:, 4] * (ph.FIELD - paddle_height) + paddle_height / 2
    return np.where(puck_y < paddle_y - 1.5, ph.UP,
                    np.where(puck_y > paddle_y + 1.5, ph.DOWN, ph.STAY))
