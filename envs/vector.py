"""Batched games as a ``gymnasium.vector.VectorEnv``: the same physics core at batch size B.

Registered as the ``vector_entry_point`` of both ids, so
``gym.make_vec("pucklab/AirHockey-v0", num_envs=1024)`` steps all games in one compiled call
instead of 1,024 Python ``step`` calls. Each game keeps its own random stream, seeded like
``SyncVectorEnv`` seeds its sub-envs (``seed + i``), so sub-env i replays exactly what the
single-game env plays when reset with ``seed + i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from pucklab.envs.core import PuckCore
from pucklab.envs.game_env import RENDER_FPS, action_error, observation_space
from pucklab.envs.physics import NUM_ACTIONS, GameConfig

# Indexed by outcome code (+1 win, -1 loss, 0 none): the strings info["outcome"] carries.
_OUTCOME_NAMES = np.array(["", "win", "loss"], dtype=object)


class PuckVectorEnv(VectorEnv):
    """B games of the shared physics core; see :class:`AirHockeyVectorEnv`, :class:`PongVectorEnv`.

    Autoreset is Gymnasium 1.x's next-step mode: the step after a sub-env's session ends returns
    its new session's first observation with reward 0 and ignores its action.

    Args:
        num_envs: Number of games B.
        config: The game settings.
        obs_type: ``"pixels"`` or ``"state"``.
        render_mode: ``"rgb_array"`` to get a tuple of colour frames from :meth:`render`.
        copy: Return a fresh observation array on each call (True, like Gymnasium's vector envs)
            or the env's own buffer, which the next step overwrites (False: no copy; for
            rollout loops that copy what they keep anyway).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": RENDER_FPS,
                "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, config: GameConfig, obs_type: str = "pixels",
                 render_mode: str | None = None, copy: bool = True) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.num_envs = int(num_envs)
        self.config = config
        self.obs_type = obs_type
        self.render_mode = render_mode
        self.copy = copy
        self.single_observation_space = observation_space(obs_type, config.has_opponent)
        self.single_action_space = spaces.Discrete(NUM_ACTIONS)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._core = PuckCore(self.num_envs, config)
        self._rngs: list[np.random.Generator] = []
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        self._serves = np.zeros((self.num_envs, 3), dtype=np.float64)
        self._actions = np.zeros(self.num_envs, dtype=np.int64)

    @property
    def changed_rects(self) -> np.ndarray:
        """(B, 5, 4) rows ``y0, y1, x0, x1``: where each frame changed in the last step or reset.

        Outside these rectangles a frame equals the previous one, which lets
        :class:`~pucklab.envs.wrappers.VectorFrameDifference` skip the rest of the frame.
        """
        return self._core.changed_rects

    def track_differences(self, scale: float) -> np.ndarray:
        """Have every step also write the frame difference (frame - previous frame) * scale,
        zero on a session's first frame, into the returned float32 (B, 1, 80, 80) buffer.

        :class:`~pucklab.envs.wrappers.VectorFrameDifference` asks for it: the difference is
        computed while each game is redrawn, from the pixels that changed, instead of in a second
        pass over B frames with a copy of the previous ones (which at large B no longer fit in
        the cache). The buffer is the env's own: the next step overwrites it.
        """
        return self._core.track_differences(scale)

    def _obs(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return self._core.frames.copy() if self.copy else self._core.frames
        return self._core.state_obs()

    def _draw_serves(self, mask: np.ndarray) -> None:
        # One Python call per game that starts a session (~B / session_length per step): each
        # game draws from its own stream, exactly as the single-game env draws in reset().
        for i in np.flatnonzero(mask):
            self._rngs[i].random(out=self._serves[i])

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new sessions in every game, or only in ``options["reset_mask"]`` (bool, (B,))."""
        mask = np.ones(self.num_envs, dtype=np.bool_)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"options['reset_mask'] must be a bool array of shape "
                                 f"({self.num_envs},), got {mask.dtype} {mask.shape}")
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds: list[int | None] = [int(seed) + i for i in range(self.num_envs)]
        elif seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (list, tuple, np.ndarray)):
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed must be an int, None or a list of {self.num_envs} seeds, "
                                 f"got a list of {len(seeds)}")
        else:
            raise ValueError(f"seed must be an int, None or a list of {self.num_envs} seeds, "
                             f"got {seed!r}")
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seeds[0])
        if not self._rngs:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        else:
            for i in np.flatnonzero(mask):
                if seeds[i] is not None:
                    self._rngs[i] = seeding.np_random(seeds[i])[0]
        self._draw_serves(mask)
        self._core.step(self._actions, mask, self._serves, step_others=False)
        self._autoreset[mask] = False
        return self._obs(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        if not self._rngs:
            raise RuntimeError("call reset() before step()")
        acts = np.asarray(actions)
        if (acts.shape != (self.num_envs,) or acts.dtype.kind not in "iu"
                or acts.min() < 0 or acts.max() >= NUM_ACTIONS):
            raise action_error(actions if acts.size <= 8 else f"array {acts.dtype} {acts.shape}")
        np.copyto(self._actions, acts, casting="unsafe")
        reset_mask = self._autoreset
        if reset_mask.any():
            self._draw_serves(reset_mask)
        core = self._core
        core.step(self._actions, reset_mask, self._serves)
        np.logical_or(core.terminated, core.truncated, out=self._autoreset)
        infos: dict[str, Any] = {}
        if self._autoreset.any():
            infos["outcome"] = _OUTCOME_NAMES[core.outcome]
            infos["_outcome"] = self._autoreset.copy()
        return (self._obs(), core.rewards.copy(), core.terminated.copy(), core.truncated.copy(),
                infos)

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            return None
        from pucklab.envs.render import render_rgb

        cfg = self.config
        return tuple(render_rgb(row, cfg.paddle_height, cfg.has_opponent)
                     for row in self._core.state)


class AirHockeyVectorEnv(PuckVectorEnv):
    """``num_envs`` air-hockey games (see :class:`~pucklab.envs.air_hockey.AirHockeyEnv`)."""

    def __init__(self, num_envs: int = 1, obs_type: str = "pixels", session_length: int = 50,
                 render_mode: str | None = None, paddle_height: int = 12,
                 ball_speed: float = 3.0, copy: bool = True) -> None:
        config = GameConfig(has_opponent=False, session_length=session_length,
                            paddle_height=paddle_height, ball_speed=ball_speed)
        super().__init__(num_envs, config, obs_type=obs_type, render_mode=render_mode, copy=copy)


class PongVectorEnv(PuckVectorEnv):
    """``num_envs`` Pong games (see :class:`~pucklab.envs.pong.PongEnv`)."""

    def __init__(self, num_envs: int = 1, obs_type: str = "pixels", session_length: int = 50,
                 opponent_skill: float = 0.5, render_mode: str | None = None,
                 paddle_height: int = 12, ball_speed: float = 3.0, copy: bool = True) -> None:
        config = GameConfig(has_opponent=True, session_length=session_length,
                            opponent_skill=opponent_skill, paddle_height=paddle_height,
                            ball_speed=ball_speed)
        super().__init__(num_envs, config, obs_type=obs_type, render_mode=render_mode, copy=copy)
