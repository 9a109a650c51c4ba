"""Frame differences: the agent sees ``frame_t - frame_{t-1}``, as in Karpathy's pg-pong.

A single frame shows where things are, not where they go; the difference of consecutive frames
shows motion, so a memoryless policy can tell a puck coming from one going away.

Both wrappers return float32 (1, H, W) in [-1, 1]: frames are first scaled to [0, 1] by their
observation space's bounds (uint8 0..255 -> /255), and the difference is zero on the first frame
of an episode. They work on any env whose observation is a single H x W frame ((H, W), (1, H, W)
or (H, W, 1)); pucklab's are 80x80.

``VectorFrameDifference`` has a fast path for envs that can compute the difference themselves
(pucklab's vector envs, ``track_differences``): they write it while redrawing the few pixels
that changed, instead of a second pass over B frames with a copy of the previous ones.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from pucklab.envs.jit import njit


def frame_shape(space: gym.Space) -> tuple[int, int]:
    """(H, W) of a single-frame Box space, else a ValueError saying what is needed."""
    if not isinstance(space, spaces.Box):
        raise ValueError(f"frame difference needs a Box observation space, got {space}")
    shape = tuple(space.shape)
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2]
    if len(shape) == 3 and shape[2] == 1:
        return shape[0], shape[1]
    if len(shape) == 2:
        return shape
    raise ValueError(f"frame difference needs one frame of shape (H, W), (1, H, W) or (H, W, 1), "
                     f"got observation shape {shape}")


def frame_scale(space: gym.Space[Any]) -> tuple[float, float]:
    """(low, 1 / (high - low)): maps the space's frames to [0, 1]."""
    if not isinstance(space, spaces.Box):
        raise ValueError(f"frame difference needs a Box observation space, got {space}")
    low, high = np.min(space.low), np.max(space.high)
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise ValueError(f"frame difference needs finite frame bounds, got [{low}, {high}]")
    return float(low), float(1.0 / (high - low))


def _difference_space(h: int, w: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (1, h, w), dtype=np.float32)


@njit
def _diff_full(frames, prev, out, reset, low, scale) -> None:
    """out = scaled(frames) - prev on every pixel (zero for games in ``reset``); prev = scaled."""
    for g in range(frames.shape[0]):
        for y in range(frames.shape[1]):
            for x in range(frames.shape[2]):
                v = np.float32((frames[g, y, x] - low) * scale)
                out[g, y, x] = 0.0 if reset[g] else v - prev[g, y, x]
                prev[g, y, x] = v


