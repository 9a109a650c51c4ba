"""ALE Pong the pg-pong way: crop, downsample, erase the background, binarise; UP/DOWN only.

Karpathy's ``prepro`` turns a 210x160x3 Atari frame into an 80x80 0/1 image: crop rows 35-195
(the playing field, without the score), keep every second pixel, erase the two background
colours (144 and 109 in the red channel), set everything else to 1. We keep it as uint8 0/255 in
a (1, 80, 80) Box, the same observation format as pucklab's own envs, so the same
``FrameDifference`` wrapper and the same policies work on both.

ale-py is the optional ``[atari]`` extra: :func:`require_ale` says how to install it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pucklab.runs import RunError

CROP = (35, 195)  # rows of the playing field in a 210-row frame
BACKGROUND = (144, 109)  # red-channel values of Pong's two background colours


def require_ale() -> Any:
    """Import ale-py and register the ALE ids, or raise a one-line :class:`RunError`."""
    try:
        import ale_py
    except ImportError as err:
        raise RunError("ALE envs need ale-py: pip install 'pucklab[atari]'") from err
    gym.register_envs(ale_py)
    return ale_py


def prepro(frame: np.ndarray) -> np.ndarray:
    """(210, 160, 3) uint8 Atari frame -> (1, 80, 80) uint8 frame, 255 where anything is drawn."""
    field = frame[CROP[0]:CROP[1]:2, ::2, 0]  # crop, downsample by 2, red channel
    drawn = (field != BACKGROUND[0]) & (field != BACKGROUND[1])
    return (drawn.astype(np.uint8) * 255)[None]


class PgPongPreprocess(gym.Wrapper):
    """pg-pong's observation and action preprocessing for ``ALE/Pong-v5``.

    Observations: :func:`prepro` frames, ``Box(0, 255, (1, 80, 80), uint8)``.
    Actions: ``Discrete(2)`` = UP, DOWN (ALE's RIGHT and LEFT in Pong), or ``Discrete(3)`` with
    NOOP first when ``noop=True``.
    """

    def __init__(self, env: gym.Env, noop: bool = False) -> None:
        super().__init__(env)
        meanings = list(env.unwrapped.get_action_meanings())
        wanted = (["NOOP"] if noop else []) + ["RIGHT", "LEFT"]  # RIGHT moves Pong's paddle up
        missing = [m for m in wanted if m not in meanings]
        if missing:
            raise RunError(f"{env.spec.id if env.spec else env}: no {'/'.join(missing)} action "
                           "(the pg-pong preprocessing is for Pong)")
        self._actions = np.array([meanings.index(m) for m in wanted])
        self.action_space = spaces.Discrete(len(wanted))
        self.observation_space = spaces.Box(0, 255, (1, 80, 80), np.uint8)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return prepro(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(int(self._actions[int(action)]))
        return prepro(obs), reward, terminated, truncated, info
