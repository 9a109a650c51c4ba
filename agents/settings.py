"""Every setting of a ``train-agent`` run, in one dataclass (CleanRL style).

The CLI builds its flags from these fields (name, type, default, help, valid values), a
``--config`` file (TOML or YAML) sets them by the same names, ``--print-config`` prints them,
and ``config.json`` stores them resolved, so a run folder says exactly how it was made. Fields
marked ``resumable`` are the ones a ``--resume`` may change: how long, how often to look, where
to run; anything else would make the continued curve a different experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pucklab.agents.env_setup import OBSERVATIONS, VECTORIZATIONS, is_pucklab
from pucklab.agents.policies import POLICIES
from pucklab.runs.device import DEVICES
from pucklab.runs.settings import Settings, seed_setting, setting

ALGOS = ("reinforce", "ppo", "a2c")
OPTIMIZERS = ("adam", "rmsprop")
VIDEO_FORMATS = ("mp4", "gif", "both")
DEFAULT_ENV = "pucklab/AirHockey-v0"
# REINFORCE's lr and entropy are the best of a sweep on pucklab/AirHockey-v0 whose trials were
# the mean of 3 seeds after 45 s of training (docs: sweep), its gamma that of an earlier one;
# PPO and A2C keep stable-baselines3's learning rates and discount.
DEFAULT_LR = {"reinforce": 1.6e-2, "ppo": 2.5e-4, "a2c": 7e-4}
DEFAULT_GAMMA = {"reinforce": 0.999, "ppo": 0.99, "a2c": 0.99}
DEFAULT_ENTROPY = {"reinforce": 0.06, "ppo": 0.01, "a2c": 0.01}
# ALE's credit windows are whole points (a hundred agent steps and more), not pucklab's short
# sessions: REINFORCE there keeps pg-pong's own discount, and the rate and entropy bonus ALE
# Pong was beaten with (docs: train-agent), found on pucklab's games before the latest sweep.
ALE_GAMMA = 0.99
ALE_LR = 8e-3
ALE_ENTROPY = 0.045
DEFAULT_TOTAL_STEPS = 6_400_000  # the no-argument run: 500 updates, 3-6 minutes on 2 cores


def _by_algo(values: dict[str, float]) -> str:
    """``reinforce 0.016, ppo 0.00025, a2c 0.0007``: a per-algorithm default, for help text."""
    return ", ".join(f"{algo} {value:g}" for algo, value in values.items())


@dataclass
class AgentSettings(Settings):
    env: str = setting(DEFAULT_ENV, "Gymnasium env id with a Discrete action space "
                       "(pucklab/AirHockey-v0, pucklab/Pong-v0, ALE/Pong-v5, CartPole-v1, ...)")
    algo: str = setting("reinforce", "reinforce (ours), or stable-baselines3's ppo / a2c as the "
                        "comparison", choices=ALGOS)
    policy: str = setting("pooled", "pooled (frame difference summed over 4x4 cells, brighter "
                          "and darker apart -> 200 ReLU -> actions), mlp (pg-pong: 80x80 -> 200 "
                          "ReLU -> actions), cnn or points; vector observations always get an "
                          "MLP", choices=POLICIES)
    observation: str = setting("difference", "what the policy sees of a pixel env: difference "
                               "(this frame minus the last), frame (this frame alone) or "
                               "frames2 (the last two frames stacked)", choices=OBSERVATIONS)
    hidden: int | None = setting(None, "hidden units of the policy (default: 200 pooled/mlp, "
                                 "256 cnn, 64 for vector observations)", low=1)
    batch_sessions: int = setting(256, "sessions (credit windows) per REINFORCE update", low=1)
    num_envs: int | None = setting(None, "parallel sub-envs (default: reinforce "
                                   "--batch-sessions on pucklab envs, else 8; ppo 8; a2c 16)",
                                   low=1)
    total_steps: int | None = setting(None, "stop after this many env steps (default "
                                      f"{DEFAULT_TOTAL_STEPS:,} when --minutes is not given)",
                                      low=1, resumable=True)
    minutes: float | None = setting(None, "stop after this much training time (wall clock, "
                                    "evaluation excluded; counts on over --resume)", above=0,
                                    resumable=True)
    lr: float | None = setting(None, f"learning rate (default: {_by_algo(DEFAULT_LR)}; "
                                    f"reinforce {ALE_LR:g} on ALE ids)", above=0)
    optimizer: str = setting("adam", "adam, or rmsprop (pg-pong's, decay 0.99)",
                             choices=OPTIMIZERS)
    gamma: float | None = setting(None, "decay of a session's outcome per step away from its "
                                  "end, 1 = every action gets the full outcome (default: "
                                  f"{_by_algo(DEFAULT_GAMMA)}; reinforce {ALE_GAMMA:g} on ALE "
                                  "ids, as pg-pong)", low=0, high=1)
    entropy: float | None = setting(None, "entropy bonus coefficient (default: "
                                    f"{_by_algo(DEFAULT_ENTROPY)}; reinforce {ALE_ENTROPY:g} on "
                                    "ALE ids)", low=0)
    baseline: bool = setting(False, "centre returns on a running mean instead of the batch mean")
    max_grad_norm: float = setting(1.0, "clip the gradient norm to this (0 = no clipping)", low=0)
    noop: bool = setting(False, "ALE Pong: add NOOP to the UP/DOWN actions")
    vectorization: str = setting("sync", "how other Gymnasium envs run side by side: sync (one "
                                 "process) or async (Gymnasium's AsyncVectorEnv, a process per "
                                 "env); pucklab's games and ALE Pong have their own",
                                 choices=VECTORIZATIONS)
    seed: int = seed_setting("random seed (policy init, sampling, every rollout's games)")
    device: str = setting("auto", "where the policy runs", choices=DEVICES, resumable=True)
    eval_sessions: int = setting(512, "sessions per evaluation (the same sessions every time)",
                                 low=1, resumable=True)
    eval_every: int = setting(10, "evaluate every N updates (0 = only at the end)", low=0,
                              resumable=True)
    eval_stochastic: bool = setting(False, "evaluate by sampling actions instead of taking the "
                                    "most likely one", resumable=True)
    video_every: int = setting(0, "record a video every N updates (0 = only at the end)", low=0,
                               resumable=True)
    video_sessions: int = setting(3, "sessions in each video", low=0, resumable=True)
    video_format: str = setting("mp4", "video file format", choices=VIDEO_FORMATS,
                                resumable=True)
    side_by_side: bool = setting(True, "show the frame difference the agent saw next to the "
                                 "game", resumable=True)
    checkpoint_minutes: float = setting(2.0, "write a checkpoint at least this often", above=0,
                                        resumable=True)
    progress: bool | None = setting(None, "show a progress bar (default: when stderr is a "
                                    "terminal)", resumable=True)
    env_kwargs: dict[str, Any] = setting(help="keyword arguments for the env, key=value ...",
                                         default_factory=dict)

    def budget(self) -> tuple[int | None, float | None]:
        """(total env steps, seconds): the default run when neither is given."""
        if self.total_steps is None and self.minutes is None:
            return DEFAULT_TOTAL_STEPS, None
        return self.total_steps, None if self.minutes is None else self.minutes * 60

    def resolved(self) -> AgentSettings:
        """A copy with the per-algorithm defaults filled in (``lr``, ``gamma``, ``entropy``,
        ``num_envs``)."""
        changes: dict[str, Any] = {}
        for name, defaults in (("lr", DEFAULT_LR), ("gamma", DEFAULT_GAMMA),
                               ("entropy", DEFAULT_ENTROPY)):
            if getattr(self, name) is None:
                changes[name] = defaults[self.algo]
        if self.env.startswith("ALE/") and self.algo == "reinforce":
            for name, value in (("gamma", ALE_GAMMA), ("lr", ALE_LR), ("entropy", ALE_ENTROPY)):
                if getattr(self, name) is None:
                    changes[name] = value
        if self.num_envs is None:
            if self.algo == "reinforce":
                changes["num_envs"] = self.batch_sessions if is_pucklab(self.env) else 8
            else:
                changes["num_envs"] = 16 if self.algo == "a2c" else 8
        return self.replace(**changes)
