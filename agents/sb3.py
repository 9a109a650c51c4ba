"""stable-baselines3 PPO / A2C on the same env, the same observations, the same metrics.

SB3 speaks its own ``VecEnv`` API, not Gymnasium's ``VectorEnv``: ``step`` returns
``(obs, rewards, dones, infos)`` with a list of info dicts, and an env that ends an episode
resets *in the same step*, handing back the new episode's first observation and putting the last
one in ``infos[i]["terminal_observation"]`` (plus ``"TimeLimit.truncated"`` for a cut-off
episode, so SB3 bootstraps its value there). Our vector envs autoreset on the *next* step
instead. :class:`SB3VecEnv` bridges the two by resetting the ended sub-envs at once through
``reset(options={"reset_mask": ...})``, which pucklab's vector env, our frame-difference wrapper
and Gymnasium's ``SyncVectorEnv`` all support.

Frame differences are float32 in [-1, 1], not uint8 images, so CNN policies get
``normalize_images=False`` (SB3 would otherwise divide by 255). The MLP actor and critic get one
hidden layer of ``--hidden`` units (200 by default), pg-pong's shape.

Evaluation, metrics columns, checkpoints, videos, the report callback and Ctrl-C are the
harness's (harness.py), as for REINFORCE, so the curves of the two algorithms compare directly.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv

from pucklab.agents.env_setup import make_env
from pucklab.agents.harness import Counters, Harness, checkpoint, misfit
from pucklab.agents.policies import pooled_features, pooled_size
from pucklab.agents.settings import AgentSettings
from pucklab.runs.device import resolve_device
from pucklab.runs.result import Report
from pucklab.runs.rng import restore_rng
from pucklab.runs.stopping import StopFlag
from pucklab.runs.store import RunError, load_weights

# rl-zoo's Atari settings, the closest published ones for a pixel Pong: short rollouts, several
# epochs of minibatches (PPO); 5-step rollouts (A2C).
PPO_KWARGS: dict[str, Any] = {"n_steps": 128, "n_epochs": 4, "batch_size": 256,
                              "clip_range": 0.1, "vf_coef": 0.5}
A2C_KWARGS: dict[str, Any] = {"n_steps": 5, "vf_coef": 0.25}


class SB3VecEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` (next-step autoreset, ``reset_mask`` support) as an SB3 VecEnv."""

    def __init__(self, env: Any) -> None:
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]  # VecEnv.seed(s) sets s + i for sub-env i: ours does the same
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return np.array(obs)  # a copy: our envs may reuse their buffers

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, terminated, truncated, info = self.env.step(self._actions)
        obs = np.array(obs)
        dones = np.logical_or(terminated, truncated)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            first, _ = self.env.reset(options={"reset_mask": dones})
            obs[dones] = np.asarray(first)[dones]
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self.env, attr_name)  # one batched env: the same for every sub-env
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None,
                   **kwargs: Any) -> list[Any]:
        raise NotImplementedError("env_method: the sub-envs run inside one batched env")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


