"""``pucklab-demo``: play a random policy, report its win rate, and save a strip of frames.

The first thing to run on a new machine: it exercises the batched core (win rate over many
sessions), the single-game env with rendering, and the frame-difference wrapper, and writes
``runs/demo-<game>-seed<seed>/frame_strip.png`` (colour frames above, what the agent sees below).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

import gymnasium as gym
import numpy as np

import pucklab.envs  # noqa: F401  (registers the ids)
from pucklab.envs.render import SCALE
from pucklab.envs.wrappers import FrameDifference

GAMES = ("pucklab/AirHockey-v0", "pucklab/Pong-v0")
GAP = 6  # pixels between frames in the strip


def random_win_rate(env_id: str, sessions: int, seed: int) -> float:
    """Fraction of first sessions a uniformly random paddle wins, over ``sessions`` games."""
    env = gym.make_vec(env_id, num_envs=sessions)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    outcome = np.zeros(sessions)  # +1 win / -1 loss of each game's first session
    while not outcome.all():
        _, rewards, terminated, truncated, _ = env.step(rng.integers(0, 3, sessions))
        ended = (terminated | truncated) & (outcome == 0)
        outcome[ended] = rewards[ended]
    env.close()
    return float((outcome > 0).mean())


def frame_strip(env_id: str, frames: int, seed: int) -> np.ndarray:
    """One random session: evenly spaced colour frames over the frame differences beneath them."""
    env = FrameDifference(gym.make(env_id, render_mode="rgb_array"))
    diff, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    shots = [(env.render(), diff)]
    while True:
        diff, _, terminated, truncated, _ = env.step(int(rng.integers(3)))
        shots.append((env.render(), diff))
        if terminated or truncated:
            break
    picks = np.linspace(0, len(shots) - 1, min(frames, len(shots))).round().astype(int)
    tiles = []
    for i in picks:
        rgb, d = shots[i]
        # difference in [-1, 1] -> grey 128 +- 127, upscaled to the colour frame's size
        grey = (128 + 127 * d[0]).astype(np.uint8).repeat(SCALE, 0).repeat(SCALE, 1)
        tile = np.concatenate([rgb, np.full((GAP, rgb.shape[1], 3), 255, np.uint8),
                               np.stack([grey] * 3, axis=-1)], axis=0)
        tiles += [tile, np.full((tile.shape[0], GAP, 3), 255, np.uint8)]
    return np.concatenate(tiles[:-1], axis=1)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, exit code 2 (envs imports nothing of ours, so not runs.cli's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="pucklab-demo", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default=GAMES[0], help=f"game id, one of {', '.join(GAMES)}")
    parser.add_argument("--sessions", type=int, default=10_000,
                        help="games played by the random policy to measure its win rate")
    parser.add_argument("--frames", type=int, default=8, help="frames in the strip")
    parser.add_argument("--seed", type=int, default=0, help="seed for the env and the policy")
    parser.add_argument("--out", type=Path, default=None,
                        help="PNG path (default runs/demo-<game>-seed<seed>/frame_strip.png)")
    args = parser.parse_args(argv)
    if args.env not in GAMES:
        print(f"pucklab-demo: error: unknown --env {args.env!r}; choose one of {', '.join(GAMES)}",
              file=sys.stderr)
        return 2
    if args.sessions < 1 or args.frames < 1:
        print("pucklab-demo: error: --sessions and --frames must be >= 1", file=sys.stderr)
        return 2
    if not 0 <= args.seed < 2**32:  # what the envs' reset(seed=) takes
        print(f"pucklab-demo: error: --seed must be in [0, 2**32), got {args.seed}",
              file=sys.stderr)
        return 2
    game = args.env.split("/")[1]
    out = args.out or Path("runs") / f"demo-{game}-seed{args.seed}" / "frame_strip.png"

    rate = random_win_rate(args.env, args.sessions, args.seed)
    print(f"random policy on {args.env}: won {rate:.1%} of {args.sessions} sessions "
          f"(seed {args.seed})")
    import imageio.v3 as iio

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp.png")
        iio.imwrite(tmp, frame_strip(args.env, args.frames, args.seed))
        tmp.replace(out)  # atomic: a reader never sees half a PNG
    except OSError as err:
        print(f"pucklab-demo: error: cannot write {out}: {err.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
