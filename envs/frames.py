"""Raw frames as observations: the current frame, or the last k frames stacked.

The alternatives to :mod:`pucklab.envs.wrappers`' frame difference, for ``train-agent
--observation`` and ``lab frame-difference``: one frame shows where the puck is but not where it
goes; two stacked frames carry the motion too, as a difference does, but leave the policy to
work it out (DQN's Atari stack).

Both versions return float32 (k, H, W) in [0, 1], oldest frame first, scaled by the observation
space's bounds like the difference. At the start of an episode there are no older frames: the
stack is the first frame repeated, as Gymnasium's ``FrameStackObservation(padding_type="reset")``
does. They work on any env whose observation is a single H x W frame.

- :func:`frame_stack` (one env) is Gymnasium's ``FrameStackObservation`` then a
  ``TransformObservation`` that scales.
- :class:`VectorFrameStack` is the batched equivalent (Gymnasium has no vector frame stack):
  next-step and same-step autoreset, and ``reset(options={"reset_mask": ...})``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorWrapper
from gymnasium.wrappers import FrameStackObservation, TransformObservation

from pucklab.envs.wrappers import EpisodeStarts, frame_scale, frame_shape


def _stack_space(frames: int, h: int, w: int) -> spaces.Box:
    return spaces.Box(0.0, 1.0, (frames, h, w), dtype=np.float32)


def frame_stack(env: gym.Env, frames: int = 2) -> gym.Env:
    """One env whose observation is its last ``frames`` frames, float32 (frames, H, W) in [0, 1].

    Example:
        >>> import gymnasium as gym
        >>> import pucklab.envs
        >>> from pucklab.envs.frames import frame_stack
        >>> env = frame_stack(gym.make("pucklab/AirHockey-v0"), 2)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype, bool((obs[0] == obs[1]).all())  # the first frame, twice
        ((2, 80, 80), dtype('float32'), True)
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    h, w = frame_shape(env.observation_space)
    low, scale = frame_scale(env.observation_space)
    stacked = FrameStackObservation(env, frames, padding_type="reset")

    def scaled(obs: Any) -> np.ndarray:
        return ((np.asarray(obs, dtype=np.float32).reshape(frames, h, w) - low)
                * np.float32(scale))

    return TransformObservation(stacked, scaled, _stack_space(frames, h, w))


class VectorFrameStack(VectorWrapper):
    """The last ``frames`` frames of every sub-env: float32 (B, frames, H, W) in [0, 1].

    Args:
        env: A vector env whose single observation is one frame.
        frames: How many frames to stack (1: the current frame alone).
        copy: Return a fresh array on each call (True) or the wrapper's own buffer, which the
            next step overwrites (False).
    """

    def __init__(self, env: VectorEnv, frames: int = 2, copy: bool = True) -> None:
        super().__init__(env)
        if frames < 1:
            raise ValueError(f"frames must be at least 1, got {frames}")
        h, w = frame_shape(env.single_observation_space)
        self._low, self._scale = frame_scale(env.single_observation_space)
        self.single_observation_space = _stack_space(frames, h, w)
        self.observation_space = spaces.Box(0.0, 1.0, (self.num_envs, frames, h, w),
                                            dtype=np.float32)
        self.copy = copy
        self._starts = EpisodeStarts(env)
        self._shape = (self.num_envs, h, w)
        self._out = np.zeros((self.num_envs, frames, h, w), dtype=np.float32)
        self._frame = np.zeros(self._shape, dtype=np.float32)  # this step's frame, scaled

    def _push(self, obs: np.ndarray, first: np.ndarray, rows: np.ndarray | None = None
              ) -> np.ndarray:
        """Shift every stack (of ``rows``, default all) one frame older and add ``obs``; a
        stack in ``first`` becomes ``obs`` repeated."""
        frames = np.asarray(obs).reshape(self._shape)
        np.multiply(frames, np.float32(self._scale), out=self._frame)  # one pass, no temporary
        if self._low:
            self._frame -= np.float32(self._low * self._scale)
        rows = np.ones(self.num_envs, dtype=np.bool_) if rows is None else rows
        go_on = rows & ~first
        if go_on.all():  # the common step: plain slices, no fancy-index copies
            self._out[:, :-1] = self._out[:, 1:]
            self._out[:, -1] = self._frame
        elif go_on.any():
            self._out[go_on, :-1] = self._out[go_on, 1:]
            self._out[go_on, -1] = self._frame[go_on]
        restart = rows & first
        if restart.any():
            self._out[restart] = self._frame[restart][:, None]
        return self._out.copy() if self.copy else self._out

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info, _, first = self._starts.reset(self.env, seed, options)
        # Games outside the mask go on: their observation stays the last stack they saw.
        return self._push(obs, first, rows=first), info

    def step(self, actions: Any) -> tuple[np.ndarray, Any, Any, Any, dict[str, Any]]:
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        first = self._starts.after_step(terminations, truncations)
        return self._push(obs, first), rewards, terminations, truncations, infos
