"""Use a trained run: rebuild its policy from the checkpoint, evaluate it, record it.

Works for both algorithms: a REINFORCE checkpoint stores ``policy_args`` (nanoGPT's
``model_args``); an SB3 checkpoint stores the SB3 policy's state dict, rebuilt through
:func:`pucklab.agents.sb3.sb3_logits_fn`. Either way the result is a function
observations -> action logits, and evaluation and videos run through the same code as training.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pucklab.agents.harness import (
    CHECKPOINT_KEYS,
    COMMAND,
    Evaluation,
    Logits,
    evaluate,
    make_eval_env,
    misfit,
    record,
)
from pucklab.agents.policies import make_policy
from pucklab.agents.sb3 import sb3_logits_fn
from pucklab.agents.settings import AgentSettings
from pucklab.runs.device import resolve_device
from pucklab.runs.store import RunError, build_model, load_checkpoint, load_run_settings


def load_run(run_dir: Path, device: str = "cpu") -> tuple[AgentSettings, Logits, torch.device]:
    """The run's settings and its trained policy as a logits function, on ``device``."""
    settings = load_run_settings(run_dir, AgentSettings, COMMAND).resolved()
    dev = resolve_device(device)
    needs = ("policy_args",) if settings.algo == "reinforce" else ()  # what rebuilds the policy
    state = load_checkpoint(run_dir, map_location=dev, command=COMMAND,
                            keys=CHECKPOINT_KEYS + needs)
    if state["algo"] != settings.algo:
        raise RunError(f"{run_dir}: its checkpoint is a {state['algo']} one, its config.json says "
                       f"{settings.algo}")
    if state["algo"] == "reinforce":
        policy = build_model(make_policy, state["policy_args"], state["policy"],
                             misfit(run_dir)).to(dev)
        policy.eval()
        return settings, policy, dev
    return settings, sb3_logits_fn(settings, state, dev, run_dir), dev


def evaluate_run(run_dir: Path, sessions: int | None, seed: int, stochastic: bool,
                 device: str = "cpu") -> Evaluation:
    """Win rate and mean session reward of a trained run over ``sessions`` sessions."""
    settings, policy, dev = load_run(run_dir, device)
    n = sessions if sessions is not None else settings.eval_sessions
    if n < 1:
        raise RunError(f"--sessions must be at least 1, got {n}")
    setup = make_eval_env(settings, n)
    try:
        return evaluate(setup, policy, n, seed, greedy=not stochastic, device=dev)
    finally:
        setup.close()


def record_run(run_dir: Path, sessions: int | None, seed: int, stochastic: bool,
               device: str, video_format: str, out: str | None,
               side_by_side: bool) -> list[Path]:
    """Videos of a trained run; returns the files written."""
    settings, policy, dev = load_run(run_dir, device)
    if sessions is not None and sessions < 1:
        raise RunError(f"--sessions must be at least 1, got {sessions}")
    settings = settings.replace(eval_stochastic=stochastic, video_format=video_format,
                                side_by_side=side_by_side,
                                video_sessions=sessions or settings.video_sessions)
    target = Path(out) if out else run_dir / "videos" / f"record-seed{seed}"
    return record(settings, policy, target, dev, seed)
