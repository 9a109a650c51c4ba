"""What every algorithm's ``train-agent`` run shares: counters, evaluation, logging, checkpoints,
videos, the report callback and Ctrl-C.

An algorithm (REINFORCE in reinforce.py, SB3's PPO / A2C in sb3.py) owns its update; after each
update it hands the harness a metrics row (:meth:`Harness.after_update`), which evaluates every
``--eval-every`` updates (then calls ``report``), logs to ``metrics.csv`` + TensorBoard, writes a
checkpoint every ``--checkpoint-minutes`` and a video every ``--video-every`` updates. The run ends
with :meth:`Harness.finish`: a final evaluation row, the learning curve and a video. Both
algorithms therefore write the same columns, and their curves compare directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pucklab.agents.env_setup import EnvSetup, is_pucklab, make_env, make_single_env
from pucklab.agents.rollout import collect
from pucklab.agents.settings import AgentSettings
from pucklab.agents.video import play_sessions, write_video
from pucklab.runs.figures import progress_bar
from pucklab.runs.metrics import MetricsLogger, plot_curves, read_metrics
from pucklab.runs.result import Report
from pucklab.runs.rng import rng_state
from pucklab.runs.stopping import StopFlag, stopping
from pucklab.runs.store import checkpoint_path, save_checkpoint

COLUMNS = ["env_steps", "wall_time_s", "sessions", "updates", "win_rate", "mean_session_reward",
           "loss", "entropy", "eval_win_rate", "eval_session_reward"]
TAGS = {"win_rate": "charts/win_rate", "mean_session_reward": "charts/mean_session_reward",
        "eval_win_rate": "charts/eval_win_rate", "loss": "losses/policy",
        "entropy": "losses/entropy", "wall_time_s": "charts/wall_time_s"}
EVAL_SEED_OFFSET = 1_000_003  # evaluation sessions never coincide with training ones
Logits = Callable[[torch.Tensor], torch.Tensor]

COMMAND = "train-agent"
#: What every train-agent checkpoint holds (the reinforce ones also ``policy_args``).
CHECKPOINT_KEYS = ("algo", "env", "policy", "optimizer", "counters", "rng")


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


@dataclass(frozen=True)
class Budget:
    """How long a run trains: env steps (``--total-steps``), training seconds (``--minutes``),
    or both (whichever ends first)."""

    max_steps: int | None
    max_seconds: float | None

    def done(self, c: Counters) -> bool:
        return (self.max_steps is not None and c.env_steps >= self.max_steps) or self.out_of_time(c)

    def out_of_time(self, c: Counters) -> bool:
        return self.max_seconds is not None and c.wall_time_s >= self.max_seconds

    def position(self, c: Counters) -> int:
        """Where a progress bar over the budget stands (steps, or whole seconds)."""
        if self.max_steps is not None:
            return min(c.env_steps, self.max_steps)
        return min(round(c.wall_time_s), round(self.max_seconds or 0))


class Progress:
    """The progress bar of a run, over its budget."""

    def __init__(self, settings: AgentSettings, budget: Budget, counters: Counters) -> None:
        self.budget = budget
        steps = budget.max_steps is not None
        self.bar = progress_bar(settings.progress,
                                total=budget.max_steps if steps else round(budget.max_seconds or 0),
                                initial=budget.position(counters), unit="step" if steps else "s",
                                unit_scale=steps, desc=f"{settings.env} {settings.algo}")

    def show(self, c: Counters, row: dict[str, float]) -> None:
        self.bar.set_postfix(win=f"{row['win_rate']:.2f}",
                             reward=f"{row['mean_session_reward']:+.2f}",
                             eval=f"{c.last_eval.get('win_rate', math.nan):.2f}", refresh=False)
        self.bar.update(self.budget.position(c) - self.bar.n)

    def close(self) -> None:
        self.bar.close()


@dataclass
class Evaluation:
    """Greedy (or sampled) play on fixed sessions: the share won and the mean session reward."""

    win_rate: float
    session_reward: float
    sessions: int


def make_eval_env(settings: AgentSettings, sessions: int | None = None) -> EnvSetup:
    """The evaluation env: pucklab plays every session in one rollout (one per game); other
    envs run rollouts of the training width until enough sessions ended."""
    n = settings.eval_sessions if sessions is None else sessions
    assert settings.num_envs is not None, "resolved settings"
    return make_env(settings.env, n if is_pucklab(settings.env) else settings.num_envs,
                    settings.env_kwargs, noop=settings.noop, observation=settings.observation,
                    vectorization=settings.vectorization)


def evaluate(setup: EnvSetup, policy: Logits, sessions: int, seed: int, greedy: bool,
             device: torch.device) -> Evaluation:
    """Win rate and mean session reward over at least ``sessions`` fixed sessions.

    ``policy`` maps observations to logits. The same ``seed`` always plays the same serves, so
    evaluations along a run compare like with like.
    """
    wins, total, counted, k = 0, 0.0, 0, 0
    while counted < sessions and k < max(100, 10 * sessions):
        b = collect(setup.env, policy, 1.0, setup.rollout_steps,
                              reset_on_reward=setup.reset_on_reward, device=device, greedy=greedy,
                              first_session_only=setup.first_session_only,
                              seed=seed + EVAL_SEED_OFFSET + k * setup.env.num_envs,
                              keep_obs=False)
        k += 1
        wins += b.wins
        total += b.session_reward * b.sessions if b.sessions else 0.0
        counted += b.sessions
    if counted == 0:
        return Evaluation(math.nan, math.nan, 0)
    return Evaluation(wins / counted, total / counted, counted)


def record(settings: AgentSettings, policy: Logits, stem: Path, device: torch.device,
           seed: int) -> list[Path]:
    """Videos of ``settings.video_sessions`` evaluation sessions to ``<stem>.mp4`` (or .gif)."""
    if settings.video_sessions == 0:
        return []
    env = make_single_env(settings.env, settings.env_kwargs, noop=settings.noop,
                          observation=settings.observation)
    try:
        frames, _ = play_sessions(env, policy, settings.video_sessions,
                                  seed=seed + EVAL_SEED_OFFSET,
                                  greedy=not settings.eval_stochastic,
                                  side_by_side=settings.side_by_side, device=device)
    finally:
        env.close()
    formats = (["mp4", "gif"] if settings.video_format == "both" else [settings.video_format])
    return [write_video(frames, stem.with_name(f"{stem.name}.{fmt}")) for fmt in formats]


class Harness:
    """The part of a run every algorithm shares; see the module docstring.

    Args:
        settings: The run's (resolved) settings.
        run_dir: The run folder.
        counters: Where the run stands (zeros, or a checkpoint's on resume); the algorithm
            counts, the harness reads.
        device: Where the policy runs.
        state: What a checkpoint holds now (:func:`checkpoint`); the harness decides when.
        report: Called as ``report(env_steps, metrics)`` after each evaluation.
        resumed: Continue ``metrics.csv`` after the checkpoint's row instead of starting it.
    """

    def __init__(self, settings: AgentSettings, run_dir: Path, counters: Counters,
                 device: torch.device, state: Callable[[], dict[str, Any]],
                 report: Report | None = None, resumed: bool = False) -> None:
        self.s, self.run_dir, self.c, self.device = settings, run_dir, counters, device
        self.state, self.report = state, report
        self.budget = Budget(*settings.budget())
        self.eval_setup = make_eval_env(settings)
        self.metrics = MetricsLogger(run_dir, COLUMNS, TAGS,
                                     resume_from=counters.env_steps if resumed else None)
        # A resumed run that trains no further (its budget was already spent) may already hold
        # its final evaluation row, at these env steps: finish() must not write it twice.
        self.final_row_at = (counters.env_steps if resumed
                             and _ends_with_final_row(run_dir, counters.env_steps) else None)
        self.progress = Progress(settings, self.budget, counters)
        self.last_save = time.monotonic()
        self.files: list[Path] = []  # videos recorded along the way
        self.final: Evaluation | None = None  # the evaluation at the end
        self._closed = False

    def done(self) -> bool:
        return self.budget.done(self.c)

    def save(self) -> None:
        """Write ``checkpoints/last.pt`` from :attr:`state`."""
        save_checkpoint(self.run_dir, self.state(), command=COMMAND)
        self.last_save = time.monotonic()

    def after_update(self, row: dict[str, float], policy: Logits) -> None:
        """Evaluate now and then (and report), log the row, checkpoint, record a video."""
        s, c = self.s, self.c
        if s.eval_every and c.updates % s.eval_every == 0:
            ev = evaluate(self.eval_setup, policy, s.eval_sessions, s.seed,
                          not s.eval_stochastic, self.device)
            row.update(eval_win_rate=ev.win_rate, eval_session_reward=ev.session_reward)
            c.last_eval = {"win_rate": ev.win_rate, "session_reward": ev.session_reward}
        self.metrics.log(row)
        self.progress.show(c, row)
        if "eval_win_rate" in row and self.report is not None:
            self.report(c.env_steps, dict(row))
        if time.monotonic() - self.last_save >= s.checkpoint_minutes * 60:
            self.save()
        if s.video_every and c.updates % s.video_every == 0:
            self.files += record(s, policy, self.run_dir / "videos" / f"update-{c.updates:06d}",
                                 self.device, s.seed)

    @contextmanager
    def training(self, where: Callable[[], str]) -> Iterator[StopFlag]:
        """Around the training loop: the stop flag (see :func:`pucklab.runs.stopping.stopping`:
        a stop or an exception from ``report`` writes the checkpoint); every file and env is
        closed on the way out."""
        try:
            with stopping(self.save, lambda: f"after {where()}") as flag:
                yield flag
        except BaseException:
            self.close()
            raise

    def finish(self, policy: Logits, trained: bool = True) -> Evaluation:
        """The end of a run: its checkpoint (unless it took no step: a resumed run whose budget
        was already spent keeps the one it has), a final evaluation row, the learning curve, a
        video."""
        s, c = self.s, self.c
        if trained:
            self.save()
        self.progress.close()
        ev = evaluate(self.eval_setup, policy, s.eval_sessions, s.seed, not s.eval_stochastic,
                      self.device)
        if c.env_steps != self.final_row_at:
            self.metrics.log({"env_steps": c.env_steps, "wall_time_s": round(c.wall_time_s, 3),
                              "sessions": c.sessions, "updates": c.updates,
                              "eval_win_rate": ev.win_rate,
                              "eval_session_reward": ev.session_reward})
        self.close()
        self.files[:0] = [checkpoint_path(self.run_dir), self.learning_curve()]
        self.files += record(s, policy, self.run_dir / "videos" / "final", self.device, s.seed)
        self.final = ev
        return ev

    def learning_curve(self) -> Path:
        return plot_curves(self.run_dir, "env_steps", ["win_rate", "eval_win_rate", "entropy"],
                           "learning_curve.png",
                           title=f"{self.s.env} {self.s.algo} seed {self.s.seed}")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.progress.close()
            self.metrics.close()
            self.eval_setup.close()


def _ends_with_final_row(run_dir: Path, env_steps: int) -> bool:
    """Whether ``metrics.csv`` ends with a final evaluation (no loss) at ``env_steps``."""
    try:
        rows = read_metrics(run_dir)
    except FileNotFoundError:
        return False
    last = rows[-1] if rows else {}
    return (last.get("env_steps") == env_steps and math.isnan(last.get("loss", math.nan))
            and not math.isnan(last.get("eval_win_rate", math.nan)))


def misfit(run_dir: Path) -> str:
    """The problem a checkpoint's weights that do not fit the policy are reported as."""
    return f"the checkpoint in {run_dir} does not fit the policy its settings describe"


def checkpoint(algo: str, env: str, policy: dict[str, Any], optimizer: dict[str, Any],
               counters: Counters, **extra: Any) -> dict[str, Any]:
    """A train-agent checkpoint: the algorithm and env, the weights, the optimiser, the counters
    and every RNG stream (see :func:`pucklab.runs.rng_state`)."""
    return {"algo": algo, "env": env, "policy": policy,
            "optimizer": optimizer, "counters": dict(vars(counters)), "rng": rng_state(),
            **extra}
