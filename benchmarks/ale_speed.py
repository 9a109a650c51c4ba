"""ALE Pong env steps per second, pg-pong frames, three ways, measured in the same run:

  (a) a pg-pong-style loop: one ``gym.make("ALE/Pong-v5")`` game with pg-pong's preprocessing;
  (b) Gymnasium's ``SyncVectorEnv`` of N such games (train-agent's path before);
  (c) :class:`~pucklab.agents.atari.PgPongVector`: ale-py's threaded ``AtariVectorEnv``, the same
      frames made for the whole batch at once (train-agent's path now).

Each twice: with random UP/DOWN actions drawn up front (the envs alone), and while training.
Training is (a) pg-pong's own numpy algorithm (80x80 difference -> 200 ReLU -> P(UP), RMSProp
every 10 games) and (b), (c) train-agent's REINFORCE with its ALE defaults. ``ALE/Pong-v5``'s
games in every row: frameskip 4, sticky actions 0.25.

    python benchmarks/ale_speed.py [--envs 8] [--seconds 5] [--train-seconds 60]
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from pucklab.agents import reinforce
from pucklab.agents.atari import PgPongPreprocess, PgPongVector, require_ale
from pucklab.agents.env_setup import DEFAULT_ROLLOUT_STEPS, EnvSetup, ale_sync, make_env
from pucklab.agents.harness import Counters
from pucklab.agents.policies import make_policy, policy_args
from pucklab.agents.settings import AgentSettings
from pucklab.runs.optim import make_optimizer
from pucklab.runs.provenance import publish


def rate(step, reset, n: int, seconds: float, rng: np.random.Generator) -> float:
    """Env steps per second of ``step(actions)`` over about ``seconds``."""
    reset()
    actions = rng.integers(0, 2, (4096, n))
    done, k, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(actions[k % len(actions)] if n > 1 else int(actions[k % len(actions), 0]))
        done += n
        k += 1
    return done / (time.perf_counter() - t0)


def pg_pong_training_rate(seconds: float, seed: int = 0) -> float:
    """Env steps per second of pg-pong's algorithm in numpy on one game, over ``seconds``.

    Per step: frame difference -> 200 ReLU -> sigmoid P(UP), a sampled action; at each game's end
    the discounted, standardised rewards (reset at every point) weight the log-probability
    gradients; RMSProp (decay 0.99, lr 1e-4) every 10 games."""
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((200, 6400)) / np.sqrt(6400)
    w2 = rng.standard_normal(200) / np.sqrt(200)
    grads = [np.zeros_like(w1), np.zeros_like(w2)]
    cache = [np.zeros_like(w1), np.zeros_like(w2)]
    env = PgPongPreprocess(gym.make("ALE/Pong-v5"))
    frame, _ = env.reset(seed=seed)
    last = frame
    xs, hs, dlogps, rewards = [], [], [], []
    steps, games, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        x = (frame.astype(np.float32) - last.astype(np.float32)).ravel() / 255
        last = frame
        h = np.maximum(w1 @ x, 0)
        up = 1 / (1 + np.exp(-(w2 @ h)))
        y = float(rng.random() < up)
        xs.append(x)
        hs.append(h)
        dlogps.append(y - up)
        frame, reward, terminated, truncated, _ = env.step(0 if y else 1)
        rewards.append(reward)
        steps += 1
        if terminated or truncated:
            adv = np.zeros(len(rewards))
            running = 0.0
            for t in reversed(range(len(rewards))):
                running = rewards[t] if rewards[t] else running * 0.99
                adv[t] = running
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            dlogp = np.array(dlogps) * adv
            eph = np.array(hs)
            grads[1] += eph.T @ dlogp
            dh = np.outer(dlogp, w2)
            dh[eph <= 0] = 0
            grads[0] += dh.T @ np.array(xs)
            xs, hs, dlogps, rewards = [], [], [], []
            games += 1
            if games % 10 == 0:
                for w, g, c in zip((w1, w2), grads, cache, strict=True):
                    c[:] = 0.99 * c + 0.01 * g ** 2
                    w += 1e-4 * g / (np.sqrt(c) + 1e-5)
                    g[:] = 0
            frame, _ = env.reset()
            last = frame
    env.close()
    return steps / (time.perf_counter() - t0)


def reinforce_training_rate(setup: EnvSetup, seconds: float, seed: int = 0) -> float:
    """Env steps per second of train-agent's REINFORCE (ALE defaults) on ``setup``."""
    s = AgentSettings(env="ALE/Pong-v5", seed=seed).resolved()
    torch.manual_seed(seed)
    policy = make_policy(**policy_args(s.policy, setup.obs_shape, setup.num_actions, s.hidden))
    optimizer = make_optimizer(s.optimizer, policy.parameters(), s.lr)
    counters, t0 = Counters(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        reinforce.train_step(s, setup, policy, optimizer, counters, torch.device("cpu"))
    rate_ = counters.env_steps / (time.perf_counter() - t0)
    setup.close()
    return rate_


def sync_setup(n: int) -> EnvSetup:
    """train-agent's ALE path before PgPongVector: a SyncVectorEnv of wrapped games."""
    env = ale_sync("ALE/Pong-v5", n)
    return EnvSetup(env=env, obs_shape=(1, 80, 80), num_actions=2,
                    rollout_steps=DEFAULT_ROLLOUT_STEPS, reset_on_reward=True,
                    first_session_only=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0, help="of each env-only row")
    p.add_argument("--train-seconds", type=float, default=60.0,
                   help="of each training row (0 = no training rows)")
    p.add_argument("--out", type=Path, help="also write ale_speed.md (with its provenance) into "
                   "this folder, e.g. benchmarks/results")
    ns = p.parse_args()
    require_ale()
    rng = np.random.default_rng(0)
    rows = []
    one = PgPongPreprocess(gym.make("ALE/Pong-v5"))

    def step_one(a: int) -> None:
        _, _, terminated, truncated, _ = one.step(a)
        if terminated or truncated:
            one.reset()

    rows.append(("(a) one game, pg-pong loop", rate(step_one, lambda: one.reset(seed=0), 1,
                                                    ns.seconds, rng)))
    one.close()
    sync = gym.make_vec("ALE/Pong-v5", num_envs=ns.envs, vectorization_mode="sync",
                        wrappers=[PgPongPreprocess])
    rows.append((f"(b) SyncVectorEnv, {ns.envs} games", rate(
        sync.step, lambda: sync.reset(seed=0), ns.envs, ns.seconds, rng)))
    sync.close()
    vec = PgPongVector(ns.envs)
    rows.append((f"(c) PgPongVector (AtariVectorEnv), {ns.envs} games", rate(
        vec.step, lambda: vec.reset(seed=0), ns.envs, ns.seconds, rng)))
    vec.close()
    trained = [math.nan] * 3
    if ns.train_seconds > 0:
        trained = [pg_pong_training_rate(ns.train_seconds),
                   reinforce_training_rate(sync_setup(ns.envs), ns.train_seconds),
                   reinforce_training_rate(make_env("ALE/Pong-v5", ns.envs), ns.train_seconds)]
    lines = [f"{platform.machine()}, {platform.python_version()}, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; env steps/s, {ns.seconds:g} s each without "
             f"training, {ns.train_seconds:g} s each with", "",
             "| env | random actions | training |", "|---|---|---|"]
    lines += [f"| {name} | {value:,.0f} | {train:,.0f} |"
              for (name, value), train in zip(rows, trained, strict=True)]
    lines += ["", f"random actions: (c)/(b) = {rows[2][1] / rows[1][1]:.1f}x, "
              f"(c)/(a) = {rows[2][1] / rows[0][1]:.1f}x"]
    if ns.train_seconds > 0:
        lines.append(f"training: (c)/(b) = {trained[2] / trained[1]:.1f}x, "
                     f"(c)/(a) = {trained[2] / trained[0]:.1f}x")
    report = "\n".join(lines)
    print("\n" + report)
    if ns.out:
        publish(ns.out / "ale_speed.md", report)


if __name__ == "__main__":
    main()
