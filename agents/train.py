"""The REINFORCE training loop behind ``train-agent``: read it top to bottom.

    collect a batch of sessions -> spread each outcome over its actions -> normalise -> one
    gradient step -> log, evaluate, checkpoint, record -> repeat until the budget is spent

Everything a run writes goes to its run folder (``pucklab.runs``): ``config.json``,
``metrics.csv`` + TensorBoard events, ``checkpoints/last.pt``, ``learning_curve.png`` and
``videos/``. A checkpoint holds the policy, the optimiser, the torch RNG and the counters; each
rollout seeds its games from (seed, rollout index), so a resumed run plays on exactly as the
uninterrupted run would have.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pucklab.agents import reinforce
from pucklab.agents.args import TrainArgs
from pucklab.agents.env_setup import EnvSetup, is_pucklab, make_env, make_single_env
from pucklab.agents.policies import make_policy, policy_args
from pucklab.agents.video import play_sessions, write_video
from pucklab.runs import (
    MetricsLogger,
    RunError,
    discard_unstarted,
    load_checkpoint,
    new_run_dir,
    plot_curves,
    save_checkpoint,
    save_config,
)

COLUMNS = ["env_steps", "wall_time_s", "sessions", "updates", "win_rate", "mean_session_reward",
           "loss", "entropy", "eval_win_rate", "eval_session_reward"]
TAGS = {"win_rate": "charts/win_rate", "mean_session_reward": "charts/mean_session_reward",
        "eval_win_rate": "charts/eval_win_rate", "loss": "losses/policy",
        "entropy": "losses/entropy", "wall_time_s": "charts/wall_time_s"}
BASELINE_DECAY = 0.9  # running-mean baseline: weight of the past per update
EVAL_SEED_OFFSET = 1_000_003  # evaluation sessions never coincide with training ones


class Interrupted(Exception):
    """Ctrl-C during training; the checkpoint it names was saved."""


@dataclass
class Counters:
    """How far a run has got; saved in every checkpoint, continued by ``--resume``."""

    updates: int = 0
    rollouts: int = 0
    env_steps: int = 0
    sessions: int = 0
    wall_time_s: float = 0.0  # training time (evaluation, videos and checkpoints excluded)
    baseline: float = 0.0
    last_eval: dict[str, float] = field(default_factory=dict)


@dataclass
class Summary:
    run_dir: Path
    counters: Counters
    eval_win_rate: float
    eval_session_reward: float
    eval_sessions: int
    files: list[Path]


class Progress:
    """The tqdm bar of a run, over env steps (``--total-steps``) or seconds (``--minutes``)."""

    def __init__(self, args: TrainArgs, counters: Counters) -> None:
        self.max_steps, self.max_seconds = args.budget()
        self.bar = tqdm(total=self.max_steps if self.max_steps is not None
                        else round(self.max_seconds), initial=self.position(counters),
                        unit="step" if self.max_steps is not None else "s",
                        unit_scale=self.max_steps is not None, dynamic_ncols=True,
                        desc=f"{args.env} {args.algo}", disable=not args.progress)

    def position(self, c: Counters) -> int:
        if self.max_steps is not None:
            return min(c.env_steps, self.max_steps)
        return min(round(c.wall_time_s), round(self.max_seconds))

    def done(self, c: Counters) -> bool:
        return ((self.max_steps is not None and c.env_steps >= self.max_steps)
                or (self.max_seconds is not None and c.wall_time_s >= self.max_seconds))

    def show(self, c: Counters, row: dict[str, float]) -> None:
        self.bar.set_postfix(win=f"{row['win_rate']:.2f}",
                             reward=f"{row['mean_session_reward']:+.2f}",
                             eval=f"{c.last_eval.get('win_rate', math.nan):.2f}", refresh=False)
        self.bar.update(self.position(c) - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def make_eval_env(args: TrainArgs, sessions: int | None = None) -> EnvSetup:
    """The evaluation env: pucklab plays every session in one rollout (one per game); other
    envs run rollouts of the training width until enough sessions ended."""
    n = args.eval_sessions if sessions is None else sessions
    return make_env(args.env, n if is_pucklab(args.env) else args.num_envs, args.env_kwargs,
                    noop=args.noop, observation=args.observation)


def finish(args: TrainArgs, run_dir: Path, counters: Counters, policy: Any,
           eval_setup: EnvSetup, metrics: MetricsLogger, device: torch.device) -> Summary:
    """The end of a run, for every algorithm: a final evaluation row, the curve, a video."""
    win, reward, n = evaluate(eval_setup, policy, args.eval_sessions, args.seed,
                              not args.eval_stochastic, device)
    metrics.log({"env_steps": counters.env_steps, "wall_time_s": round(counters.wall_time_s, 3),
                 "sessions": counters.sessions, "updates": counters.updates,
                 "eval_win_rate": win, "eval_session_reward": reward})
    metrics.close()
    eval_setup.close()
    files = [run_dir / "checkpoints" / "last.pt", learning_curve(run_dir, args)]
    files += record(args, policy, run_dir / "videos" / "final", device, args.seed)
    return Summary(run_dir, counters, win, reward, n, files)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda: no CUDA device is available (try --device auto)")
    return torch.device(name)


def rollout_seed(seed: int, index: int) -> int:
    """A distinct, reproducible base seed for rollout ``index`` of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def make_optimizer(args: TrainArgs, policy: torch.nn.Module) -> torch.optim.Optimizer:
    if args.optimizer == "rmsprop":  # pg-pong: decay_rate 0.99
        return torch.optim.RMSprop(policy.parameters(), lr=args.lr, alpha=0.99)
    return torch.optim.Adam(policy.parameters(), lr=args.lr)


