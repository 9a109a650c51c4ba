"""ALE Pong the pg-pong way: crop, downsample, erase the background, binarise; UP/DOWN only.

Karpathy's ``prepro`` turns a 210x160x3 Atari frame into an 80x80 0/1 image: crop rows 35-195
(the playing field, without the score), keep every second pixel, erase the two background
colours (144 and 109 in the red channel), set everything else to 1. We keep it as uint8 0/255 in
a (1, 80, 80) Box, the same observation format as pucklab's own envs, so the same
``FrameDifference`` wrapper and the same policies work on both.

``ALE/Pong-v5`` trains on :class:`PgPongVector`: ale-py's own threaded ``AtariVectorEnv`` (the
games step in C++ threads) with the same preprocessing applied to the whole batch at once. On 2
cores that measured 1.3-1.4x the env steps per second of Gymnasium's ``SyncVectorEnv`` of wrapped
games (``benchmarks/ale_speed.py``: the emulator is most of the cost). Videos still play one
game through :class:`PgPongPreprocess`.

ale-py is the optional ``[atari]`` extra: :func:`require_ale` says how to install it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pucklab.runs.store import RunError

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


PONG_ACTIONS = {"NOOP": 0, "RIGHT": 2, "LEFT": 3}  # Pong's minimal action set: RIGHT moves up
#: ``--env-kwargs`` PgPongVector takes, as ``gym.make("ALE/Pong-v5", ...)`` does (v5 defaults).
VECTOR_KWARGS = {"frameskip": 4, "repeat_action_probability": 0.25,
                 "max_num_frames_per_episode": 108_000}


def prepro_batch(frames: np.ndarray) -> np.ndarray:
    """(N, 210, 160, 3) uint8 Atari frames -> (N, 1, 80, 80) uint8, 255 where anything is
    drawn: crop, downsample by 2, red channel, background erased."""
    field = frames[:, CROP[0]:CROP[1]:2, ::2, 0]
    drawn = (field != BACKGROUND[0]) & (field != BACKGROUND[1])
    return (drawn.astype(np.uint8) * 255)[:, None]


def prepro(frame: np.ndarray) -> np.ndarray:
    """(210, 160, 3) uint8 Atari frame -> (1, 80, 80) uint8 frame (:func:`prepro_batch`)."""
    return prepro_batch(frame[None])[0]


class PgPongPreprocess(gym.Wrapper):
    """pg-pong's observation and action preprocessing for ``ALE/Pong-v5``.

    Observations: :func:`prepro` frames, ``Box(0, 255, (1, 80, 80), uint8)``.
    Actions: ``Discrete(2)`` = UP, DOWN (ALE's RIGHT and LEFT in Pong), or ``Discrete(3)`` with
    NOOP first when ``noop=True``.
    """

    def __init__(self, env: gym.Env, noop: bool = False) -> None:
        super().__init__(env)
        meanings = list(env.unwrapped.get_action_meanings())  # type: ignore[attr-defined]  # ALE's
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
        return prepro(obs), float(reward), terminated, truncated, info


class PgPongVector(gym.vector.VectorEnv):
    """``num_envs`` games of ALE Pong stepped by ale-py's ``AtariVectorEnv`` (C++ threads), with
    pg-pong's frames (:func:`prepro`, on the whole batch) and UP/DOWN[/NOOP] actions.

    The games are ``ALE/Pong-v5``'s: frameskip 4, sticky actions 0.25, unless ``kwargs`` (from
    ``--env-kwargs``: :data:`VECTOR_KWARGS`) say otherwise. Autoreset is on the next step, as
    Gymnasium's vector envs do.
    """

    def __init__(self, num_envs: int, noop: bool = False, **kwargs: Any) -> None:
        require_ale()
        from ale_py.vector_env import AtariVectorEnv

        unknown = sorted(set(kwargs) - set(VECTOR_KWARGS))
        if unknown:
            raise RunError(f"ALE/Pong-v5: bad --env-kwargs {', '.join(unknown)}; it takes "
                           f"{', '.join(VECTOR_KWARGS)}")
        options = {**VECTOR_KWARGS, **kwargs}
        self.ale = AtariVectorEnv(
            "pong", num_envs, grayscale=False, img_height=210, img_width=160, stack_num=1,
            maxpool=False, noop_max=0, reward_clipping=False, use_fire_reset=False,
            episodic_life=False, **options)
        wanted = (["NOOP"] if noop else []) + ["RIGHT", "LEFT"]
        self._actions = np.array([PONG_ACTIONS[m] for m in wanted], dtype=np.int64)
        self.num_envs = num_envs
        self.single_action_space = spaces.Discrete(len(wanted))
        self.action_space = spaces.MultiDiscrete([len(wanted)] * num_envs)
        self.single_observation_space = spaces.Box(0, 255, (1, 80, 80), np.uint8)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                               num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:  # ale-py seeds its games with C ints: seed .. seed + N - 1
            seed = int(seed) % (2**31 - self.num_envs)
        obs, info = self.ale.reset(seed=seed, options=options)
        return prepro_batch(obs[:, 0]), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.ale.step(
            self._actions[np.asarray(actions, dtype=np.int64)])
        return (prepro_batch(obs[:, 0]), np.asarray(reward, dtype=np.float32), terminated,
                truncated, info)

    def close(self, **kwargs: Any) -> None:
        self.ale.close()
