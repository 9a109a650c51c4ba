"""REINFORCE vs stable-baselines3 PPO on pucklab/AirHockey-v0 (or --env) pixels + frame difference,
or one algorithm's policies against each other (``--policies mlp pooled cnn``).

Same machine, same seeds, same wall budget per run, same evaluation (greedy win rate over the
same fixed sessions, every few updates; evaluation time is not counted). Prints, per algorithm,
policy and seed, the training time and env steps until the evaluation win rate first reached
the target, and the ratio PPO / REINFORCE; writes every curve to one figure.

    python benchmarks/rl_race.py                      # 3 seeds x 2 algorithms x 5 minutes
    python benchmarks/rl_race.py --seeds 0 --minutes 1 --out /tmp/race   # a quick look
    python benchmarks/rl_race.py --env pucklab/Pong-v0 --env-kwargs opponent_skill=1.0 \
        --algos reinforce --out runs/pong-skill1                           # against Pong's opponent
    python benchmarks/rl_race.py --algos reinforce --policies mlp pooled cnn --out runs/policies

Targets (benchmark, not a test): with the plain settings, REINFORCE reaches 90 % on every seed
within 90 s of training and in a median <= 45 s on 2 CPU cores (held-out seeds: 10-14, the
sweep that chose the defaults ran seeds 0-2), and sooner than PPO.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

import torch

from pucklab.agents import AgentSettings, run
from pucklab.agents.policies import POLICIES
from pucklab.runs.cli import parse_key_values
from pucklab.runs.metrics import read_metrics
from pucklab.runs.provenance import publish
from pucklab.runs.stats import Claim, difference, interval, iqm
from pucklab.runs.store import load_checkpoint, load_run_settings


def first_reach(run_dir: Path, target: float) -> tuple[float, float] | None:
    """(wall_time_s, env_steps) of the first evaluation at or above ``target``."""
    for row in read_metrics(run_dir):
        if not math.isnan(row["eval_win_rate"]) and row["eval_win_rate"] >= target:
            return row["wall_time_s"], row["env_steps"]
    return None


def parameters(run_dir: Path) -> int:
    """The trained policy's parameter count, from its last checkpoint."""
    state = load_checkpoint(run_dir, command="train-agent", keys=("policy",))
    return sum(t.numel() for t in state["policy"].values() if hasattr(t, "numel"))


#: The targets: every seed at TARGET within EACH_S seconds of training, their median within MEDIAN_S.
TARGET, EACH_S, MEDIAN_S = 0.9, 90, 45

Key = tuple[str, str, int]  # (algorithm, policy, seed)