def merge(batches: list[reinforce.Batch]) -> reinforce.Batch:
    """One batch from several rollouts (when a batch holds more sessions than sub-envs)."""
    if len(batches) == 1:
        return batches[0]
    sessions = sum(b.sessions for b in batches)
    reward = sum(b.session_reward * b.sessions for b in batches if b.sessions) / max(sessions, 1)
    return reinforce.Batch(obs=torch.cat([b.obs for b in batches]),
                           actions=torch.cat([b.actions for b in batches]),
                           returns=torch.cat([b.returns for b in batches]),
                           sessions=sessions, wins=sum(b.wins for b in batches),
                           session_reward=reward if sessions else math.nan,
                           env_steps=sum(b.env_steps for b in batches))


def collect_batch(setup: EnvSetup, policy: torch.nn.Module, args: TrainArgs,
                  first_rollout: int, device: torch.device) -> tuple[reinforce.Batch, int]:
    """Rollouts until the batch holds ``args.batch_sessions`` sessions (at least one rollout).

    Rollout k plays the games seeded from ``(args.seed, k)``; returns the batch and how many
    rollouts it took.
    """
    batches: list[reinforce.Batch] = []
    while not batches or sum(b.sessions for b in batches) < args.batch_sessions:
        batches.append(reinforce.collect(
            setup.env, policy, args.gamma, setup.rollout_steps,
            reset_on_reward=setup.reset_on_reward, device=device,
            first_session_only=setup.first_session_only,
            seed=rollout_seed(args.seed, first_rollout + len(batches))))
        if len(batches) >= 1000 and not any(b.sessions for b in batches):
            raise RunError(f"{args.env}: no session ended in 1000 rollouts of "
                           f"{setup.rollout_steps} steps; nothing to learn from")
    return merge(batches), len(batches)


