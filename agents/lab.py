"""The RL half's ``lab`` experiments.

* ``session-decay``: REINFORCE on ``pucklab/AirHockey-v0`` with the session's outcome spread
  back with decay gamma in {1.0, 0.99, 0.95, 0.9}: learning curves over seeds, sessions to an
  80% evaluation win rate, and the variance of the policy-gradient estimate at fixed policies.
* ``frame-difference``: the same agent seeing the frame difference, the raw current frame, or
  the last two frames stacked (``train-agent --observation``): learning curves and sessions to
  an 80% evaluation win rate.

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs them
and writes results.csv / results.md / figure.png. Each condition x seed is a task
(:mod:`pucklab.runs.lab_tasks`): a real ``train-agent`` run in ``tasks/<condition>-seed<s>/run``
(metrics.csv, checkpoint, curve), continued from its checkpoint when a killed worker's task is
retried.
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
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task, continues
from pucklab.runs.metrics import read_metrics
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError, load_checkpoint

TARGET = 0.8  # evaluation win rate that counts as learnt


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


def _train(overrides: dict[str, Any], seed: int, env_steps: int, ns: TorchLabSettings,
           folder: Path, resume: bool) -> dict[str, Any]:
    """One train-agent run in ``folder/run`` (a retried task continues from its checkpoint):
    its metrics rows (without the columns a row leaves empty) and final evaluation win rate."""
    settings = AgentSettings(seed=seed, total_steps=env_steps, device=ns.device,
                             **_size(ns.quick, ns.progress), **overrides)
    run_dir = folder / "run"
    result = run(settings, run_dir, resume=continues(run_dir, resume))
    return {"metrics": [{k: v for k, v in m.items() if not math.isnan(v)}
                        for m in read_metrics(run_dir)],
            "final": result.metrics["eval_win_rate"]}


def _gather(found: dict[str, dict[str, Any]], tasks: list[Task]
            ) -> tuple[Curves, dict[str, list[float]]]:
    """Every run's metrics rows and final win rate, by condition, in seed order."""
    curves: Curves = {}
    finals: dict[str, list[float]] = {}
    for task in tasks:
        cond = task.params["condition"]
        curves.setdefault(cond, []).append(found[task.key]["metrics"])
        finals.setdefault(cond, []).append(found[task.key]["final"])
    return curves, finals


def _win_rate_claims(finals: dict[str, list[float]], base: str,
                     label: Callable[[str], str]) -> list[Claim]:
    """Each condition's final evaluation win rate against ``base``'s, seed by seed."""
    return [Claim(f"{label(c)} ends at a higher evaluation win rate than {label(base)} "
                  f"({label(c)} - {label(base)})", difference(finals[c], finals[base]))
            for c in finals if c != base]


def _learning(curves: list[list[dict[str, float]]], finals: list[float]) -> dict[str, Any]:
    """The table columns every RL experiment shares: how soon and how far the runs learnt."""
    to80 = [_sessions_to(c, TARGET) for c in curves]
    return {"sessions_to_80%_median": float(np.median(to80)),
            "runs_reaching_80%": f"{sum(map(math.isfinite, to80))}/{len(to80)}",
            "final_eval_win_rate": interval(finals),
            "final_eval_win_rate_min": float(np.min(finals))}


