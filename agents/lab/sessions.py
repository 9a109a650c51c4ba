"""``lab session-decay``: REINFORCE on ``pucklab/AirHockey-v0`` with the session's outcome
spread back with decay gamma in {1.0, 0.99, 0.95, 0.9}: learning curves over seeds, sessions to
an 80% evaluation win rate, and the variance of the policy-gradient estimate at fixed policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pucklab.agents.env_setup import make_env
from pucklab.agents.harness import COMMAND
from pucklab.agents.lab.learning import (
    LEARNING_FORMATS,
    draw_curves,
    gather,
    learning,
    learning_conclusions,
    size,
    train,
    win_rate_claims,
)
from pucklab.agents.policies import make_policy
from pucklab.agents.reinforce import advantages, collect_batch, loss
from pucklab.agents.settings import AgentSettings
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError, load_checkpoint


@dataclass
class SessionDecaySettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
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


def session_tasks(ns: SessionDecaySettings, seeds: list[int]) -> list[Task]:
    return [Task(f"gamma{g:g}-seed{seed}", seed, {"condition": f"gamma{g:g}", "gamma": g})
            for seed in seeds for g in ns.gammas]


def session_measure(ns: SessionDecaySettings, task: Task, folder: Path, resume: bool
                    ) -> dict[str, Any]:
    """One gamma's run. The reference gamma's run also measures the gradient variance of every
    gamma at two fixed policies of its seed: the initial one and the one it trained."""
    assert ns.env_steps is not None and ns.variance_batches is not None
    found = train({"gamma": task.params["gamma"]}, task.seed, ns.env_steps, ns, folder, resume)
    if task.params["gamma"] != _reference(ns.gammas):
        return found
    ckpt = load_checkpoint(folder / "run", command=COMMAND)
    trained = make_policy(**ckpt["policy_args"])
    trained.load_state_dict(ckpt["policy"])
    variance: dict[str, dict[str, float]] = {"init": {}, "trained": {}}
    for gamma in ns.gammas:
        args = AgentSettings(gamma=gamma, seed=task.seed, device="cpu",
                             **size(ns.quick)).resolved()
        torch.manual_seed(task.seed)
        initial = make_policy(**ckpt["policy_args"])
        variance["init"][f"{gamma:g}"] = gradient_variance(initial, args, ns.variance_batches)
        variance["trained"][f"{gamma:g}"] = gradient_variance(trained, args,
                                                              ns.variance_batches)
    return {**found, "variance": variance}


def session_aggregate(ns: SessionDecaySettings, found: dict[str, dict[str, Any]],
                      run_dir: Path) -> LabOutcome:
    gammas, seeds, ref = ns.gammas, ns.seed_list(), _reference(ns.gammas)
    curves, finals = gather(found, session_tasks(ns, seeds))
    variances = [found[f"gamma{ref:g}-seed{seed}"]["variance"] for seed in seeds]

    def variance(at: str, g: float) -> list[float]:
        return [v[at][f"{g:g}"] for v in variances]

    rows = [{"gamma": g, **learning(curves[f"gamma{g:g}"], finals[f"gamma{g:g}"]),
             "grad_rel_variance_init": interval(variance("init", g)),
             "grad_rel_variance_trained": interval(variance("trained", g))} for g in gammas]
    claims = win_rate_claims(finals, f"gamma{max(gammas):g}", lambda c: c.replace("gamma", "gamma "))
    top = max(gammas)
    claims += [Claim(f"gamma {g:g} gives a less noisy gradient than gamma {top:g} at the trained "
                     f"policy (log10 of the relative variance, {g:g} - {top:g})",
                     difference(np.log10(variance("trained", g)).tolist(),
                                np.log10(variance("trained", top)).tolist()), higher=False)
               for g in gammas if g != top]
    conclusions = [
        *learning_conclusions(rows, lambda r: f"gamma {r['gamma']:g}"),
        "Relative variance of the gradient estimate at the trained policy (gamma "
        f"{ref:g} run's): " + ", ".join(
            f"gamma {r['gamma']:g} {r['grad_rel_variance_trained'].mean:.3g}" for r in rows)
        + "; at the initial policy: " + ", ".join(
            f"{r['gamma']:g} {r['grad_rel_variance_init'].mean:.3g}" for r in rows) + ".",
    ]

    def draw(fig: Any) -> None:
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        draw_curves(ax1, curves, {f"gamma{g:g}": f"gamma {g:g}" for g in gammas},
                     f"REINFORCE on AirHockey, mean and range of {len(seeds)} seeds")
        pos = np.arange(len(gammas))
        ax2.bar(pos - 0.2, [r["grad_rel_variance_init"].mean for r in rows], 0.4,
                label="initial policy")
        ax2.bar(pos + 0.2, [r["grad_rel_variance_trained"].mean for r in rows], 0.4,
                label=f"trained policy (gamma {ref:g} run)")
        ax2.set(xticks=pos, xticklabels=[f"{g:g}" for g in gammas], xlabel="gamma",
                ylabel="E||g - mean g||^2 / ||mean g||^2", yscale="log",
                title="variance of the policy-gradient estimate")
        ax2.legend()

    return LabOutcome(list(rows[0]), rows, conclusions, draw,
                      {"gamma": "g", **LEARNING_FORMATS,
                       "grad_rel_variance_init": ".3g", "grad_rel_variance_trained": ".3g"},
                      claims)


def _reference(gammas: list[float]) -> float:
    """The run whose trained policy the variance is measured at: train-agent's default gamma
    when it is compared, else the middle one."""
    default = AgentSettings().resolved().gamma
    return default if default in gammas else sorted(gammas)[len(gammas) // 2]


SESSION_DECAY = LabExperiment(
    "session-decay", "Reward spread over the session's steps, decaying with distance, helps "
    "stability.", None, SessionDecaySettings, duration="about 15 minutes with --workers 2",
    tasks=session_tasks, measure=session_measure, aggregate=session_aggregate)
