"""ALE Pong from frame differences: does REINFORCE beat Atari's built-in player on 2 CPU cores?

The training run is a plain ``train-agent`` command (checkpoints every 2 minutes; an interrupted
run continues its curve with ``train-agent --resume runs/ale-pong``):

    train-agent --env ALE/Pong-v5 --minutes 36 --run-dir runs/ale-pong --video-sessions 0

This script reads that run folder and reports, without touching the run:

- the learning curve: share of points won (training batches, sampled actions; and train-agent's
  greedy evaluations) against training time and against Atari frames (4 per env step);
- a separate evaluation of the final checkpoint over ``--games`` *full* games (first to 21),
  greedy actions, each game's score; the claim is "mean score difference > 0";
- a video of the won game of that evaluation with the widest margin (the shortest to watch),
  the game beside what the agent saw.

    python benchmarks/ale_pong.py runs/ale-pong [--games 20] [--out benchmarks/results]

Training resets the games at every rollout (credit windows are points), so its "episodes" are
points, not games; the table states points played and frames, against pg-pong's ~8,000 episodes.
"""

from __future__ import annotations

import argparse
import math
import platform
import shlex
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from pucklab.agents.env_setup import make_single_env
from pucklab.agents.harness import Logits
from pucklab.agents.settings import AgentSettings
from pucklab.agents.trained import load_run
from pucklab.agents.video import play_sessions, write_video
from pucklab.runs.cli import changed_flags
from pucklab.runs.figures import pyplot, save_figure
from pucklab.runs.metrics import read_metrics
from pucklab.runs.provenance import publish

FRAMESKIP = 4  # ALE/Pong-v5: Atari frames per env step
EVAL_SEED = 20_000  # full-game evaluation seeds: never a training rollout's


@torch.no_grad()
def play_game(env, policy, seed: int, max_steps: int = 50_000) -> tuple[int, int, int]:
    """One full greedy game: (agent's points, built-in player's points, env steps)."""
    obs, _ = env.reset(seed=seed)
    won = lost = steps = 0
    while steps < max_steps:
        steps += 1
        action = int(policy(torch.as_tensor(np.asarray(obs, np.float32))[None]).argmax(-1))
        obs, reward, terminated, truncated, _ = env.step(action)
        won += reward > 0
        lost += reward < 0
        if terminated or truncated:
            break
    return won, lost, steps


def evaluate_games(settings: AgentSettings, policy: Logits, games: int
                   ) -> tuple[list[tuple[int, int, int]], float]:
    """The policy's scores in ``games`` full games (seeds EVAL_SEED + k), and seconds."""
    env = make_single_env(settings.env, settings.env_kwargs, render_mode=None,
                          noop=settings.noop, observation=settings.observation)
    t0 = time.perf_counter()
    try:
        scores = [play_game(env, policy, EVAL_SEED + k) for k in range(games)]
    finally:
        env.close()
    return scores, time.perf_counter() - t0


def record_game(settings: AgentSettings, policy: Logits, seed: int, path: Path) -> float:
    """Replay the game of ``seed`` (greedy play and ALE's seeded sticky actions repeat it) with
    the agent's view beside it, to ``path``; returns its score difference."""
    env = make_single_env(settings.env, settings.env_kwargs, noop=settings.noop,
                          observation=settings.observation)
    try:
        frames, totals = play_sessions(env, policy, 1, seed=seed, greedy=True,
                                       side_by_side=True, max_frames=60_000)
    finally:
        env.close()
    write_video(frames, path)
    return totals[0] if totals else math.nan