class PooledExtractor(BaseFeaturesExtractor):
    """SB3 features for ``--policy pooled``: the parameter-free 4x4 sign-split pooling of
    :class:`~pucklab.agents.policies.PooledMLP` (its hidden layer is SB3's ``net_arch``)."""

    def __init__(self, observation_space: Any) -> None:
        super().__init__(observation_space, pooled_size(tuple(observation_space.shape)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return pooled_features(obs)


def make_model(settings: AgentSettings, venv: VecEnv, device: torch.device) -> Any:
    """An SB3 PPO or A2C model for ``venv`` with our policy shapes."""
    from stable_baselines3 import A2C, PPO

    shape = venv.observation_space.shape or ()
    pixels = len(shape) >= 2
    image = pixels and len(shape) == 3 and settings.policy == "cnn"
    hidden = settings.hidden or 200
    policy_kwargs: dict[str, Any] = ({"normalize_images": False} if image
                                     else {"net_arch": {"pi": [hidden], "vf": [hidden]}})
    if pixels and settings.policy == "pooled":  # the same 4x4 sign-split pooling as REINFORCE's
        policy_kwargs["features_extractor_class"] = PooledExtractor
    common: dict[str, Any] = {
        "learning_rate": settings.lr, "gamma": settings.gamma, "ent_coef": settings.entropy,
        "max_grad_norm": settings.max_grad_norm if settings.max_grad_norm > 0 else 1e9,
        "seed": settings.seed, "device": device, "verbose": 0, "policy_kwargs": policy_kwargs}
    kind = "CnnPolicy" if image else "MlpPolicy"
    if settings.algo == "ppo":
        batch = min(PPO_KWARGS["batch_size"], PPO_KWARGS["n_steps"] * venv.num_envs)
        return PPO(kind, venv, **{**PPO_KWARGS, "batch_size": batch}, **common)
    return A2C(kind, venv, **A2C_KWARGS, **common)


def sb3_logits(model: Any) -> Any:
    """The model's policy as a function observations -> action logits."""
    def logits(obs: torch.Tensor) -> torch.Tensor:
        return model.policy.get_distribution(obs).distribution.logits

    return logits


def sb3_logits_fn(settings: AgentSettings, state: dict[str, Any], device: torch.device,
                  run_dir: Path) -> Any:
    """Rebuild a saved SB3 policy (for evaluate / record) from a checkpoint."""
    setup = make_env(settings.env, 1, settings.env_kwargs, noop=settings.noop,
                     observation=settings.observation)
    try:
        model = make_model(settings, SB3VecEnv(setup.env), device)
    finally:
        setup.close()
    load_weights(model.policy, state["policy"], misfit(run_dir))
    model.policy.set_training_mode(False)
    return sb3_logits(model)


class _Callback(BaseCallback):
    """Counts sessions from the rollouts and hands the harness one metrics row per rollout;
    stops SB3 at a time budget (a step budget is ``learn``'s own). Exceptions from ``report``
    propagate out of ``learn``; Ctrl-C too, taken when the next rollout starts (the last
    update done, its row written)."""

    def __init__(self, harness: Harness, flag: StopFlag) -> None:
        super().__init__()
        self.h, self.c, self.flag = harness, harness.c, flag
        self.wins = self.ended = 0
        self.reward_sum = 0.0
        self.running: np.ndarray | None = None
        self.t0 = time.perf_counter()
        self.base_time = self.c.wall_time_s
        self.excluded = 0.0  # evaluation / video / checkpoint time

    def wall(self) -> float:
        return self.base_time + time.perf_counter() - self.t0 - self.excluded

    def _on_rollout_start(self) -> None:
        self.flag.check()

    def _on_step(self) -> bool:
        rewards, dones = self.locals["rewards"], self.locals["dones"]
        if self.running is None:
            self.running = np.zeros(len(rewards))
        self.running += rewards
        for i in np.flatnonzero(dones):
            self.ended += 1
            self.wins += int(self.running[i] > 0)
            self.reward_sum += float(self.running[i])
            self.running[i] = 0.0
        self.c.env_steps = int(self.num_timesteps)
        self.c.wall_time_s = self.wall()
        # A step budget is learn()'s total_timesteps: SB3 ends after the rollout that reaches
        # it, and trains on it. Stopping here instead would drop that last update.
        return not self.h.budget.out_of_time(self.c)

    def _on_rollout_end(self) -> None:
        # The loss and entropy SB3 logged are those of the last update (one rollout behind).
        values = self.model.logger.name_to_value
        self.c.updates += 1
        self.c.sessions += self.ended
        row: dict[str, float] = {
            "env_steps": self.c.env_steps, "wall_time_s": round(self.wall(), 3),
            "sessions": self.c.sessions, "updates": self.c.updates,
            "win_rate": self.wins / self.ended if self.ended else math.nan,
            "mean_session_reward": self.reward_sum / self.ended if self.ended else math.nan,
            "loss": values.get("train/policy_gradient_loss",
                               values.get("train/policy_loss", math.nan)),
            "entropy": -values.get("train/entropy_loss", math.nan)}
        self.wins = self.ended = 0
        self.reward_sum = 0.0
        t = time.perf_counter()
        self.h.after_update(row, sb3_logits(self.model))
        self.excluded += time.perf_counter() - t


def train(settings: AgentSettings, run_dir: Path, resume: dict[str, Any] | None = None,
          report: Report | None = None) -> Harness:
    """Train (or continue) an SB3 PPO / A2C run; the same outputs as REINFORCE's
    (:func:`pucklab.agents.reinforce.train`). Returns the finished harness."""
    s = settings
    assert s.num_envs is not None, "resolved settings"
    device = resolve_device(s.device)
    setup = make_env(s.env, s.num_envs, s.env_kwargs, noop=s.noop, observation=s.observation,
                     vectorization=s.vectorization)
    try:
        model = make_model(s, SB3VecEnv(setup.env), device)
    except (ValueError, AssertionError) as err:  # SB3 refusing a space or a setting
        setup.close()
        raise RunError(f"stable-baselines3 {s.algo}: {str(err).splitlines()[0]}") from err
    counters = Counters()
    if resume is not None:
        load_weights(model.policy, resume["policy"], misfit(run_dir))
        model.policy.optimizer.load_state_dict(resume["optimizer"])
        counters = Counters(**resume["counters"])
        model.num_timesteps = counters.env_steps
        restore_rng(resume["rng"])
    callback: _Callback | None = None

    def state() -> dict[str, Any]:
        if callback is not None:
            counters.wall_time_s = callback.wall()
        return checkpoint(s.algo, s.env, model.policy.state_dict(),
                          model.policy.optimizer.state_dict(), counters)

    harness = Harness(s, run_dir, counters, device, state, report, resumed=resume is not None)
    max_steps = harness.budget.max_steps
    remaining = (max_steps - counters.env_steps) if max_steps is not None else 10**12
    start = counters.updates
    try:
        with harness.training(lambda: f"{counters.env_steps:,} env steps") as flag:
            callback = _Callback(harness, flag)
            if remaining > 0 and not harness.done():
                try:
                    model.learn(total_timesteps=remaining, callback=callback,
                                reset_num_timesteps=resume is None)
                except (ValueError, AssertionError) as err:  # SB3 refusing a space or setting
                    raise RunError(f"stable-baselines3 {s.algo}: "
                                   f"{str(err).splitlines()[0]}") from err
    finally:
        setup.close()
    harness.finish(sb3_logits(model), trained=counters.updates > start)
    return harness
