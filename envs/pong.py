"""Pong: the agent's paddle on the right against a scripted opponent on the left."""

from __future__ import annotations

import numpy as np

from pucklab.envs.game_env import PuckEnv, action_error
from pucklab.envs.physics import NUM_ACTIONS, OPP_CMD, GameConfig

OPPONENTS = ("scripted", "external")


class PongEnv(PuckEnv):
    """
    ## Description
    Two paddles on an 80x80 field: the agent's on the right edge, a scripted opponent's on the
    left. The opponent tracks the puck once it comes towards it and into its reaction zone; its
    `opponent_skill` in [0, 1] sets both its speed (0 to 3 pixels per step) and how early it reacts
    (from the nearest quarter of the field to the whole field). The puck bounces off the top and
    bottom walls and off paddles. Play is cut into sessions of `session_length` steps.

    ## Action Space
    `Discrete(3)`: 0 stay, 1 up, 2 down (the paddle moves 3 pixels per step).

    ## Observation Space
    | `obs_type`           | space                                  | content                         |
    |----------------------|----------------------------------------|---------------------------------|
    | `"pixels"` (default) | `Box(0, 255, (1, 80, 80), uint8)`      | paddles and puck at 255, else 0 |
    | `"state"`            | `Box(low, high, (6,), float32)`        | see below                       |

    The state vector is: puck x, puck y (in [0, 1]), puck vx, puck vy (in [-1, 1], divided by the
    puck speed), agent paddle top y, opponent paddle top y (in [0, 1]).

    ## Rewards
    0 on every step but a session's last: +1 when the agent scores (terminated) or when the session
    reaches `session_length` steps with the puck in play (truncated); -1 when the agent concedes
    (terminated).

    ## Starting State
    Both paddles are centred; the puck starts at the centre column at a uniform height, served
    towards either player with equal chance at a uniform angle within +-40 degrees, all drawn from
    `self.np_random`.

    ## Episode End
    One episode is one session: terminated when a point is decided, truncated after
    `session_length` steps; the last step's `info["outcome"]` is `"win"` or `"loss"`.

    ## Arguments
    - `obs_type`: `"pixels"` or `"state"`.
    - `session_length`: steps in a session (default 50).
    - `opponent_skill`: in [0, 1] (default 0.5).
    - `opponent`: `"scripted"` (default) or `"external"`: the left paddle then moves by the
      action last given to :meth:`set_opponent_action` (0 stay, 1 up, 2 down), at the agent's
      paddle speed; a person plays it this way (`train-agent play`).
    - `render_mode`: `"rgb_array"` (320x320x3 colour frames) or `"human"` (a matplotlib window).
    - `paddle_height`: in pixels (default 12); `ball_speed`: pixels per step (default 3).

    ## Vectorised
    `gym.make_vec("pucklab/Pong-v0", num_envs=B)` returns `PongVectorEnv`, the same physics at
    batch size B (next-step autoreset).

    ## Version History
    - v0: first version.

    ## Example
    >>> import gymnasium as gym
    >>> import pucklab.envs
    >>> env = gym.make("pucklab/Pong-v0", obs_type="state", opponent_skill=0.0)
    >>> obs, info = env.reset(seed=1)
    >>> obs.shape
    (6,)
    >>> env.step(3)
    Traceback (most recent call last):
    ...
    ValueError: action must be an int in [0, 3) (0 stay, 1 up, 2 down), got 3
    """

    def __init__(self, obs_type: str = "pixels", session_length: int = 50,
                 opponent_skill: float = 0.5, render_mode: str | None = None,
                 paddle_height: int = 12, ball_speed: float = 3.0,
                 opponent: str = "scripted") -> None:
        if opponent not in OPPONENTS:
            raise ValueError(f"opponent must be one of {OPPONENTS}, got {opponent!r}")
        config = GameConfig(has_opponent=True, session_length=session_length,
                            opponent_skill=opponent_skill, paddle_height=paddle_height,
                            ball_speed=ball_speed, external_opponent=opponent == "external")
        super().__init__(config, obs_type=obs_type, render_mode=render_mode)

    def set_opponent_action(self, action: int) -> None:
        """The left paddle's action from now on (held, like a key): 0 stay, 1 up, 2 down.
        Only with ``opponent="external"``."""
        if not self.config.external_opponent:
            raise RuntimeError("set_opponent_action needs opponent='external'")
        if isinstance(action, (bool, np.bool_)) or not (
                isinstance(action, (int, np.integer)) and 0 <= action < NUM_ACTIONS):
            raise action_error(action)
        self._core.state[0, OPP_CMD] = float(action)
