"""The single-game ``gymnasium.Env`` shared by air hockey and Pong: the physics core at batch 1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pucklab.envs.core import PuckCore
from pucklab.envs.physics import (
    FIELD,
    NUM_ACTIONS,
    OUTCOME_WIN,
    GameConfig,
    check_obs_type,
    state_bounds,
)

if TYPE_CHECKING:  # drawing is imported only when a frame is drawn
    from pucklab.envs.render import HumanViewer

RENDER_FPS = 30


def observation_space(obs_type: str, has_opponent: bool) -> spaces.Box:
    """The observation space of one game for ``obs_type`` ``"pixels"`` or ``"state"``."""
    if check_obs_type(obs_type) == "pixels":
        return spaces.Box(0, 255, (1, FIELD, FIELD), dtype=np.uint8)
    low, high = state_bounds(has_opponent)
    return spaces.Box(low, high, dtype=np.float32)


def action_error(action: Any) -> ValueError:
    return ValueError(
        f"action must be an int in [0, {NUM_ACTIONS}) (0 stay, 1 up, 2 down), got {action!r}"
    )


class PuckEnv(gym.Env[np.ndarray, np.int64]):
    """One game of the shared physics core; see :class:`AirHockeyEnv` and :class:`PongEnv`.

    Subclasses only fix ``has_opponent`` and document the game.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": RENDER_FPS}

    def __init__(self, config: GameConfig, obs_type: str = "pixels",
                 render_mode: str | None = None) -> None:
        self.obs_type = check_obs_type(obs_type)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.config = config
        self.observation_space = observation_space(obs_type, config.has_opponent)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self._core = PuckCore(1, config)
        self._actions = np.zeros(1, dtype=np.int64)
        self._no_reset = np.zeros(1, dtype=np.bool_)
        self._reset = np.ones(1, dtype=np.bool_)
        self._serves = np.zeros((1, 3), dtype=np.float64)
        self._session_over = True
        self._viewer: HumanViewer | None = None

    def _obs(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return self._core.frames[0].copy()
        return self._core.state_obs()[0]

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._serves[0] = self.np_random.random(3)
        self._core.step(self._actions, self._reset, self._serves)
        self._session_over = False
        if self.render_mode == "human":
            self.render()
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        # Fast check for the usual ints; anything else (0-d arrays, ...) goes through the space.
        if not (type(action) is int or isinstance(action, np.integer)) or not 0 <= action < NUM_ACTIONS:
            if isinstance(action, (bool, np.bool_)) or not self.action_space.contains(action):
                raise action_error(action)
        if self._session_over:
            raise gym.error.ResetNeeded("the session is over: call reset() before step()")
        core = self._core
        self._actions[0] = action
        core.step(self._actions, self._no_reset, self._serves)
        terminated, truncated = bool(core.terminated[0]), bool(core.truncated[0])
        info: dict[str, Any] = {}
        if terminated or truncated:
            self._session_over = True
            info["outcome"] = "win" if core.outcome[0] == OUTCOME_WIN else "loss"
        if self.render_mode == "human":
            self.render()
        return self._obs(), float(core.rewards[0]), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        from pucklab.envs.render import HumanViewer, render_rgb

        frame = render_rgb(self._core.state[0], self.config.paddle_height, self.config.has_opponent)
        if self.render_mode == "rgb_array":
            return frame
        if self._viewer is None:
            self._viewer = HumanViewer(self.metadata["render_fps"], type(self).__name__)
        self._viewer.show(frame)
        return None

    def close(self) -> None:
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None
