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

Evaluation, metrics columns, checkpoints and videos are the REINFORCE trainer's, so the curves
of the two algorithms are directly comparable.
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

from pucklab.agents.args import TrainArgs
from pucklab.agents.env_setup import EnvSetup, make_env
from pucklab.agents.policies import pooled_features, pooled_size
from pucklab.agents.train import (
    COLUMNS,
    TAGS,
    Counters,
    Interrupted,
    Progress,
    Summary,
    evaluate,
    finish,
    make_eval_env,
    record,
    resolve_device,
)
from pucklab.runs import MetricsLogger, RunError, save_checkpoint

# rl-zoo's Atari settings, the closest published ones for a pixel Pong: short rollouts, several
# epochs of minibatches (PPO); 5-step rollouts (A2C).
PPO_KWARGS = {"n_steps": 128, "n_epochs": 4, "batch_size": 256, "clip_range": 0.1,
              "vf_coef": 0.5}
A2C_KWARGS = {"n_steps": 5, "vf_coef": 0.25}


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


def make_model(args: TrainArgs, venv: VecEnv, device: torch.device) -> Any:
    """An SB3 PPO or A2C model for ``venv`` with our policy shapes."""
    from stable_baselines3 import A2C, PPO

    pixels = len(venv.observation_space.shape) >= 2
    image = pixels and len(venv.observation_space.shape) == 3 and args.policy == "cnn"
    hidden = args.hidden or 200
    policy_kwargs: dict[str, Any] = ({"normalize_images": False} if image
                                     else {"net_arch": {"pi": [hidden], "vf": [hidden]}})
    if pixels and args.policy == "pooled":  # the same 4x4 sign-split pooling as REINFORCE's
        policy_kwargs["features_extractor_class"] = PooledExtractor
    common = {"learning_rate": args.lr, "gamma": args.gamma, "ent_coef": args.entropy,
              "max_grad_norm": args.max_grad_norm if args.max_grad_norm > 0 else 1e9,
              "seed": args.seed, "device": device, "verbose": 0,
              "policy_kwargs": policy_kwargs}
    kind = "CnnPolicy" if image else "MlpPolicy"
    if args.algo == "ppo":
        batch = min(PPO_KWARGS["batch_size"], PPO_KWARGS["n_steps"] * venv.num_envs)
        return PPO(kind, venv, **{**PPO_KWARGS, "batch_size": batch}, **common)
    return A2C(kind, venv, **A2C_KWARGS, **common)


def sb3_logits(model: Any):
    """The model's policy as a function observations -> action logits."""
    def logits(obs: torch.Tensor) -> torch.Tensor:
        return model.policy.get_distribution(obs).distribution.logits

    return logits


def sb3_logits_fn(args: TrainArgs, state: dict[str, Any], device: torch.device):
    """Rebuild a saved SB3 policy (for evaluate / record) from a checkpoint."""
    setup = make_env(args.env, 1, args.env_kwargs, noop=args.noop,
                     observation=args.observation)
    try:
        model = make_model(args, SB3VecEnv(setup.env), device)
    finally:
        setup.close()
    model.policy.load_state_dict(state["policy"])
    model.policy.set_training_mode(False)
    return sb3_logits(model)


