"""The RL half's ``lab`` experiments.

* ``session-decay``: REINFORCE on ``pucklab/AirHockey-v0`` with the session's outcome spread
  back with decay gamma in {1.0, 0.99, 0.95, 0.9}: learning curves over seeds, sessions to an
  80% evaluation win rate, and the variance of the policy-gradient estimate at fixed policies.
* ``frame-difference``: the same agent seeing the frame difference, the raw current frame, or
  the last two frames stacked (``train-agent --observation``): learning curves and sessions to
  an 80% evaluation win rate.

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs them
and writes results.csv / results.md / figure.png. Each run is a real ``train-agent`` run (its
own folder under the lab run, with metrics.csv, checkpoint and curve).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.agents.env_setup import make_env
from pucklab.agents.harness import COMMAND
from pucklab.agents.policies import POLICIES, make_policy
from pucklab.agents.reinforce import advantages, collect_batch, loss
from pucklab.agents.runner import run
from pucklab.agents.settings import AgentSettings
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings
from pucklab.runs.metrics import read_metrics
from pucklab.runs.settings import setting
from pucklab.runs.store import RunError, load_checkpoint

TARGET = 0.8  # evaluation win rate that counts as learnt


@dataclass
class SessionDecaySettings(TorchLabSettings):
    gammas: list[float] = setting(help="decays to compare", metavar="GAMMA",
                                  default_factory=lambda: [1.0, 0.99, 0.95, 0.9])
    env_steps: int | None = setting(None, "env steps per run", sizes=(1_500_000, 12_800))
    variance_batches: int | None = setting(None, "independent batches for the gradient variance",
                                           sizes=(8, 2))

    def check(self) -> None:
        super().check()
        assert self.env_steps is not None and self.variance_batches is not None
        if any(not 0 <= g <= 1 for g in self.gammas):
            raise RunError("--gammas must lie in [0, 1]")
        if self.env_steps < 1 or self.variance_batches < 2:
            raise RunError("--env-steps must be >= 1 and --variance-batches >= 2")


def gradient_variance(policy: torch.nn.Module, args: AgentSettings, batches: int,
                      first_rollout: int = 10_000) -> float:
    """Relative variance E||g - mean g||^2 / ||mean g||^2 of the REINFORCE gradient estimate
    (the training pipeline's own: normalised returns, entropy bonus) over ``batches``
    independent batches of ``args.batch_sessions`` sessions with ``policy`` held fixed."""
    assert args.num_envs is not None and args.entropy is not None, "resolved settings"
    setup = make_env(args.env, args.num_envs, args.env_kwargs,
                     observation=args.observation)
    grads = []
    try:
        rollout = first_rollout
        for _ in range(batches):
            batch, used = collect_batch(setup, policy, args, rollout, torch.device("cpu"))
            rollout += used
            total, _ = loss(policy, batch, advantages(batch.returns), args.entropy)
            policy.zero_grad(set_to_none=True)
            total.backward()
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


def _size(quick: bool, progress: bool | None = False) -> dict[str, Any]:
    """Run settings the lab changes from train-agent's: no videos (the lab compares numbers;
    each run's folder still has its curve and checkpoint), and cheaper evaluations."""
    if quick:
        return {"batch_sessions": 64, "eval_sessions": 64, "eval_every": 2, "video_sessions": 0,
                "progress": progress}
    return {"eval_sessions": 256, "eval_every": 5, "video_sessions": 0, "progress": progress}


Curves = dict[str, list[list[dict[str, float]]]]


def _train_all(conditions: dict[str, dict[str, Any]], seeds: list[int], env_steps: int,
               ns: TorchLabSettings, run_dir: Path) -> tuple[Curves, dict[str, list[float]]]:
    """One train-agent run per (condition, seed), each in ``run_dir/<condition>-seed<s>``;
    every run's metrics rows and final evaluation win rate, by condition."""
    curves: Curves = {c: [] for c in conditions}
    finals: dict[str, list[float]] = {c: [] for c in conditions}
    for seed in seeds:
        for cond, overrides in conditions.items():
            settings = AgentSettings(seed=seed, total_steps=env_steps, device=ns.device,
                                     **_size(ns.quick, ns.progress), **overrides)
            result = run(settings, run_dir / f"{cond}-seed{seed}")
            curves[cond].append(read_metrics(result.run_dir))
            finals[cond].append(result.metrics["eval_win_rate"])
    return curves, finals


def _learning(curves: list[list[dict[str, float]]], finals: list[float]) -> dict[str, Any]:
    """The table columns every RL experiment shares: how soon and how far the runs learnt."""
    to80 = [_sessions_to(c, TARGET) for c in curves]
    return {"sessions_to_80%_median": float(np.median(to80)),
            "runs_reaching_80%": f"{sum(map(math.isfinite, to80))}/{len(to80)}",
            "final_eval_win_rate": float(np.mean(finals)),
            "final_eval_win_rate_min": float(np.min(finals))}


def _learning_conclusions(rows: list[dict[str, Any]], name: Callable[[dict[str, Any]], str],
                          article: str = "") -> list[str]:
    """The two sentences every RL experiment states from its :func:`_learning` columns: final
    win rates and sessions to 80%, each naming the best condition (``name`` labels a row)."""
    best = max(rows, key=lambda r: r["final_eval_win_rate"])
    fastest = min(rows, key=lambda r: r["sessions_to_80%_median"])
    return [
        "Final evaluation win rate (mean over seeds, worst in brackets): " + ", ".join(
            f"{name(r)} {r['final_eval_win_rate']:.3f} ({r['final_eval_win_rate_min']:.3f})"
            for r in rows) + f"; the best is {article}{name(best)}.",
        "Sessions to 80% (median; runs that got there): " + ", ".join(
            f"{name(r)} {_count(r['sessions_to_80%_median'])} ({r['runs_reaching_80%']})"
            for r in rows)
        + (f"; the fastest is {article}{name(fastest)}."
           if math.isfinite(fastest["sessions_to_80%_median"]) else "."),
    ]


LEARNING_FORMATS = {"sessions_to_80%_median": ".0f", "final_eval_win_rate": ".3f",
                    "final_eval_win_rate_min": ".3f"}


def _draw_curves(ax: Any, curves: Curves, labels: dict[str, str], title: str) -> None:
    """Mean evaluation win rate over seeds against training sessions, the range shaded."""
    for cond, runs in curves.items():
        grid = np.linspace(0, max(max(m["sessions"] for m in c) for c in runs), 60)
        ys = []
        for c in runs:
            pts = [(m["sessions"], m["eval_win_rate"]) for m in c
                   if not math.isnan(m.get("eval_win_rate", math.nan))]
            xs, ws = zip(*pts, strict=True)
            ys.append(np.interp(grid, xs, ws))
        arr = np.array(ys)
        line = ax.plot(grid, arr.mean(0), label=labels[cond])[0]
        ax.fill_between(grid, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.15)
    ax.axhline(TARGET, color="grey", ls=":", lw=1)
    ax.set(xlabel="training sessions", ylabel="evaluation win rate", title=title)
    ax.legend()


def run_session_decay(ns: SessionDecaySettings, seeds: list[int], run_dir: Path) -> LabOutcome:
    gammas, env_steps, nvar = ns.gammas, ns.env_steps, ns.variance_batches
    assert env_steps is not None and nvar is not None
    conditions = {f"gamma{g:g}": {"gamma": g} for g in gammas}
    curves, finals = _train_all(conditions, seeds, env_steps, ns, run_dir)
    variance_init: dict[float, list[float]] = {g: [] for g in gammas}
    variance_trained: dict[float, list[float]] = {g: [] for g in gammas}
    ref = _reference(gammas)
    for seed in seeds:
        # Gradient variance at two fixed policies per seed, the same for every gamma: the
        # initial one and the trained policy of this seed's run with the reference gamma.
        ckpt = load_checkpoint(run_dir / f"gamma{ref:g}-seed{seed}", command=COMMAND)
        trained = make_policy(**ckpt["policy_args"])
        trained.load_state_dict(ckpt["policy"])
        for gamma in gammas:
            args = AgentSettings(gamma=gamma, seed=seed, device="cpu",
                                 **_size(ns.quick)).resolved()
            torch.manual_seed(seed)
            initial = make_policy(**ckpt["policy_args"])
            variance_init[gamma].append(gradient_variance(initial, args, nvar))
            variance_trained[gamma].append(gradient_variance(trained, args, nvar))
    rows = [{"gamma": g, **_learning(curves[f"gamma{g:g}"], finals[f"gamma{g:g}"]),
             "grad_rel_variance_init": float(np.mean(variance_init[g])),
             "grad_rel_variance_trained": float(np.mean(variance_trained[g]))} for g in gammas]
    conclusions = [
        *_learning_conclusions(rows, lambda r: f"gamma {r['gamma']:g}"),
        "Relative variance of the gradient estimate at the trained policy (gamma "
        f"{ref:g} run's): " + ", ".join(
            f"gamma {r['gamma']:g} {r['grad_rel_variance_trained']:.3g}" for r in rows)
        + "; at the initial policy: " + ", ".join(
            f"{r['gamma']:g} {r['grad_rel_variance_init']:.3g}" for r in rows) + ".",
    ]

    def draw(fig: Any) -> None:
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        _draw_curves(ax1, curves, {f"gamma{g:g}": f"gamma {g:g}" for g in gammas},
                     f"REINFORCE on AirHockey, mean and range of {len(seeds)} seeds")
        pos = np.arange(len(gammas))
        ax2.bar(pos - 0.2, [r["grad_rel_variance_init"] for r in rows], 0.4, label="initial policy")
        ax2.bar(pos + 0.2, [r["grad_rel_variance_trained"] for r in rows], 0.4,
                label=f"trained policy (gamma {ref:g} run)")
        ax2.set(xticks=pos, xticklabels=[f"{g:g}" for g in gammas], xlabel="gamma",
                ylabel="E||g - mean g||^2 / ||mean g||^2", yscale="log",
                title="variance of the policy-gradient estimate")
        ax2.legend()

    return LabOutcome(list(rows[0]), rows, conclusions, draw,
                      {"gamma": "g", **LEARNING_FORMATS,
                       "grad_rel_variance_init": ".3g", "grad_rel_variance_trained": ".3g"})


def _reference(gammas: list[float]) -> float:
    """The run whose trained policy the variance is measured at: train-agent's default gamma
    when it is compared, else the middle one."""
    default = AgentSettings().resolved().gamma
    return default if default in gammas else sorted(gammas)[len(gammas) // 2]


def _count(v: float) -> str:
    return f"{v:,.0f}" if math.isfinite(v) else "never"


SESSION_DECAY = LabExperiment(
    "session-decay", "Reward spread over the session's steps, decaying with distance, helps "
    "stability.", run_session_decay, SessionDecaySettings, duration="about 13 minutes")


# -- frame difference ----------------------------------------------------------------------------
OBSERVATION_LABELS = {"difference": "frame difference", "frame": "current frame",
                      "frames2": "2 stacked frames"}


@dataclass
class FrameDifferenceSettings(TorchLabSettings):
    observations: list[str] = setting(help="what the agent sees, compared", metavar="OBSERVATION",
                                      choices=tuple(OBSERVATION_LABELS),
                                      default_factory=lambda: list(OBSERVATION_LABELS))
    env_steps: int | None = setting(None, "env steps per run", low=1, sizes=(1_600_000, 12_800))
    gamma: float = setting(0.99, "session-reward decay of every run (0.99: the fastest in "
                           "session-decay)", low=0, high=1)
    policy: str = setting("pooled", "policy of every run (pooled: train-agent's)",
                          choices=POLICIES)


def run_frame_difference(ns: FrameDifferenceSettings, seeds: list[int], run_dir: Path
                         ) -> LabOutcome:
    observations = list(dict.fromkeys(ns.observations))
    env_steps = ns.env_steps
    assert env_steps is not None
    conditions = {o: {"observation": o, "policy": ns.policy, "gamma": ns.gamma}
                  for o in observations}
    curves, finals = _train_all(conditions, seeds, env_steps, ns, run_dir)
    rows = [{"observation": o, **_learning(curves[o], finals[o])} for o in observations]
    conclusions = [
        *_learning_conclusions(rows, lambda r: OBSERVATION_LABELS[r["observation"]], "the "),
        f"Every run: REINFORCE, policy {ns.policy}, gamma {ns.gamma:g}, {env_steps:,} env steps, "
        "train-agent's other defaults; only what the policy sees of the pixels differs.",
    ]

    def draw(fig: Any) -> None:
        _draw_curves(fig.add_subplot(1, 1, 1), curves, OBSERVATION_LABELS,
                     f"REINFORCE ({ns.policy}) on AirHockey, mean and range of "
                     f"{len(seeds)} seeds")

    return LabOutcome(list(rows[0]), rows, conclusions, draw, dict(LEARNING_FORMATS))


FRAME_DIFFERENCE = LabExperiment(
    "frame-difference", "Give the agent the difference of the previous and the next frame.",
    run_frame_difference, FrameDifferenceSettings, duration="about 15 minutes")