def _learning_conclusions(rows: list[dict[str, Any]], name: Callable[[dict[str, Any]], str],
                          article: str = "") -> list[str]:
    """The two sentences every RL experiment states from its :func:`_learning` columns: final
    win rates and sessions to 80%, each naming the best condition (``name`` labels a row)."""
    best = max(rows, key=lambda r: r["final_eval_win_rate"].mean)
    fastest = min(rows, key=lambda r: r["sessions_to_80%_median"])
    return [
        "Final evaluation win rate (mean over seeds, worst in brackets): " + ", ".join(
            f"{name(r)} {r['final_eval_win_rate'].mean:.3f} ({r['final_eval_win_rate_min']:.3f})"
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


def session_tasks(ns: SessionDecaySettings, seeds: list[int]) -> list[Task]:
    return [Task(f"gamma{g:g}-seed{seed}", seed, {"condition": f"gamma{g:g}", "gamma": g})
            for seed in seeds for g in ns.gammas]


def session_measure(ns: SessionDecaySettings, task: Task, folder: Path, resume: bool
                    ) -> dict[str, Any]:
    """One gamma's run. The reference gamma's run also measures the gradient variance of every
    gamma at two fixed policies of its seed: the initial one and the one it trained."""
    assert ns.env_steps is not None and ns.variance_batches is not None
    found = _train({"gamma": task.params["gamma"]}, task.seed, ns.env_steps, ns, folder, resume)
    if task.params["gamma"] != _reference(ns.gammas):
        return found
    ckpt = load_checkpoint(folder / "run", command=COMMAND)
    trained = make_policy(**ckpt["policy_args"])
    trained.load_state_dict(ckpt["policy"])
    variance: dict[str, dict[str, float]] = {"init": {}, "trained": {}}
    for gamma in ns.gammas:
        args = AgentSettings(gamma=gamma, seed=task.seed, device="cpu",
                             **_size(ns.quick)).resolved()
        torch.manual_seed(task.seed)
        initial = make_policy(**ckpt["policy_args"])
        variance["init"][f"{gamma:g}"] = gradient_variance(initial, args, ns.variance_batches)
        variance["trained"][f"{gamma:g}"] = gradient_variance(trained, args,
                                                              ns.variance_batches)
    return {**found, "variance": variance}


def session_aggregate(ns: SessionDecaySettings, found: dict[str, dict[str, Any]],
                      run_dir: Path) -> LabOutcome:
    gammas, seeds, ref = ns.gammas, ns.seed_list(), _reference(ns.gammas)
    curves, finals = _gather(found, session_tasks(ns, seeds))
    variances = [found[f"gamma{ref:g}-seed{seed}"]["variance"] for seed in seeds]

    def variance(at: str, g: float) -> list[float]:
        return [v[at][f"{g:g}"] for v in variances]

    rows = [{"gamma": g, **_learning(curves[f"gamma{g:g}"], finals[f"gamma{g:g}"]),
             "grad_rel_variance_init": interval(variance("init", g)),
             "grad_rel_variance_trained": interval(variance("trained", g))} for g in gammas]
    claims = _win_rate_claims(finals, f"gamma{max(gammas):g}", lambda c: c.replace("gamma", "gamma "))
    top = max(gammas)
    claims += [Claim(f"gamma {g:g} gives a less noisy gradient than gamma {top:g} at the trained "
                     f"policy (log10 of the relative variance, {g:g} - {top:g})",
                     difference(np.log10(variance("trained", g)).tolist(),
                                np.log10(variance("trained", top)).tolist()), higher=False)
               for g in gammas if g != top]
    conclusions = [
        *_learning_conclusions(rows, lambda r: f"gamma {r['gamma']:g}"),
        "Relative variance of the gradient estimate at the trained policy (gamma "
        f"{ref:g} run's): " + ", ".join(
            f"gamma {r['gamma']:g} {r['grad_rel_variance_trained'].mean:.3g}" for r in rows)
        + "; at the initial policy: " + ", ".join(
            f"{r['gamma']:g} {r['grad_rel_variance_init'].mean:.3g}" for r in rows) + ".",
    ]

    def draw(fig: Any) -> None:
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        _draw_curves(ax1, curves, {f"gamma{g:g}": f"gamma {g:g}" for g in gammas},
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


def _count(v: float) -> str:
    return f"{v:,.0f}" if math.isfinite(v) else "never"


SESSION_DECAY = LabExperiment(
    "session-decay", "Reward spread over the session's steps, decaying with distance, helps "
    "stability.", None, SessionDecaySettings, duration="about 15 minutes with --workers 2",
    tasks=session_tasks, measure=session_measure, aggregate=session_aggregate)


# -- frame difference ----------------------------------------------------------------------------
OBSERVATION_LABELS = {"difference": "frame difference", "frame": "current frame",
                      "frames2": "2 stacked frames"}


@dataclass
class FrameDifferenceSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    observations: list[str] = setting(help="what the agent sees, compared", metavar="OBSERVATION",
                                      choices=tuple(OBSERVATION_LABELS),
                                      default_factory=lambda: list(OBSERVATION_LABELS))
    env_steps: int | None = setting(None, "env steps per run", low=1, sizes=(1_600_000, 12_800))
    gamma: float = setting(0.99, "session-reward decay of every run (0.99: the fastest in "
                           "session-decay)", low=0, high=1)
    policy: str = setting("pooled", "policy of every run (pooled: train-agent's)",
                          choices=POLICIES)


def frame_tasks(ns: FrameDifferenceSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{o}-seed{seed}", seed, {"condition": o})
            for seed in seeds for o in dict.fromkeys(ns.observations)]


def frame_measure(ns: FrameDifferenceSettings, task: Task, folder: Path, resume: bool
                  ) -> dict[str, Any]:
    assert ns.env_steps is not None
    return _train({"observation": task.params["condition"], "policy": ns.policy,
                   "gamma": ns.gamma}, task.seed, ns.env_steps, ns, folder, resume)


def frame_aggregate(ns: FrameDifferenceSettings, found: dict[str, dict[str, Any]],
                    run_dir: Path) -> LabOutcome:
    observations, seeds, env_steps = list(dict.fromkeys(ns.observations)), ns.seed_list(), \
        ns.env_steps
    assert env_steps is not None
    curves, finals = _gather(found, frame_tasks(ns, seeds))
    rows = [{"observation": o, **_learning(curves[o], finals[o])} for o in observations]
    others = {o: finals[o] for o in observations if o != "difference"}
    claims = [] if "difference" not in finals else [
        Claim(f"the frame difference ends at a higher evaluation win rate than the "
              f"{OBSERVATION_LABELS[o]} (difference - {o})",
              difference(finals["difference"], v)) for o, v in others.items()]
    conclusions = [
        *_learning_conclusions(rows, lambda r: OBSERVATION_LABELS[r["observation"]], "the "),
        f"Every run: REINFORCE, policy {ns.policy}, gamma {ns.gamma:g}, {env_steps:,} env steps, "
        "train-agent's other defaults; only what the policy sees of the pixels differs.",
    ]

    def draw(fig: Any) -> None:
        _draw_curves(fig.add_subplot(1, 1, 1), curves, OBSERVATION_LABELS,
                     f"REINFORCE ({ns.policy}) on AirHockey, mean and range of "
                     f"{len(seeds)} seeds")

    return LabOutcome(list(rows[0]), rows, conclusions, draw, dict(LEARNING_FORMATS), claims)


FRAME_DIFFERENCE = LabExperiment(
    "frame-difference", "Give the agent the difference of the previous and the next frame.",
    None, FrameDifferenceSettings, duration="about 15 minutes with --workers 2",
    tasks=frame_tasks, measure=frame_measure, aggregate=frame_aggregate)
