"""Build the vector env an agent trains on, with the observation pipeline that env needs.

Three kinds of env id, one result (:class:`EnvSetup`):

- ``pucklab/...``: our batched core (``gym.make_vec`` -> the compiled vector env), pixels wrapped
  in :class:`~pucklab.envs.wrappers.VectorFrameDifference` (or, with ``observation``, raw
  frames: :class:`~pucklab.envs.frames.VectorFrameStack`). One rollout = one session per game.
- ``ALE/...``: ale-py, pg-pong preprocessing, then the same frame difference; credit windows end
  at every point (``reset_on_reward``), as in pg-pong. ``ALE/Pong-v5`` steps its games in
  ale-py's threaded ``AtariVectorEnv`` (:class:`~pucklab.agents.atari.PgPongVector`); other ALE
  ids in a ``SyncVectorEnv`` of wrapped games.
- anything else registered with Gymnasium: ``gym.make_vec``; its episodes are the sessions. An
  observation that is not a ``Box`` (FrozenLake's ``Discrete`` cell, Blackjack's ``Tuple`` of
  ``Discrete``) is flattened by Gymnasium's ``FlattenObservation``: a ``Discrete`` value becomes
  a one-hot vector. Spaces with no fixed-size vector (``Graph``, ``Sequence``) are refused. An
  env registered without a time limit (CliffWalking) gets Gymnasium's ``TimeLimit`` of
  :data:`DEFAULT_ROLLOUT_STEPS` steps, so that every episode ends and can be scored.

The action space must be ``Discrete`` (REINFORCE here samples from a categorical policy).
Problems the user can fix (unknown id, wrong action or observation space, missing ale-py or
another package the env needs, bad keyword) raise :class:`~pucklab.runs.RunError`, which the
CLI prints as one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium import spaces
from gymnasium.wrappers import FlattenObservation, TimeLimit

import pucklab.envs  # noqa: F401  (registers the pucklab ids)
from pucklab.agents.rollout import FrameBuffer
from pucklab.envs.frames import VectorFrameStack, frame_stack
from pucklab.envs.wrappers import FrameDifference, VectorFrameDifference
from pucklab.runs.store import RunError, require_choice

DEFAULT_ROLLOUT_STEPS = 1000  # cap on one rollout for envs without a known session length
#: What a policy sees of a pixel env: the frame difference (the default, pg-pong's), the
#: current frame alone, or the previous and current frames stacked.
OBSERVATIONS = ("difference", "frame", "frames2")
#: How other Gymnasium envs are vectorised (``gym.make_vec``'s ``vectorization_mode``).
VECTORIZATIONS = ("sync", "async")


def _pixels_vector(env: Any, observation: str) -> Any:
    if observation == "difference":
        return VectorFrameDifference(env, copy=False)
    return VectorFrameStack(env, 1 if observation == "frame" else 2, copy=False)


def _pixels_single(env: gym.Env, observation: str) -> gym.Env:
    if observation == "difference":
        return FrameDifference(env)
    return frame_stack(env, 1 if observation == "frame" else 2)


@dataclass
class EnvSetup:
    """A vector env ready for :func:`pucklab.agents.rollout.collect`, and how to count it."""

    env: Any  # gymnasium.vector.VectorEnv, next-step autoreset
    obs_shape: tuple[int, ...]
    num_actions: int
    rollout_steps: int  # max steps of one rollout
    reset_on_reward: bool  # a non-zero reward closes a credit window (ALE points)
    first_session_only: bool  # count one session per sub-env and rollout (pucklab)
    frames: FrameBuffer = field(default_factory=FrameBuffer)  # its rollouts' observations

    def close(self) -> None:
        self.env.close()


def is_pucklab(env_id: str) -> bool:
    return env_id.startswith("pucklab/")


def is_ale(env_id: str) -> bool:
    return env_id.startswith("ALE/")


def _check_id(env_id: str) -> None:
    if is_ale(env_id):
        from pucklab.agents.atari import require_ale

        require_ale()
    try:
        gym.spec(env_id)
    except gym.error.Error as err:
        raise RunError(f"unknown env id {env_id!r}: {str(err).splitlines()[0]}") from err


def generic(env: gym.Env) -> gym.Env:
    """A Gymnasium env as train-agent plays it: episodes that end, ``Box`` observations (other
    spaces flattened, ``Discrete`` -> one-hot)."""
    if env.spec is not None and env.spec.max_episode_steps is None:
        env = TimeLimit(env, DEFAULT_ROLLOUT_STEPS)
    space = env.observation_space
    if isinstance(space, spaces.Box):
        return env
    if not space.is_np_flattenable:
        raise RunError(f"{env.spec.id if env.spec else env} has {space} observations, which have "
                       "no fixed-size vector form; train-agent needs Box, Discrete, "
                       "MultiDiscrete, MultiBinary, Text or a Tuple/Dict of those")
    return FlattenObservation(env)


def _unavailable(env_id: str, err: gym.error.DependencyNotInstalled) -> RunError:
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    return RunError(f"{env_id} needs a package that is not installed: {first}")


def _check_action_space(env_id: str, space: gym.Space) -> int:
    if not isinstance(space, spaces.Discrete):
        raise RunError(f"{env_id} has a {type(space).__name__} action space; "
                       "train-agent needs a Discrete one")
    return int(space.n)


def ale_sync(env_id: str, num_envs: int, noop: bool = False, observation: str = "difference",
             **kwargs: Any) -> Any:
    """A ``SyncVectorEnv`` of ALE games with pg-pong's preprocessing, then ``observation``:
    the path of ALE ids other than ``ALE/Pong-v5`` (and ``benchmarks/ale_speed.py``'s baseline)."""
    from pucklab.agents.atari import PgPongPreprocess

    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                       wrappers=[lambda e: PgPongPreprocess(e, noop=noop)], **kwargs)
    return _pixels_vector(env, observation)