def plot(runs: dict[Key, Path], target: float, out: Path, title: str, threads: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({(a, p) for a, p, _ in runs})
    colours = dict(zip(kinds, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    fig, ax = plt.subplots(figsize=(7, 4))
    for (algo, policy, seed), run_dir in runs.items():
        rows = [r for r in read_metrics(run_dir) if not math.isnan(r["eval_win_rate"])]
        first = seed == min(s for a, p, s in runs if (a, p) == (algo, policy))
        ax.plot([r["wall_time_s"] / 60 for r in rows], [r["eval_win_rate"] for r in rows],
                color=colours.get((algo, policy), "grey"), alpha=0.8, lw=1.4,
                label=_name(algo, policy, len(kinds) > 1) if first else None)
    ax.axhline(target, color="grey", ls="--", lw=1)
    ax.set_xlabel(f"training time (minutes, {threads} torch thread{'s' * (threads > 1)})")
    ax.set_ylabel("evaluation win rate (greedy)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / "rl_race.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _name(algo: str, policy: str, policies: bool) -> str:
    return f"{algo}, {policy}" if policies else algo


def summary(times: dict[tuple[str, float], list[float]], finals: dict[str, list[float]],
            targets: list[float], minutes: float) -> list[str]:
    """Per algorithm and policy over seeds: the final evaluation's interquartile mean and mean
    with their 95 % intervals, the median time to each target and how many seeds reached it;
    then each other kind against the first on the final evaluation, by the lab's rule."""
    lines = ["| algorithm, policy | N | final eval IQM [95% bootstrap] | final eval mean [95% t] | "
             + " | ".join(f"to {t:.0%}: median (reached)" for t in targets) + " |",
             "|---|---|---|---|" + "---|" * len(targets)]
    for name, values in finals.items():
        cells = []
        for t in targets:
            hit = times[name, t]
            median = statistics.median(hit)
            reached = sum(not math.isinf(x) for x in hit)
            cells.append(f"{'never' if math.isinf(median) else f'{median:.0f} s'} "
                         f"({reached}/{len(hit)})")
        lines.append(f"| {name} | {len(values)} | {iqm(values).format('.3f')} | "
                     f"{interval(values).format('.3f')} | " + " | ".join(cells) + " |")
    names = list(finals)
    first = times.get((names[0], TARGET), []) if names else []
    if first:
        slowest, median = max(first), statistics.median(first)
        lines += ["", f"- {names[0]} to {TARGET:.0%}: every seed within {EACH_S} s: "
                  f"{'met' if slowest <= EACH_S else 'NOT met'} (slowest "
                  f"{'never' if math.isinf(slowest) else f'{slowest:.0f} s'}); median <= "
                  f"{MEDIAN_S} s: {'met' if median <= MEDIAN_S else 'NOT met'} ("
                  f"{'never' if math.isinf(median) else f'{median:.0f} s'})."]
    for other in names[1:]:  # the same seeds: paired by seed
        claim = Claim(f"{names[0]} ends above {other} after {minutes:g} min (final eval)",
                      difference(finals[names[0]], finals[other]))
        lines += ["", f"- {claim.sentence()}"]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--minutes", type=float, default=5.0, help="training budget of each run")
    p.add_argument("--target", type=float, default=TARGET)
    p.add_argument("--also", type=float, nargs="*", default=[0.5],
                   help="further win rates to report the time to")
    p.add_argument("--algos", nargs="+", default=["reinforce", "ppo"])
    p.add_argument("--policies", nargs="+", default=[AgentSettings.policy],
                   choices=POLICIES, help="each algorithm runs with each of these")
    p.add_argument("--env", default=AgentSettings.env, help="a pucklab game id")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                   help="the env's keyword arguments, e.g. opponent_skill=1.0")
    p.add_argument("--out", type=Path, default=Path("runs/rl_race"))
    p.add_argument("--threads", type=int, default=2, help="torch threads (2: both CPU cores)")
    p.add_argument("--report", type=Path, help="also write the tables (with their provenance) "
                   "to this markdown file, e.g. benchmarks/results/rl_race.md")
    ns = p.parse_args()
    env_kwargs = parse_key_values(ns.env_kwargs, "--env-kwargs")
    torch.set_num_threads(ns.threads)
    ns.out.mkdir(parents=True, exist_ok=True)
    runs: dict[Key, Path] = {}
    kinds = [(algo, policy) for algo in ns.algos for policy in ns.policies]
    for seed in ns.seeds:
        for algo, policy in kinds:
            run_dir = ns.out / f"{algo}-{policy}-seed{seed}"
            settings = AgentSettings(algo=algo, seed=seed, policy=policy, minutes=ns.minutes,
                                     env=ns.env, env_kwargs=env_kwargs,
                                     eval_every=5 if algo == "reinforce" else 10,
                                     video_sessions=0).resolved()
            if (run_dir / "checkpoints").exists():  # finished earlier: reuse (delete to redo)
                if load_run_settings(run_dir, AgentSettings, "train-agent") != settings:
                    sys.exit(f"{run_dir} holds a run with other settings; delete it or choose "
                             "another --out")
                runs[algo, policy, seed] = run_dir
                continue
            print(f"--- {algo}, {policy}, seed {seed}, {ns.minutes} min", file=sys.stderr,
                  flush=True)
            run(settings, run_dir)
            runs[algo, policy, seed] = run_dir
    targets = sorted({ns.target, *ns.also})
    lines = [f"Training time (env steps) to an evaluation win rate on {ns.env} "
             f"{env_kwargs or ''}, budget {ns.minutes} min per run, {torch.get_num_threads()} "
             "threads", "",
             "| algorithm | policy | parameters | seed | "
             + " | ".join(f"to {t:.0%}" for t in targets) + " | final eval |",
             "|---|---|---|---|" + "---|" * len(targets) + "---|"]
    times: dict[tuple[str, float], list[float]] = {}
    finals: dict[str, list[float]] = {}
    for algo, policy in kinds:
        for seed in ns.seeds:
            cells = []
            for t in targets:
                hit = first_reach(runs[algo, policy, seed], t)
                times.setdefault((_name(algo, policy, True), t), []).append(
                    math.inf if hit is None else hit[0])
                cells.append("not reached" if hit is None else f"{hit[0]:.0f} s ({hit[1]:,.0f})")
            final = read_metrics(runs[algo, policy, seed])[-1]["eval_win_rate"]
            finals.setdefault(_name(algo, policy, True), []).append(final)
            lines.append(f"| {algo} | {policy} | {parameters(runs[algo, policy, seed]):,} | "
                         f"{seed} | " + " | ".join(cells) + f" | {final:.3f} |")
    lines += ["", *summary(times, finals, targets, ns.minutes)]
    report = "\n".join(lines)
    print("\n" + report)
    if ns.report:
        publish(ns.report, report, ns.seeds)
    title = f"{ns.env} {' '.join(ns.env_kwargs)}".strip() + ", pixels + frame difference"
    if len(ns.policies) == 1:
        title += f", policy {ns.policies[0]}"
    print(f"\nfigure: {plot(runs, ns.target, ns.out, title, ns.threads)}")


if __name__ == "__main__":
    main()
