"""Rollouts: every sub-env of a vector env plays until it ends a session; the counted steps.

Training (REINFORCE's batches) and evaluation (of every algorithm) both play through
:func:`collect`. It runs every sub-env of a ``gymnasium.vector.VectorEnv`` side by side with
one batched forward pass per step (no Python loop over games), without gradients, and keeps the observations.
The update then recomputes the log-probabilities of the kept steps in one batched pass. That
costs a second forward pass but only over steps that count, and it keeps no autograd graph alive
through the rollout.

Which steps count: those of sessions that *finished* during the rollout (an unfinished one has no
outcome yet), minus next-step autoreset steps (their action was ignored by the env). A rollout
stops once every sub-env has finished a session (or after ``max_steps``). With pucklab's envs,
reset at the start of each rollout, that is one whole session per sub-env, so short (lost) and
long (won) sessions count equally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.distributions import Categorical

from pucklab.agents.returns import discounted_returns


@dataclass
class Batch:
    """The counted steps of one rollout, flattened, and what the rollout scored."""

    obs: torch.Tensor  # (N, *obs_shape) observations at the counted steps
    actions: torch.Tensor  # (N,) actions taken there
    returns: torch.Tensor  # (N,) session credit of each action (before normalising)
    sessions: int  # finished sessions counted
    wins: int  # of which ended with a positive reward
    session_reward: float  # mean total reward of a counted session
    env_steps: int  # every env step taken, counted or not


@torch.no_grad()
def collect(env: Any, policy: Callable[[torch.Tensor], torch.Tensor], gamma: float,
            max_steps: int,
            reset_on_reward: bool = False, device: torch.device | str = "cpu",
            greedy: bool = False, first_session_only: bool = True,
            seed: int | None = None, keep_obs: bool = True,
            frames: FrameBuffer | None = None) -> Batch:
    """Run ``env`` (a VectorEnv with next-step autoreset) until each sub-env ends a session.

    Args:
        env: The vector env; it is reset at the start.
        policy: Maps a (B, *obs_shape) float tensor to (B, A) logits.
        gamma: Decay of the outcome per step away from a session's end.
        max_steps: Cap on rollout length (sessions unfinished by then do not count).
        reset_on_reward: Also end a credit window at every non-zero reward (ALE Pong's points).
        device: Where the policy runs.
        greedy: Take the most likely action instead of sampling (evaluation).
        first_session_only: Count only each sub-env's first session. Sub-envs that lose early
            would otherwise fit in a second (short, lost) session while the slowest one plays
            on, and short sessions would be over-counted. False counts every finished credit
            window (for long ALE episodes cut into points).
        seed: Seeds the env's reset (the rollout's games).
        keep_obs: Keep every observation for the update (False: evaluation, none kept).
        frames: Where to keep them, reused from one rollout to the next (the training loop
            holds one, :attr:`EnvSetup.frames <pucklab.agents.env_setup.EnvSetup>`); None: a
            new buffer for this rollout.
    """
    device = torch.device(device)
    n = env.num_envs
    obs, _ = env.reset(seed=seed)
    # One buffer for the whole rollout: each observation is copied into it once. (Keeping a view
    # of the env's obs instead would break with copy=False envs, whose buffer the next step
    # overwrites: every kept frame would silently become the last one.) Reused by the next
    # rollout of the same shape (Batch.obs is a copy out of it), it spares a few hundred MB of
    # fresh pages per rollout.
    shape = (max_steps, n, *np.shape(obs)[1:])
    if keep_obs:
        buffer = (frames or FrameBuffer()).get(shape, device)
    else:
        buffer = torch.empty(shape[1:], device=device)[None]
    actions = torch.empty((max_steps, n), dtype=torch.long, device=device)
    rewards, ends, autoreset = [], [], []
    done_once = np.zeros(n, dtype=bool)
    just_ended = np.zeros(n, dtype=bool)  # next step is an autoreset step for these
    for t in range(max_steps):
        x = buffer[t if keep_obs else 0]
        x.copy_(torch.from_numpy(np.asarray(obs)))  # copy_ casts to float32
        logits = policy(x)
        actions[t] = logits.argmax(-1) if greedy else Categorical(logits=logits).sample()
        a = actions[t]
        autoreset.append(just_ended.copy())
        obs, r, terminated, truncated, _ = env.step(a.cpu().numpy())
        end = np.logical_or(terminated, truncated)
        rewards.append(np.asarray(r, dtype=np.float32))
        ends.append(end)
        just_ended = end
        done_once |= end
        if done_once.all():
            break
    steps = len(rewards)
    valid, returns, totals = count(np.stack(rewards), np.stack(ends), np.stack(autoreset), gamma,
                                   reset_on_reward, first_session_only)
    valid_dev = valid.to(device)
    return Batch(
        obs=buffer[:steps][valid_dev] if keep_obs else buffer[:0, 0],
        actions=actions[:steps][valid_dev],
        returns=returns.to(device)[valid_dev],
        sessions=int(totals.numel()),
        wins=int((totals > 0).sum()),
        session_reward=float(totals.mean()) if totals.numel() else float("nan"),
        env_steps=steps * n,
    )


def count(rewards: np.ndarray, ends: np.ndarray, autoreset: np.ndarray, gamma: float,
          reset_on_reward: bool, first_session_only: bool
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which steps of a (T, B) rollout count, the credit of every step, and the total reward
    of every counted session (credit window); see :func:`collect`."""
    rewards_t = torch.as_tensor(rewards)  # (T, B)
    ends_t = torch.as_tensor(ends)
    boundary = ends_t | (rewards_t != 0) if reset_on_reward else ends_t
    # A step counts if a credit window closes at or after it within the rollout, and the env did
    # not ignore its action (next-step autoreset).
    valid = _closes_later(boundary) & ~torch.as_tensor(autoreset)
    if first_session_only:  # steps up to and including each stream's first session end
        valid &= (torch.cumsum(ends_t.int(), 0) - ends_t.int()) == 0
    returns = discounted_returns(rewards_t, ends_t, gamma, reset_on_reward)
    # Session (credit window) totals: with gamma = 1 the return at a window's first step is its
    # total reward. Windows start at step 0 and right after a boundary (for ALE: every point).
    starts = torch.zeros_like(boundary)
    starts[0] = True
    starts[1:] = boundary[:-1]
    counted_starts = starts & _closes_later(boundary)
    if first_session_only:
        counted_starts[1:] = False
    totals = discounted_returns(rewards_t, ends_t, 1.0, reset_on_reward)[counted_starts]
    return valid, returns, totals


class FrameBuffer:
    """The float32 observations of a rollout, (T, B, *obs_shape), kept from one rollout to the
    next by whoever runs them: a new tensor only when the shape or the device changes."""

    def __init__(self) -> None:
        self._tensor: torch.Tensor | None = None

    def get(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        t = self._tensor
        if t is None or tuple(t.shape) != shape or t.device != device:
            t = self._tensor = torch.empty(shape, dtype=torch.float32, device=device)
        return t


def _closes_later(marks: torch.Tensor) -> torch.Tensor:
    """(T, B) bool: True where ``marks`` is True at this step or a later one of the same stream."""
    return torch.flip(torch.cummax(torch.flip(marks.int(), [0]), 0).values, [0]).bool()
