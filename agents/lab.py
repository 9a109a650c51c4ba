"""The RL half's ``lab`` experiments.

* ``session-decay``: REINFORCE on ``pucklab/AirHockey-v0`` with the session's outcome spread
  back with decay gamma in {1.0, 0.99, 0.95, 0.9}: learning curves over seeds, sessions to an
  80% evaluation win rate, and the variance of the policy-gradient estimate at fixed policies.

Registered as an entry point of ``pucklab.lab`` (pyproject.toml); ``pucklab.runs.lab`` runs it
and writes results.csv / results.md / figure.png. Each run is a real ``train-agent`` run (its
own folder under the lab run, with metrics.csv, checkpoint and curve).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.agents import reinforce
from pucklab.agents.args import TrainArgs
from pucklab.agents.env_setup import make_env
from pucklab.agents.policies import make_policy
from pucklab.agents.train import collect_batch, start
from pucklab.runs import RunError, load_checkpoint, read_metrics
from pucklab.runs.lab import LabExperiment, LabOutcome

TARGET = 0.8  # evaluation win rate that counts as learnt


def _sd_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gammas", type=float, nargs="+", help="decays to compare (default: 1.0 "
                   "0.99 0.95 0.9)")
    p.add_argument("--env-steps", type=int, help="env steps per run (default: 2,000,000; "
                   "12,800 with --quick)")
    p.add_argument("--variance-batches", type=int, help="independent batches for the gradient "
                   "variance (default: 8; 2 with --quick)")


def gradient_variance(policy: torch.nn.Module, args: TrainArgs, batches: int,
                      first_rollout: int = 10_000) -> float:
    """Relative variance E||g - mean g||^2 / ||mean g||^2 of the REINFORCE gradient estimate
    (the training pipeline's own: normalised returns, entropy bonus) over ``batches``
    independent batches of ``args.batch_sessions`` sessions with ``policy`` held fixed."""
    setup = make_env(args.env, args.num_envs, args.env_kwargs)
    grads = []
    try:
        rollout = first_rollout
        for _ in range(batches):
            batch, used = collect_batch(setup, policy, args, rollout, torch.device("cpu"))
            rollout += used
            loss, _ = reinforce.loss(policy, batch, reinforce.advantages(batch.returns),
                                     args.entropy)
            policy.zero_grad(set_to_none=True)
            loss.backward()
            grads.append(torch.cat([p.grad.flatten() for p in policy.parameters()
                                    if p.grad is not None]).double())
    finally:
        setup.close()
    g = torch.stack(grads)
    mean = g.mean(0)
    return float(((g - mean) ** 2).sum(1).mean() / mean.pow(2).sum().clamp_min(1e-300))


def _sessions_to(metrics: list[dict[str, float]], level: float) -> float:
    for m in metrics:
        win = m.get("eval_win_rate", math.nan)
        if not math.isnan(win) and win >= level:
            return float(m["sessions"])
    return math.inf


def run_session_decay(ns: argparse.Namespace, seeds: list[int], run_dir: Path) -> LabOutcome:
    gammas = ns.gammas or [1.0, 0.99, 0.95, 0.9]
    if any(not 0 <= g <= 1 for g in gammas):
        raise RunError("--gammas must lie in [0, 1]")
    env_steps = ns.env_steps or (12_800 if ns.quick else 2_000_000)
    nvar = ns.variance_batches or (2 if ns.quick else 8)
    if env_steps < 1 or nvar < 2:
        raise RunError("--env-steps must be >= 1 and --variance-batches >= 2")
    # No videos: the lab compares numbers; each run's folder still has its curve and checkpoint.
    size = {"batch_sessions": 64, "eval_sessions": 64, "eval_every": 2, "video_sessions": 0} \
        if ns.quick else {"eval_every": 5, "video_sessions": 0}
    curves: dict[float, list[list[dict[str, float]]]] = {g: [] for g in gammas}
    finals: dict[float, list[float]] = {g: [] for g in gammas}
    variance_init: dict[float, list[float]] = {g: [] for g in gammas}
    variance_trained: dict[float, list[float]] = {g: [] for g in gammas}
    for seed in seeds:
        for gamma in gammas:
            args = TrainArgs(gamma=gamma, seed=seed, total_steps=env_steps, device="cpu",
                             run_dir=str(run_dir / f"gamma{gamma:g}-seed{seed}"), **size)
            summary = start(args)
            curves[gamma].append(read_metrics(summary.run_dir))
            finals[gamma].append(summary.eval_win_rate)
        # Gradient variance at two fixed policies per seed, the same for every gamma: the
        # initial one and the trained policy of this seed's run with the middle gamma.
        ref = _reference(gammas)
        ckpt = load_checkpoint(run_dir / f"gamma{ref:g}-seed{seed}")
        trained = make_policy(**ckpt["policy_args"])
        trained.load_state_dict(ckpt["policy"])
        for gamma in gammas:
            args = TrainArgs(gamma=gamma, seed=seed, device="cpu", **size).resolved()
            torch.manual_seed(seed)
            initial = make_policy(**ckpt["policy_args"])
            variance_init[gamma].append(gradient_variance(initial, args, nvar))
            variance_trained[gamma].append(gradient_variance(trained, args, nvar))
    rows = []
    for gamma in gammas:
        to80 = [_sessions_to(c, TARGET) for c in curves[gamma]]
        reached = [s for s in to80 if math.isfinite(s)]
        rows.append({"gamma": gamma,
                     "sessions_to_80%_median": float(np.median(to80)),
                     "runs_reaching_80%": f"{len(reached)}/{len(seeds)}",
                     "final_eval_win_rate": float(np.mean(finals[gamma])),
                     "final_eval_win_rate_min": float(np.min(finals[gamma])),
                     "grad_rel_variance_init": float(np.mean(variance_init[gamma])),
                     "grad_rel_variance_trained": float(np.mean(variance_trained[gamma]))})
    best = max(rows, key=lambda r: r["final_eval_win_rate"])
    fastest = min(rows, key=lambda r: r["sessions_to_80%_median"])
    ref = _reference(gammas)
    conclusions = [
        "Final evaluation win rate (mean over seeds, worst in brackets): " + ", ".join(
            f"gamma {r['gamma']:g} {r['final_eval_win_rate']:.3f} "
            f"({r['final_eval_win_rate_min']:.3f})" for r in rows)
        + f"; the best is gamma {best['gamma']:g}.",
        "Sessions to 80% (median; runs that got there): " + ", ".join(
            f"gamma {r['gamma']:g} {_count(r['sessions_to_80%_median'])} "
            f"({r['runs_reaching_80%']})" for r in rows)
        + (f"; the fastest is gamma {fastest['gamma']:g}."
           if math.isfinite(fastest["sessions_to_80%_median"]) else "."),
        "Relative variance of the gradient estimate at the trained policy (gamma "
        f"{ref:g} run's): " + ", ".join(
            f"gamma {r['gamma']:g} {r['grad_rel_variance_trained']:.3g}" for r in rows)
        + "; at the initial policy: " + ", ".join(
            f"{r['gamma']:g} {r['grad_rel_variance_init']:.3g}" for r in rows) + ".",
    ]

    def draw(fig: Any) -> None:
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for gamma in gammas:
            grid = np.linspace(0, max(max(m["sessions"] for m in c) for c in curves[gamma]), 60)
            ys = []
            for c in curves[gamma]:
                pts = [(m["sessions"], m["eval_win_rate"]) for m in c
                       if not math.isnan(m.get("eval_win_rate", math.nan))]
                xs, ws = zip(*pts, strict=True)
                ys.append(np.interp(grid, xs, ws))
            ys = np.array(ys)
            line = ax1.plot(grid, ys.mean(0), label=f"gamma {gamma:g}")[0]
            ax1.fill_between(grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.15)
        ax1.axhline(TARGET, color="grey", ls=":", lw=1)
        ax1.set(xlabel="training sessions", ylabel="evaluation win rate",
                title=f"REINFORCE on AirHockey, mean and range of {len(seeds)} seeds")
        ax1.legend()
        pos = np.arange(len(gammas))
        ax2.bar(pos - 0.2, [r["grad_rel_variance_init"] for r in rows], 0.4, label="initial policy")
        ax2.bar(pos + 0.2, [r["grad_rel_variance_trained"] for r in rows], 0.4,
                label=f"trained policy (gamma {ref:g} run)")
        ax2.set(xticks=pos, xticklabels=[f"{g:g}" for g in gammas], xlabel="gamma",
                ylabel="E||g - mean g||^2 / ||mean g||^2", yscale="log",
                title="variance of the policy-gradient estimate")
        ax2.legend()

    return LabOutcome(list(rows[0]), rows, conclusions, draw,
                      {"gamma": "g", "sessions_to_80%_median": ".0f",
                       "final_eval_win_rate": ".3f", "final_eval_win_rate_min": ".3f",
                       "grad_rel_variance_init": ".3g", "grad_rel_variance_trained": ".3g"})


def _reference(gammas: list[float]) -> float:
    """The run whose trained policy the variance is measured at: train-agent's default gamma
    (0.95) when it is compared, else the middle one."""
    default = TrainArgs().resolved().gamma
    return default if default in gammas else sorted(gammas)[len(gammas) // 2]


def _count(v: float) -> str:
    return f"{v:,.0f}" if math.isfinite(v) else "never"


SESSION_DECAY = LabExperiment(
    "session-decay", "Reward spread over the session's steps, decaying with distance, helps "
    "stability.", run_session_decay, _sd_arguments, default_seeds=3, duration="about 25 minutes")
