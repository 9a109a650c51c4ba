"""pucklab.agents: agents that learn to play from pixels, and the ``train-agent`` command.

    env_setup   any Gymnasium id -> a vector env and its observation pipeline
    policies    pg-pong MLP, pooled, CNN, points
    rollout     play a vector env until every game ended a session (training and evaluation)
    returns     session credit: each outcome spread back over its actions, with decay
    reinforce   REINFORCE: collect -> advantages -> loss -> update, and its training loop
    sb3         stable-baselines3's PPO / A2C on the same envs and observations
    harness     what every algorithm's run shares: evaluation, logging, checkpoints, videos
    runner      ``run(settings, run_dir=None, *, report=None) -> RunResult``
    trained     evaluate and record a trained run; video, atari, cli, lab

``AgentSettings`` and ``run`` are importable from here (loaded on first use, so importing one
module of the package does not import stable-baselines3).
"""

from typing import Any

__all__ = ["AgentSettings", "run"]


def __getattr__(name: str) -> Any:
    if name == "AgentSettings":
        from pucklab.agents.settings import AgentSettings

        return AgentSettings
    if name == "run":
        from pucklab.agents.runner import run

        return run
    raise AttributeError(f"module 'pucklab.agents' has no attribute {name!r}")
