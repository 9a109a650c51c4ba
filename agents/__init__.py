"""pucklab.agents: agents that learn to play from pixels, and the ``train-agent`` command.

    settings    every setting of a run (``AgentSettings``)
    env_setup   any Gymnasium id -> a vector env and its observation pipeline
    policies    pg-pong MLP, pooled, CNN, points
    rollout     play a vector env until every game ended a session (training and evaluation)
    returns     session credit: each outcome spread back over its actions, with decay
    reinforce   REINFORCE: collect -> advantages -> loss -> update, and its training loop
    sb3         stable-baselines3's PPO / A2C on the same envs and observations
    atari       ALE Pong through ale-py's threaded vector env, pg-pong's frames
    harness     what every algorithm's run shares: evaluation, logging, checkpoints, videos
    runner      ``run(settings, run_dir=None, *, report=None) -> RunResult``
    trained     evaluate and record a trained run; video: writing mp4 / gif
    play        a person against a trained Pong agent (pygame), or alone
    cli         ``train-agent train | evaluate | record | play``
    lab         the RL half's ``lab`` experiments (session-decay, frame-difference)
"""

from pucklab.agents.runner import run
from pucklab.agents.settings import AgentSettings

__all__ = ["AgentSettings", "run"]
