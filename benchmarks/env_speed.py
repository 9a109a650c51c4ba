"""Env throughput: pucklab's games against ALE Pong-v5, measured in the same run.

Prints steps per second for
  (a) FrameDifference(gym.make("pucklab/Pong-v0")), one game, random actions;
  (b) the vector env + VectorFrameDifference at several batch sizes;
  (c) gym.make("ALE/Pong-v5") with random actions, when ale-py is installed;
and the ratios against the targets: (a) >= 10x (c), (b) >= 1,000,000 steps/s at B = 1024, and
large batches at least as fast per game as B = 64 (B = 1024 and B = 8192 against B = 64).

Actions are drawn up front for every row, so the table times the envs, not the samplers.
The vector rows use ``copy=False`` (the env and the wrapper hand back their own buffers, as a
rollout loop that copies what it keeps wants); one extra row shows B = 1024 with copies.

    python benchmarks/env_speed.py [--seconds 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import pucklab.envs  # noqa: F401
from pucklab.envs.wrappers import FrameDifference, VectorFrameDifference
from pucklab.runs.provenance import publish

TARGET_SINGLE_RATIO = 10.0
TARGET_VECTOR = 1_000_000
BATCHES = (1, 64, 1024, 8192)


def time_single(env: gym.Env, seconds: float, seed: int) -> float:
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, 1 << 16).tolist()
    for a in actions[:200]:  # warm-up (numba compiles or loads its cache here)
        _, _, te, tr, _ = env.step(a)
        if te or tr:
            env.reset()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions[steps % len(actions):][:1000]:
            _, _, te, tr, _ = env.step(a)
            if te or tr:
                env.reset()
        steps += 1000
    return steps / (time.perf_counter() - start)


def time_vector(num_envs: int, seconds: float, seed: int, copy: bool) -> float:
    env = VectorFrameDifference(
        gym.make_vec("pucklab/Pong-v0", num_envs=num_envs, copy=copy), copy=copy)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, 3, (64, num_envs))
    for i in range(5):
        env.step(actions[i])
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(16):
            env.step(actions[i])
        calls += 16
    return calls * num_envs / (time.perf_counter() - start)


def make_ale() -> gym.Env | None:
    try:
        import ale_py
    except ImportError:
        return None
    gym.register_envs(ale_py)
    return gym.make("ALE/Pong-v5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write env_speed.md (with its provenance) "
                        "into this folder, e.g. benchmarks/results")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}")
    rows: list[tuple[str, float]] = []
    single = time_single(FrameDifference(gym.make("pucklab/Pong-v0")), args.seconds, args.seed)
    rows.append(("(a) FrameDifference(pucklab/Pong-v0), 1 game", single))
    vec = {}
    for b in BATCHES:
        vec[b] = time_vector(b, args.seconds, args.seed, copy=False)
        rows.append((f"(b) Pong vector env + VectorFrameDifference, B={b}", vec[b]))
    rows.append(("(b') same, B=1024, copy=True (fresh arrays each step)",
                 time_vector(1024, args.seconds, args.seed, copy=True)))
    ale_env = make_ale()
    ale = time_single(ale_env, args.seconds, args.seed) if ale_env is not None else None
    if ale is not None:
        rows.append(("(c) ALE/Pong-v5 (frameskip 4), 1 game", ale))

    width = max(len(name) for name, _ in rows)
    lines = [f"| {'env':<{width}} | {'steps/s':>12} |", f"|{'-' * (width + 2)}|{'-' * 14}|"]
    lines += [f"| {name:<{width}} | {rate:>12,.0f} |" for name, rate in rows]
    lines.append("")
    if ale is None:
        lines.append("(a)/(c): ALE not installed (pip install 'pucklab[atari]'); ratio not measured")
    else:
        ratio = single / ale
        verdict = "met" if ratio >= TARGET_SINGLE_RATIO else "NOT met"
        lines.append(f"(a)/(c) = {ratio:.1f}x ALE Pong-v5 (target >= {TARGET_SINGLE_RATIO:.0f}x: "
                     f"{verdict})")
    verdict = "met" if vec[1024] >= TARGET_VECTOR else "NOT met"
    lines.append(f"(b) at B=1024 = {vec[1024]:,.0f} steps/s (target >= {TARGET_VECTOR:,}: "
                 f"{verdict})")
    for b in (1024, 8192):
        ratio = vec[b] / vec[64]
        verdict = "met" if ratio >= 1.0 else "NOT met"
        lines.append(f"(b) at B={b} / B=64 = {ratio:.2f} (target >= 1: {verdict})")
    report = "\n".join(lines)
    print("\n" + report)
    if args.out:
        header = (f"Env steps per second, random actions drawn up front, {args.seconds:g} s per "
                  "row; (b) rows with `copy=False`.\n\n")
        publish(args.out / "env_speed.md", header + report)


if __name__ == "__main__":
    main()