def evaluate(setup: EnvSetup, policy: Any, sessions: int, seed: int, greedy: bool,
             device: torch.device) -> tuple[float, float, int]:
    """(win rate, mean session reward, sessions) over at least ``sessions`` fixed sessions.

    ``policy`` maps observations to logits. The same ``seed`` always plays the same serves, so
    evaluations along a run compare like with like.
    """
    wins, total, counted, k = 0, 0.0, 0, 0
    while counted < sessions and k < max(100, 10 * sessions):
        b = reinforce.collect(setup.env, policy, 1.0, setup.rollout_steps,
                              reset_on_reward=setup.reset_on_reward, device=device, greedy=greedy,
                              first_session_only=setup.first_session_only,
                              seed=seed + EVAL_SEED_OFFSET + k * setup.env.num_envs,
                              keep_obs=False)
        k += 1
        wins += b.wins
        total += b.session_reward * b.sessions if b.sessions else 0.0
        counted += b.sessions
    if counted == 0:
        return math.nan, math.nan, 0
    return wins / counted, total / counted, counted


def record(args: TrainArgs, policy: Any, stem: Path, device: torch.device,
           seed: int) -> list[Path]:
    """Videos of ``args.video_sessions`` evaluation sessions to ``<stem>.mp4`` (and/or .gif)."""
    if args.video_sessions == 0:
        return []
    env = make_single_env(args.env, args.env_kwargs, noop=args.noop,
                          observation=args.observation)
    try:
        frames, _ = play_sessions(env, policy, args.video_sessions, seed=seed + EVAL_SEED_OFFSET,
                                  greedy=not args.eval_stochastic,
                                  side_by_side=args.side_by_side, device=device)
    finally:
        env.close()
    formats = ["mp4", "gif"] if args.video_format == "both" else [args.video_format]
    return [write_video(frames, stem.with_name(f"{stem.name}.{fmt}")) for fmt in formats]


def checkpoint_state(policy: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     pargs: dict[str, Any], args: TrainArgs, counters: Counters) -> dict[str, Any]:
    state = {
        "algo": "reinforce", "env": args.env, "policy_args": pargs,
        "policy": policy.state_dict(), "optimizer": optimizer.state_dict(),
        "counters": {k: v for k, v in vars(counters).items()},
        "rng": {"torch": torch.get_rng_state()},
    }
    if torch.cuda.is_available():
        state["rng"]["cuda"] = torch.cuda.get_rng_state_all()
    return state


