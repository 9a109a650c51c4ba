"""ALE Pong env steps per second, pg-pong frames, three ways, measured in the same run:

  (a) a pg-pong-style loop: one ``gym.make("ALE/Pong-v5")`` game with pg-pong's preprocessing;
  (b) Gymnasium's ``SyncVectorEnv`` of N such games (train-agent's path before);
  (c) :class:`~pucklab.agents.atari.PgPongVector`: ale-py's threaded ``AtariVectorEnv``, the same
      frames made for the whole batch at once (train-agent's path now).

Random UP/DOWN actions drawn up front, so the table times the envs. ``ALE/Pong-v5``'s games in
every row: frameskip 4, sticky actions 0.25.

    python benchmarks/ale_speed.py [--envs 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np

from pucklab.agents.atari import PgPongPreprocess, PgPongVector, require_ale


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
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
    print(f"\n{platform.machine()}, {platform.python_version()}; env steps/s, {ns.seconds:g} s each\n")
    print("| env | steps/s |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:,.0f} |")
    print(f"\n(c)/(b) = {rows[2][1] / rows[1][1]:.1f}x, (c)/(a) = {rows[2][1] / rows[0][1]:.1f}x")


if __name__ == "__main__":
    main()
