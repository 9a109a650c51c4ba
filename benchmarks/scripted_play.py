"""Win rates of scripted players on our envs: the floor and the ceiling an agent is judged by.

Three players on ``pucklab/AirHockey-v0`` and ``pucklab/Pong-v0`` (opponent skill 0.5), each on
the vector env with state observations: uniformly random actions, a paddle that never moves,
and an oracle that moves the paddle's centre towards the puck's. A session ends with a win or
a loss (the win rate counts finished sessions); the interval is Wilson's 95% score interval
of a binomial share (``scipy.stats.binomtest``), over the sessions finished.

    python benchmarks/scripted_play.py                       # 1,000 games x 500 steps, seed 0
    python benchmarks/scripted_play.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
from scipy.stats import binomtest

import pucklab.envs  # noqa: F401  (registers the ids)
from pucklab.envs import physics as ph
from pucklab.envs.scripted import oracle_actions
from pucklab.runs.provenance import publish
from pucklab.runs.tables import markdown_table

ENVS = {"pucklab/AirHockey-v0": {}, "pucklab/Pong-v0": {"opponent_skill": 0.5}}
PLAYERS = ("uniformly random", "paddle that never moves", "oracle that tracks the puck")


def actions(player: str, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The player's actions for a batch of state observations."""
    if player == PLAYERS[0]:
        return rng.integers(0, 3, len(obs))
    if player == PLAYERS[1]:
        return np.full(len(obs), ph.STAY)
    return oracle_actions(obs)


def play(env_id: str, player: str, games: int, steps: int, seed: int) -> tuple[int, int]:
    """(sessions won, sessions finished) of ``games`` parallel games over ``steps`` steps."""
    env = gym.make_vec(env_id, num_envs=games, obs_type="state", **ENVS[env_id])
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    won = lost = 0
    for _ in range(steps):
        obs, rewards, _, _, _ = env.step(actions(player, obs, rng))
        won += int((rewards > 0).sum())
        lost += int((rewards < 0).sum())
    env.close()
    return won, won + lost


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--games", type=int, default=1000)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="also write scripted_play.md (with its provenance) "
                   "into this folder, e.g. benchmarks/results")
    ns = p.parse_args()
    rows = []
    for player in PLAYERS:
        row: dict[str, object] = {"player": player}
        for env_id in ENVS:
            won, finished = play(env_id, player, ns.games, ns.steps, ns.seed)
            ci = binomtest(won, finished).proportion_ci(method="wilson")
            row[env_id] = f"{won / finished:.3f} [{ci.low:.3f}, {ci.high:.3f}] of {finished:,}"
        rows.append(row)
    report = (f"# Scripted players\n\nWin rate of finished sessions [Wilson 95% interval] of "
              f"sessions, {ns.games:,} games x {ns.steps} steps, seed {ns.seed}; Pong-v0 at "
              "opponent skill 0.5.\n\n" + markdown_table(["player", *ENVS], rows))
    print(report)
    if ns.out:
        publish(ns.out / "scripted_play.md", report, [ns.seed])


if __name__ == "__main__":
    main()