def train_reinforce(args: TrainArgs, run_dir: Path, resume: dict[str, Any] | None) -> Summary:
    """Train (or continue) a REINFORCE run in ``run_dir``; see the module docstring."""
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    setup = make_env(args.env, args.num_envs, args.env_kwargs, noop=args.noop,
                     observation=args.observation)
    eval_setup = make_eval_env(args)
    pargs = policy_args(args.policy, setup.obs_shape, setup.num_actions, args.hidden)
    policy = make_policy(**pargs).to(device)
    optimizer = make_optimizer(args, policy)
    counters = Counters()
    if resume is not None:
        policy.load_state_dict(resume["policy"])
        optimizer.load_state_dict(resume["optimizer"])
        counters = Counters(**resume["counters"])
        torch.set_rng_state(resume["rng"]["torch"])
        if "cuda" in resume["rng"] and device.type == "cuda":
            torch.cuda.set_rng_state_all(resume["rng"]["cuda"])
    metrics = MetricsLogger(run_dir, COLUMNS, TAGS,
                            resume_from=counters.env_steps if resume is not None else None)
    greedy = not args.eval_stochastic
    files: list[Path] = []

    def save() -> None:
        save_checkpoint(run_dir, checkpoint_state(policy, optimizer, pargs, args, counters))

    progress = Progress(args, counters)
    last_save = time.monotonic()
    try:
        while not progress.done(counters):
            t0 = time.perf_counter()
            # 1. Collect: each sub-env plays a session; each action gets its session's credit.
            batch, rollouts = collect_batch(setup, policy, args, counters.rollouts, device)
            # 2. Advantages: returns normalised over the batch (centred on a running mean
            #    when --baseline), so a batch of all wins or all losses moves nothing.
            centre = counters.baseline if args.baseline and counters.updates > 0 else None
            adv = reinforce.advantages(batch.returns, baseline=centre)
            # 3. One gradient step on -E[adv * log pi(a|s)] - entropy bonus.
            loss, stats = reinforce.loss(policy, batch, adv, args.entropy)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)
            optimizer.step()
            # 4. Count (at once after the step: a Ctrl-C checkpoint must match the weights).
            counters.updates += 1
            counters.rollouts += rollouts
            counters.env_steps += batch.env_steps
            counters.sessions += batch.sessions
            counters.wall_time_s += time.perf_counter() - t0
            if args.baseline:
                mean = float(batch.returns.mean()) if batch.returns.numel() else 0.0
                counters.baseline = (mean if counters.updates == 1 else
                                     BASELINE_DECAY * counters.baseline
                                     + (1 - BASELINE_DECAY) * mean)
            # 5. Log, evaluate now and then.
            row = {"env_steps": counters.env_steps, "wall_time_s": round(counters.wall_time_s, 3),
                   "sessions": counters.sessions, "updates": counters.updates,
                   "win_rate": batch.wins / batch.sessions if batch.sessions else math.nan,
                   "mean_session_reward": batch.session_reward, **stats}
            if args.eval_every and counters.updates % args.eval_every == 0:
                win, reward, _ = evaluate(eval_setup, policy, args.eval_sessions, args.seed,
                                          greedy, device)
                row.update(eval_win_rate=win, eval_session_reward=reward)
                counters.last_eval = {"win_rate": win, "session_reward": reward}
            metrics.log(row)
            progress.show(counters, row)
            # 6. Checkpoint every few minutes, videos every --video-every updates.
            if time.monotonic() - last_save >= args.checkpoint_minutes * 60:
                save()
                last_save = time.monotonic()
            if args.video_every and counters.updates % args.video_every == 0:
                files += record(args, policy, run_dir / "videos" / f"update-{counters.updates:06d}",
                                device, args.seed)
    except KeyboardInterrupt:
        progress.close()
        save()  # the counters and weights of the last whole update
        metrics.close()
        setup.close()
        eval_setup.close()
        raise Interrupted(f"interrupted after {counters.updates} updates; checkpoint saved, "
                          f"continue with: train-agent --resume {run_dir}") from None
    progress.close()
    save()
    setup.close()
    summary = finish(args, run_dir, counters, policy, eval_setup, metrics, device)
    summary.files.extend(files)  # the videos recorded along the way
    return summary


def learning_curve(run_dir: Path, args: TrainArgs) -> Path:
    return plot_curves(run_dir, "env_steps", ["win_rate", "eval_win_rate", "entropy"],
                       "learning_curve.png", title=f"{args.env} {args.algo} seed {args.seed}")


def start(args: TrainArgs, resume_dir: Path | None = None) -> Summary:
    """Create (or reopen) the run folder, write ``config.json``, train with ``args.algo``."""
    args.validate()
    resume = None
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        resume = load_checkpoint(run_dir)
        if resume.get("env") != args.env or resume.get("algo") != args.algo:
            raise RunError(f"{run_dir} holds a {resume.get('algo')} checkpoint for "
                           f"{resume.get('env')}, not {args.algo} on {args.env}")
    elif args.run_dir:
        run_dir = Path(args.run_dir)
        if (run_dir / "checkpoints").exists():
            raise RunError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                           "or choose another --run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = new_run_dir(f"{args.env.replace('/', '-')}-{args.algo}")
    args = args.resolved()
    total_steps, seconds = args.budget()
    save_config(run_dir, {"train_args": args.to_dict(), "resolved": {
        "device": str(resolve_device(args.device)), "total_steps": total_steps,
        "seconds": seconds}})
    try:
        if args.algo == "reinforce":
            return train_reinforce(args, run_dir, resume)
        from pucklab.agents.baselines import train_sb3

        return train_sb3(args, run_dir, resume)
    except RunError:
        if resume is None:
            discard_unstarted(run_dir)  # a bad env id must not leave an empty run behind
        raise