class _Progress(BaseCallback):
    """Counts sessions from the rollouts, logs our metrics columns, evaluates, checkpoints, and
    stops at the budget; Ctrl-C is left to propagate to :func:`train_sb3`."""

    def __init__(self, args: TrainArgs, run_dir: Path, counters: Counters, metrics: MetricsLogger,
                 eval_setup: EnvSetup, progress: Progress, device: torch.device) -> None:
        super().__init__()
        self.a, self.run_dir, self.c, self.metrics = args, run_dir, counters, metrics
        self.eval_setup, self.progress, self.device = eval_setup, progress, device
        self.wins = self.ended = 0
        self.reward_sum = 0.0
        self.running: np.ndarray | None = None
        self.t0 = time.perf_counter()
        self.base_time = counters.wall_time_s
        self.excluded = 0.0  # evaluation / video / checkpoint time
        self.last_save = time.monotonic()

    def wall(self) -> float:
        return self.base_time + time.perf_counter() - self.t0 - self.excluded

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
        return not self.progress.done(self.c)

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
        if self.a.eval_every and self.c.updates % self.a.eval_every == 0:
            win, reward, _ = evaluate(self.eval_setup, sb3_logits(self.model),
                                      self.a.eval_sessions, self.a.seed,
                                      not self.a.eval_stochastic, self.device)
            row.update(eval_win_rate=win, eval_session_reward=reward)
            self.c.last_eval = {"win_rate": win, "session_reward": reward}
        self.metrics.log(row)
        self.progress.show(self.c, row)
        if time.monotonic() - self.last_save >= self.a.checkpoint_minutes * 60:
            save_checkpoint(self.run_dir, sb3_state(self.model, self.a, self.c))
            self.last_save = time.monotonic()
        if self.a.video_every and self.c.updates % self.a.video_every == 0:
            record(self.a, sb3_logits(self.model),
                   self.run_dir / "videos" / f"update-{self.c.updates:06d}", self.device,
                   self.a.seed)
        self.excluded += time.perf_counter() - t


def sb3_state(model: Any, args: TrainArgs, counters: Counters) -> dict[str, Any]:
    return {"algo": args.algo, "env": args.env, "policy": model.policy.state_dict(),
            "optimizer": model.policy.optimizer.state_dict(),
            "counters": dict(vars(counters)), "rng": {"torch": torch.get_rng_state()}}


def train_sb3(args: TrainArgs, run_dir: Path, resume: dict[str, Any] | None) -> Summary:
    """Train (or continue) an SB3 PPO / A2C run; same outputs as the REINFORCE trainer."""
    device = resolve_device(args.device)
    setup = make_env(args.env, args.num_envs, args.env_kwargs, noop=args.noop,
                     observation=args.observation)
    eval_setup = make_eval_env(args)
    venv = SB3VecEnv(setup.env)
    model = make_model(args, venv, device)
    counters = Counters()
    if resume is not None:
        model.policy.load_state_dict(resume["policy"])
        model.policy.optimizer.load_state_dict(resume["optimizer"])
        counters = Counters(**resume["counters"])
        model.num_timesteps = counters.env_steps
        torch.set_rng_state(resume["rng"]["torch"])
    metrics = MetricsLogger(run_dir, COLUMNS, TAGS,
                            resume_from=counters.env_steps if resume is not None else None)
    progress = Progress(args, counters)
    callback = _Progress(args, run_dir, counters, metrics, eval_setup, progress, device)
    max_steps = progress.max_steps
    remaining = (max_steps - counters.env_steps) if max_steps is not None else 10**12
    try:
        if remaining > 0 and not progress.done(counters):
            model.learn(total_timesteps=remaining, callback=callback,
                        reset_num_timesteps=resume is None)
    except KeyboardInterrupt:
        progress.close()
        counters.wall_time_s = callback.wall()
        save_checkpoint(run_dir, sb3_state(model, args, counters))
        metrics.close()
        setup.close()
        eval_setup.close()
        raise Interrupted(f"interrupted after {counters.env_steps:,} env steps; checkpoint "
                          f"saved, continue with: train-agent --resume {run_dir}") from None
    except (ValueError, AssertionError) as err:  # SB3 refusing a space or a setting
        raise RunError(f"stable-baselines3 {args.algo}: {str(err).splitlines()[0]}") from err
    progress.close()
    counters.wall_time_s = callback.wall()
    save_checkpoint(run_dir, sb3_state(model, args, counters))
    setup.close()
    return finish(args, run_dir, counters, sb3_logits(model), eval_setup, metrics, device)
