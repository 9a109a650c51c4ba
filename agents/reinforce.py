"""REINFORCE behind ``train-agent``: read it top to bottom.

    collect a batch of sessions -> spread each outcome over its actions -> normalise -> one
    gradient step -> (harness: log, evaluate, checkpoint, record) -> repeat until the budget

A checkpoint holds the policy, the optimiser, every RNG stream and the counters; each rollout
seeds its games from (seed, rollout index), so a resumed run plays on exactly as the
uninterrupted run would have. What every algorithm shares (evaluation, metrics, checkpoints
every few minutes, videos, the report callback, Ctrl-C) is in harness.py.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from pucklab.agents.env_setup import EnvSetup, make_env
from pucklab.agents.harness import Counters, Harness, checkpoint, misfit
from pucklab.agents.policies import make_policy, policy_args
from pucklab.agents.returns import normalise as normalise_returns
from pucklab.agents.rollout import Batch, collect
from pucklab.agents.settings import AgentSettings
from pucklab.runs.device import resolve_device
from pucklab.runs.optim import make_optimizer
from pucklab.runs.result import Report
from pucklab.runs.rng import restore_rng
from pucklab.runs.store import RunError, load_weights

BASELINE_DECAY = 0.9  # running-mean baseline: weight of the past per update


# -- 1. collect --------------------------------------------------------------------------------
def rollout_seed(seed: int, index: int) -> int:
    """A distinct, reproducible base seed for rollout ``index`` of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def merge(batches: list[Batch]) -> Batch:
    """One batch from several rollouts (when a batch holds more sessions than sub-envs)."""
    if len(batches) == 1:
        return batches[0]
    sessions = sum(b.sessions for b in batches)
    reward = sum(b.session_reward * b.sessions for b in batches if b.sessions) / max(sessions, 1)
    return Batch(obs=torch.cat([b.obs for b in batches]),
                 actions=torch.cat([b.actions for b in batches]),
                 returns=torch.cat([b.returns for b in batches]),
                 sessions=sessions, wins=sum(b.wins for b in batches),
                 session_reward=reward if sessions else math.nan,
                 env_steps=sum(b.env_steps for b in batches))


def collect_batch(setup: EnvSetup, policy: nn.Module, settings: AgentSettings,
                  first_rollout: int, device: torch.device) -> tuple[Batch, int]:
    """Rollouts until the batch holds ``settings.batch_sessions`` sessions (at least one).

    Rollout k plays the games seeded from ``(settings.seed, k)``; returns the batch and how
    many rollouts it took. Each sub-env plays a session; each action gets its session's credit.
    """
    assert settings.gamma is not None, "resolved settings"
    batches: list[Batch] = []
    while not batches or sum(b.sessions for b in batches) < settings.batch_sessions:
        batches.append(collect(
            setup.env, policy, settings.gamma, setup.rollout_steps,
            reset_on_reward=setup.reset_on_reward, device=device,
            first_session_only=setup.first_session_only, frames=setup.frames,
            seed=rollout_seed(settings.seed, first_rollout + len(batches))))
        if len(batches) >= 1000 and not any(b.sessions for b in batches):
            raise RunError(f"{settings.env}: no session ended in 1000 rollouts of "
                           f"{setup.rollout_steps} steps; nothing to learn from")
    return merge(batches), len(batches)


# -- 2. advantages and 3. loss ------------------------------------------------------------------
def advantages(returns: torch.Tensor, baseline: float | None = None,
               normalise: bool = True) -> torch.Tensor:
    """Centre returns on ``baseline`` (a running mean) or on the batch mean; by default also
    scale by their std (see :func:`~pucklab.agents.returns.normalise`), so a batch of all wins
    or all losses moves nothing."""
    if normalise:
        return normalise_returns(returns, centre=baseline)
    return returns - (returns.mean() if baseline is None else baseline)