class FrameDifference(gym.Wrapper):
    """Observation = current frame - previous frame, float32 (1, H, W) in [-1, 1].

    Zeros on the first observation after ``reset`` (there is no previous frame yet).

    Example:
        >>> import gymnasium as gym
        >>> import pucklab.envs
        >>> from pucklab.envs.wrappers import FrameDifference
        >>> env = FrameDifference(gym.make("pucklab/AirHockey-v0"))
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype, float(abs(obs).max())
        ((1, 80, 80), dtype('float32'), 0.0)
        >>> obs, *_ = env.step(1)
        >>> sorted(set(obs.ravel().tolist()))  # pixels that lit up, went dark, stayed
        [-1.0, 0.0, 1.0]
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._h, self._w = frame_shape(env.observation_space)
        self._low, self._scale = frame_scale(env.observation_space)
        self.observation_space = _difference_space(self._h, self._w)
        self._prev = np.zeros((1, self._h, self._w), dtype=np.float32)
        self._reset = np.ones(1, dtype=np.bool_)
        self._keep = np.zeros(1, dtype=np.bool_)

    def _difference(self, obs: np.ndarray, first: np.ndarray) -> np.ndarray:
        out = np.empty((1, self._h, self._w), dtype=np.float32)
        _diff_full(np.asarray(obs).reshape(1, self._h, self._w), self._prev, out, first,
                   self._low, self._scale)
        return out

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._difference(obs, self._reset), info

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._difference(obs, self._keep), reward, terminated, truncated, info


class EpisodeStarts:
    """Which sub-envs of a vector env begin a new episode with the observation just returned.

    Shared by the frame wrappers, whose state restarts there. Next-step autoreset: a step's
    observation is a new episode's first where the *previous* step ended one; same-step: where
    this step ended one; disabled: only through ``reset``.
    """

    def __init__(self, env: VectorEnv) -> None:
        self.mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        self._ended = np.ones(env.num_envs, dtype=np.bool_)  # the last step ended an episode

    @staticmethod
    def reset_mask(options: dict[str, Any] | None) -> np.ndarray | None:
        """The ``reset_mask`` of ``reset``'s options, read before the env sees them (Gymnasium's
        ``SyncVectorEnv`` pops it), or None for a full reset."""
        return None if not options or "reset_mask" not in options else options["reset_mask"]

    def after_reset(self, mask: np.ndarray | None) -> np.ndarray:
        first = (np.ones(len(self._ended), dtype=np.bool_) if mask is None
                 else np.asarray(mask, dtype=np.bool_))
        self._ended[first] = False
        return first

    def reset(self, env: VectorEnv, seed: int | list[int | None] | None,
              options: dict[str, Any] | None
              ) -> tuple[Any, dict[str, Any], np.ndarray | None, np.ndarray]:
        """``env.reset`` (seed: one int, or one per sub-env); (obs, info, the reset mask or
        None, which sub-envs start an episode)."""
        mask = self.reset_mask(options)
        obs, info = env.reset(seed=seed,  # type: ignore[arg-type]  # a list is fine too
                              options=None if options is None else dict(options))
        return obs, info, mask, self.after_reset(mask)

    def after_step(self, terminations: Any, truncations: Any) -> np.ndarray:
        if self.mode == AutoresetMode.SAME_STEP:
            return np.logical_or(terminations, truncations)
        if self.mode == AutoresetMode.NEXT_STEP:
            first = self._ended.copy()
            np.logical_or(terminations, truncations, out=self._ended)
            return first
        return np.zeros(len(self._ended), dtype=np.bool_)


class VectorFrameDifference(VectorWrapper):
    """Frame differences for a ``VectorEnv``: float32 (B, 1, H, W) in [-1, 1].

    A sub-env's difference is zero on the first observation of each of its episodes, with
    next-step or same-step autoreset and with ``reset(options={"reset_mask": ...})``.

    Args:
        env: A vector env whose single observation is one frame.
        copy: Return a fresh array on each call (True) or the same buffer each time, which the
            next step overwrites (False: no 26 MB copy per step at B = 1024).
    """

    def __init__(self, env: VectorEnv, copy: bool = True) -> None:
        super().__init__(env)
        h, w = frame_shape(env.single_observation_space)
        self._low, self._scale = frame_scale(env.single_observation_space)
        self.single_observation_space = _difference_space(h, w)
        self.observation_space = spaces.Box(-1.0, 1.0, (self.num_envs, 1, h, w), dtype=np.float32)
        self.copy = copy
        self._starts = EpisodeStarts(env)
        self._shape = (self.num_envs, h, w)
        self._out = np.zeros((self.num_envs, 1, h, w), dtype=np.float32)
        # Fast path: the env computes the differences as it steps (frames unsigned from 0).
        track = getattr(env.unwrapped, "track_differences", None)
        self._fast = (callable(track) and self._low == 0.0
                      and np.issubdtype(env.single_observation_space.dtype, np.unsignedinteger))
        if self._fast:
            self._out = track(np.float32(self._scale))  # type: ignore[misc]  # callable
        else:
            self._prev = np.zeros(self._shape, dtype=np.float32)

    def _difference(self, obs: np.ndarray, first: np.ndarray) -> np.ndarray:
        if not self._fast:
            _diff_full(np.asarray(obs).reshape(self._shape), self._prev,
                       self._out.reshape(self._shape), first, self._low, self._scale)
        return self._out.copy() if self.copy else self._out

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info, mask, first = self._starts.reset(self.env, seed, options)
        if mask is None or self._fast:  # the env keeps held games' differences itself
            return self._difference(obs, first), info
        # Games outside the mask go on: their observation stays the last difference they saw.
        keep = ~first
        out = self._out[keep].copy()
        self._difference(obs, first)
        self._out[keep] = out
        return (self._out.copy() if self.copy else self._out), info

    def step(self, actions: Any) -> tuple[np.ndarray, Any, Any, Any, dict[str, Any]]:
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        first = self._starts.after_step(terminations, truncations)
        return self._difference(obs, first), rewards, terminations, truncations, infos
