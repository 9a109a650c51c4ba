"""Use a trained run: rebuild its policy from the checkpoint, evaluate it, record it.

Works for both algorithms: a REINFORCE checkpoint stores ``policy_args`` (nanoGPT's
``model_args``); an SB3 checkpoint stores the SB3 policy's state dict, rebuilt through
:func:`pucklab.agents.baselines.sb3_logits_fn`. Either way the result is a function
observations -> action logits, and evaluation and videos run through the same code as training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pucklab.agents.args import FIELDS, TrainArgs
from pucklab.agents.policies import make_policy
from pucklab.agents.train import evaluate, make_eval_env, record, resolve_device
from pucklab.runs import RunError, load_checkpoint, load_config

Logits = Callable[[torch.Tensor], torch.Tensor]


def load_run(run_dir: Path, device: str = "cpu") -> tuple[TrainArgs, Logits, torch.device]:
    """The run's settings and its trained policy as a logits function, on ``device``."""
    config = load_config(run_dir)
    saved = config.get("train_args")
    if not isinstance(saved, dict):
        raise RunError(f"{run_dir} is not a train-agent run (config.json has no train_args)")
    args = TrainArgs(**{k: v for k, v in saved.items() if k in FIELDS}).resolved()
    dev = resolve_device(device)
    state = load_checkpoint(run_dir, map_location=dev)
    if state.get("algo") == "reinforce":
        policy = make_policy(**state["policy_args"]).to(dev)
        policy.load_state_dict(state["policy"])
        policy.eval()
        return args, policy, dev
    from pucklab.agents.baselines import sb3_logits_fn

    return args, sb3_logits_fn(args, state, dev), dev


def evaluate_run(run_dir: Path, sessions: int | None, seed: int, stochastic: bool,
                 device: str = "cpu") -> tuple[float, float, int]:
    """(win rate, mean session reward, sessions counted) of a trained run."""
    args, policy, dev = load_run(run_dir, device)
    n = sessions if sessions is not None else args.eval_sessions
    if n < 1:
        raise RunError(f"--sessions must be at least 1, got {n}")
    setup = make_eval_env(args, n)
    try:
        return evaluate(setup, policy, n, seed, greedy=not stochastic, device=dev)
    finally:
        setup.close()


def record_run(run_dir: Path, sessions: int | None, seed: int, stochastic: bool,
               device: str, video_format: str, out: str | None,
               side_by_side: bool) -> list[Path]:
    """Videos of a trained run; returns the files written."""
    args, policy, dev = load_run(run_dir, device)
    changes: dict[str, Any] = {"eval_stochastic": stochastic, "video_format": video_format,
                               "side_by_side": side_by_side}
    if sessions is not None:
        if sessions < 1:
            raise RunError(f"--sessions must be at least 1, got {sessions}")
        changes["video_sessions"] = sessions
    args = TrainArgs(**{**args.to_dict(), **changes})
    target = Path(out) if out else run_dir / "videos" / f"record-seed{seed}"
    return record(args, policy, target, dev, seed)