def make_env(env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None,
             noop: bool = False, observation: str = "difference",
             vectorization: str = "sync") -> EnvSetup:
    """The training / evaluation vector env for ``env_id`` with ``num_envs`` sub-envs.

    ``noop`` adds NOOP to ALE Pong's UP/DOWN actions; ``observation`` (one of
    :data:`OBSERVATIONS`) is what the policy sees of a pixel env (pucklab's and ALE's);
    ``vectorization`` (sync or async) runs the envs of any other Gymnasium id.
    """
    kwargs = dict(env_kwargs or {})
    require_choice("observation", observation, OBSERVATIONS)
    _check_id(env_id)
    try:
        if is_pucklab(env_id):
            env = gym.make_vec(env_id, num_envs=num_envs, copy=False, **kwargs)
            obs_type = kwargs.get("obs_type", "pixels")
            if obs_type == "pixels":
                env = _pixels_vector(env, observation)
            rollout = int(kwargs.get("session_length", 50)) + 1
            reset_on_reward, first_only = False, True
        elif env_id == "ALE/Pong-v5":  # ale-py's threaded vector env, pg-pong frames
            from pucklab.agents.atari import PgPongVector

            env = _pixels_vector(PgPongVector(num_envs, noop=noop, **kwargs), observation)
            rollout, reset_on_reward, first_only = DEFAULT_ROLLOUT_STEPS, True, False
        elif is_ale(env_id):
            env = ale_sync(env_id, num_envs, noop, observation, **kwargs)
            rollout, reset_on_reward, first_only = DEFAULT_ROLLOUT_STEPS, True, False
        else:
            require_choice("vectorization", vectorization, VECTORIZATIONS)
            env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization,
                               wrappers=[generic],  # type: ignore[list-item]  # may add none
                               **kwargs)
            rollout, reset_on_reward, first_only = DEFAULT_ROLLOUT_STEPS, False, False
    except gym.error.DependencyNotInstalled as err:  # LunarLander without Box2D
        raise _unavailable(env_id, err) from err
    except TypeError as err:  # an unknown keyword in --env-kwargs
        raise RunError(f"{env_id}: bad --env-kwargs: {str(err).splitlines()[0]}") from err
    except ValueError as err:  # a keyword our envs validate (GameConfig, obs_type)
        raise RunError(f"{env_id}: {str(err).splitlines()[0]}") from err
    num_actions = _check_action_space(env_id, env.single_action_space)
    return EnvSetup(env=env, obs_shape=tuple(env.single_observation_space.shape or ()),
                    num_actions=num_actions, rollout_steps=rollout,
                    reset_on_reward=reset_on_reward, first_session_only=first_only)


def make_single_env(env_id: str, env_kwargs: dict[str, Any] | None = None,
                    render_mode: str | None = "rgb_array", noop: bool = False,
                    observation: str = "difference") -> gym.Env:
    """One env with the same observation pipeline as :func:`make_env`, for videos."""
    kwargs = dict(env_kwargs or {})
    _check_id(env_id)
    if render_mode == "rgb_array":  # pygame renderers off screen: no sound device either
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        if not is_pucklab(env_id):  # nor a screen (toy-text's pygame.init() probes for one);
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # ours draw without pygame
    try:
        env = gym.make(env_id, render_mode=render_mode, **kwargs)
    except gym.error.DependencyNotInstalled as err:
        raise _unavailable(env_id, err) from err
    if is_ale(env_id):
        from pucklab.agents.atari import PgPongPreprocess

        env = _pixels_single(PgPongPreprocess(env, noop=noop), observation)
    elif is_pucklab(env_id) and kwargs.get("obs_type", "pixels") == "pixels":
        env = _pixels_single(env, observation)
    elif not is_pucklab(env_id):
        env = generic(env)
    return env
