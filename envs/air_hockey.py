"""Air hockey: the seeds' game. One paddle on the right guards its edge; the other walls bounce."""

from __future__ import annotations

from pucklab.envs.game_env import PuckEnv
from pucklab.envs.physics import GameConfig


class AirHockeyEnv(PuckEnv):
    """
    ## Description
    The agent moves a paddle up and down along the right edge of an 80x80 table. A puck is served
    from near the far (left) wall towards the agent; it bounces off the top, bottom and left walls
    and off the agent's paddle (more steeply the further from the paddle's centre it hits). Play is
    cut into *sessions* of `session_length` steps: keep the puck in play for a whole session to win
    it, let it past the paddle to lose it.

    ## Action Space
    `Discrete(3)`: 0 stay, 1 up, 2 down (the paddle moves 3 pixels per step).

    ## Observation Space
    | `obs_type`           | space                                  | content                         |
    |----------------------|----------------------------------------|---------------------------------|
    | `"pixels"` (default) | `Box(0, 255, (1, 80, 80), uint8)`      | paddle and puck at 255, else 0  |
    | `"state"`            | `Box(low, high, (5,), float32)`        | see below                       |

    The state vector is: puck x, puck y (in [0, 1]), puck vx, puck vy (in [-1, 1], divided by the
    puck speed), agent paddle top y (in [0, 1]). Pixel frames are 80x80 like the preprocessing
    of Karpathy's pg-pong; wrap with `pucklab.envs.wrappers.FrameDifference` to see motion.

    ## Rewards
    0 on every step but a session's last: +1 when the session reaches `session_length` steps with
    the puck in play (truncated), -1 when the puck gets past the paddle (terminated).

    ## Starting State
    The paddle is centred; the puck starts 4-20 pixels from the left wall at a uniform height,
    moving right at a uniform angle within +-40 degrees, all drawn from `self.np_random`.

    ## Episode End
    One episode is one session. It is terminated when the agent concedes and truncated after
    `session_length` steps; the last step's `info["outcome"]` is `"win"` or `"loss"`.

    ## Arguments
    - `obs_type`: `"pixels"` or `"state"`.
    - `session_length`: steps in a session (default 50).
    - `render_mode`: `"rgb_array"` (320x320x3 colour frames) or `"human"` (a matplotlib window).
    - `paddle_height`: in pixels (default 12); `ball_speed`: pixels per step (default 3).

    ## Vectorised
    `gym.make_vec("pucklab/AirHockey-v0", num_envs=B)` returns `AirHockeyVectorEnv`: the same
    physics at batch size B (next-step autoreset). Sub-env i seeded with `seed + i` plays exactly
    the game this class plays when reset with `seed + i`.

    ## Version History
    - v0: first version.

    ## Example
    >>> import gymnasium as gym
    >>> import pucklab.envs
    >>> env = gym.make("pucklab/AirHockey-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype
    ((1, 80, 80), dtype('uint8'))
    >>> steps = 0
    >>> while True:
    ...     obs, reward, terminated, truncated, info = env.step(0)  # a paddle that never moves
    ...     steps += 1
    ...     if terminated or truncated:
    ...         break
    >>> steps <= 50, reward in (-1.0, 1.0), info["outcome"] in ("win", "loss")
    (True, True, True)
    """

    def __init__(self, obs_type: str = "pixels", session_length: int = 50,
                 render_mode: str | None = None, paddle_height: int = 12,
                 ball_speed: float = 3.0) -> None:
        config = GameConfig(has_opponent=False, session_length=session_length,
                            paddle_height=paddle_height, ball_speed=ball_speed)
        super().__init__(config, obs_type=obs_type, render_mode=render_mode)