def loss(policy: nn.Module, batch: Batch, adv: torch.Tensor,
         entropy_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """REINFORCE loss -E[adv * log pi(a|s)] - entropy_coef * H[pi], over the counted steps."""
    dist = Categorical(logits=policy(batch.obs))
    policy_loss = -(adv * dist.log_prob(batch.actions)).mean()
    entropy = dist.entropy().mean()
    total = policy_loss - entropy_coef * entropy
    return total, {"loss": policy_loss.item(), "entropy": entropy.item()}


# -- 4. update ------------------------------------------------------------------------------------
def update(policy: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch, adv: torch.Tensor,
           entropy_coef: float, max_grad_norm: float) -> dict[str, float]:
    """One gradient step on :func:`loss`, the gradient norm clipped to ``max_grad_norm``
    (0 = no clipping); returns the loss and entropy before the step."""
    total, stats = loss(policy, batch, adv, entropy_coef)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()
    return stats


# -- the training loop ----------------------------------------------------------------------------
def train(settings: AgentSettings, run_dir: Path, resume: dict[str, Any] | None = None,
          report: Report | None = None) -> Harness:
    """Train (or continue, from checkpoint ``resume``) a REINFORCE run in ``run_dir``.

    Returns the finished harness: its counters, final evaluation and files."""
    s = settings
    assert s.num_envs is not None and s.lr is not None, "resolved settings"
    device = resolve_device(s.device)
    torch.manual_seed(s.seed)
    setup = make_env(s.env, s.num_envs, s.env_kwargs, noop=s.noop, observation=s.observation,
                     vectorization=s.vectorization)
    pargs = policy_args(s.policy, setup.obs_shape, setup.num_actions, s.hidden)
    policy = make_policy(**pargs).to(device)
    optimizer = make_optimizer(s.optimizer, policy.parameters(), s.lr)  # rmsprop: pg-pong's 0.99
    counters = Counters()
    if resume is not None:
        load_weights(policy, resume["policy"], misfit(run_dir))
        optimizer.load_state_dict(resume["optimizer"])
        counters = Counters(**resume["counters"])
        restore_rng(resume["rng"])

    def state() -> dict[str, Any]:
        return checkpoint("reinforce", s.env, policy.state_dict(), optimizer.state_dict(),
                          counters, policy_args=pargs)

    harness = Harness(s, run_dir, counters, device, state, report, resumed=resume is not None)
    start = counters.updates
    try:
        with harness.training(lambda: f"{counters.updates} updates") as flag:
            while not harness.done():
                row = train_step(s, setup, policy, optimizer, counters, device)
                harness.after_update(row, policy)
                flag.check()  # a stop is taken here, between updates: resume is exact
    finally:
        setup.close()
    harness.finish(policy, trained=counters.updates > start)
    return harness


def train_step(s: AgentSettings, setup: EnvSetup, policy: nn.Module,
               optimizer: torch.optim.Optimizer, counters: Counters,
               device: torch.device) -> dict[str, float]:
    """Collect a batch, take one step, count; the metrics row of this update."""
    assert s.entropy is not None, "resolved settings"
    t0 = time.perf_counter()
    batch, rollouts = collect_batch(setup, policy, s, counters.rollouts, device)
    centre = counters.baseline if s.baseline and counters.updates > 0 else None
    stats = update(policy, optimizer, batch, advantages(batch.returns, baseline=centre),
                   s.entropy, s.max_grad_norm)
    # Count at once after the step: a Ctrl-C checkpoint must match the weights.
    counters.updates += 1
    counters.rollouts += rollouts
    counters.env_steps += batch.env_steps
    counters.sessions += batch.sessions
    counters.wall_time_s += time.perf_counter() - t0
    if s.baseline:
        mean = float(batch.returns.mean()) if batch.returns.numel() else 0.0
        counters.baseline = (mean if counters.updates == 1 else
                             BASELINE_DECAY * counters.baseline + (1 - BASELINE_DECAY) * mean)
    return {"env_steps": counters.env_steps, "wall_time_s": round(counters.wall_time_s, 3),
            "sessions": counters.sessions, "updates": counters.updates,
            "win_rate": batch.wins / batch.sessions if batch.sessions else math.nan,
            "mean_session_reward": batch.session_reward, **stats}