def curve(rows: list[dict[str, float]], scores: list[tuple[int, int, int]], path: Path) -> Path:
    """Share of points won against training minutes and against Atari frames."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    train = [r for r in rows if not math.isnan(r["win_rate"])]
    evals = [r for r in rows if not math.isnan(r["eval_win_rate"])]
    share = sum(w for w, _, _ in scores) / max(1, sum(w + lost for w, lost, _ in scores))
    for ax, key, scale, label in ((axes[0], "wall_time_s", 1 / 60, "training time (minutes, "
                                   "2 CPU cores)"),
                                  (axes[1], "env_steps", FRAMESKIP / 1e6, "Atari frames "
                                   "(millions)")):
        ax.plot([r[key] * scale for r in train], [r["win_rate"] for r in train], lw=0.8,
                alpha=0.6, label="training batches (sampled actions)")
        ax.plot([r[key] * scale for r in evals], [r["eval_win_rate"] for r in evals], "o-",
                ms=3, label="evaluation (greedy)")
        if scores:
            ax.plot([rows[-1][key] * scale], [share], "r*", ms=12,
                    label=f"{len(scores)} full games (greedy)")
        ax.axhline(0.5, color="grey", ls="--", lw=1)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of points won (0.5 = even with Atari's player)")
    # While the agent loses, share p means about 21 p / (1 - p) points per game to Atari's 21.
    right = axes[1].secondary_yaxis(
        "right", functions=(lambda p: 21 * p / np.clip(1 - p, 1e-3, None),
                            lambda x: x / (21 + x)))
    right.set_ylabel("points per game to Atari's 21 (while losing)")
    right.set_yticks([1, 3, 5, 10, 21])
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("REINFORCE on ALE/Pong-v5 from 80x80 frame differences (pg-pong preprocessing)")
    fig.tight_layout()
    return save_figure(fig, path)


def training_command(settings: AgentSettings) -> str:
    """The ``train-agent`` command that trained the run, as a reader retypes it: the settings
    that differ from the env's resolved defaults, as flags (the run folder keeps no argv)."""
    flags = changed_flags(settings.resolved(), AgentSettings(env=settings.env).resolved())
    return shlex.join(["train-agent", "--env", settings.env, *flags])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, nargs="?", default=Path("runs/ale-pong"))
    p.add_argument("--games", type=int, default=20, help="full games in the final evaluation")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ns = p.parse_args()
    rows = read_metrics(ns.run_dir)
    torch.set_num_threads(1)
    settings, policy, _ = load_run(ns.run_dir)  # the final checkpoint
    scores, seconds = evaluate_games(settings, policy, ns.games)
    diffs = [w - lost for w, lost, _ in scores]
    won_games = [k for k, d in enumerate(diffs) if d > 0]
    ns.out.mkdir(parents=True, exist_ok=True)
    figure = curve(rows, scores, ns.out / "ale_pong.png")
    video = None
    if won_games:
        video = ns.run_dir / "videos" / "won-game.mp4"
        best = max(won_games, key=lambda k: diffs[k])
        replayed = record_game(settings, policy, EVAL_SEED + best, video)
        assert replayed == diffs[best], "a greedy replay must repeat its game"
        shutil.copyfile(video, ns.out / "ale_pong_won_game.mp4")

    last = rows[-1]
    train = [r for r in rows if not math.isnan(r["win_rate"])]
    first_even = next((r for r in rows if r["eval_win_rate"] >= 0.5), None)
    lines = [
        f"ALE/Pong-v5, REINFORCE from frame differences, run `{ns.run_dir}`; "
        f"{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}",
        "",
        f"Trained by `{training_command(settings)}` (seed {settings.seed}).",
        "",
        "| | |",
        "|---|---|",
        f"| training time | {last['wall_time_s'] / 60:.1f} min |",
        f"| updates | {int(last['updates']):,} |",
        f"| env steps (Atari frames) | {int(last['env_steps']):,} "
        f"({int(last['env_steps']) * FRAMESKIP / 1e6:.1f} M) |",
        f"| points played in training | {int(last['sessions']):,} |",
        f"| points won, first / last training batch | {train[0]['win_rate']:.1%} / "
        f"{train[-1]['win_rate']:.1%} |",
        "| first greedy evaluation at >= 50% of points | "
        + (f"{first_even['wall_time_s'] / 60:.1f} min, "
           f"{first_even['env_steps'] * FRAMESKIP / 1e6:.1f} M frames |" if first_even
           else "never |"),
        f"| full games, greedy (final checkpoint) | {len(scores)} in {seconds:.0f} s |",
        f"| games won | {len(won_games)} / {len(scores)} |",
        f"| mean score difference (agent - Atari) | {np.mean(diffs):+.2f} "
        f"(min {min(diffs):+d}, max {max(diffs):+d}) |",
        "",
        "Scores (agent-Atari): " + ", ".join(f"{w}-{lost}" for w, lost, _ in scores),
        "",
        f"Beats the built-in player (mean score difference > 0): "
        f"**{'yes' if np.mean(diffs) > 0 else 'no'}**",
        f"figure: {figure}"
        + (f"; video of game {best + 1} ({scores[best][0]}-{scores[best][1]}): {video}"
           if video else ""),
    ]
    text = "\n".join(lines)
    print(text)
    publish(ns.out / "ale_pong.md", text, seeds=[settings.seed])


if __name__ == "__main__":
    main()
