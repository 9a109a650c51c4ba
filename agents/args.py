"""Every setting of a ``train-agent`` run, in one dataclass (CleanRL style).

The CLI builds its flags from these fields (name, type, default, help), a ``--config`` file
(TOML or YAML) sets them by the same names, and ``config.json`` stores them resolved, so a run
folder says exactly how it was made.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pucklab.agents.env_setup import OBSERVATIONS
from pucklab.agents.policies import POLICIES
from pucklab.runs import RunError, require_choice

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, from PyPI
    import tomli as tomllib

ALGOS = ("reinforce", "ppo", "a2c")
OPTIMIZERS = ("adam", "rmsprop")
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_ENV = "pucklab/AirHockey-v0"
DEFAULT_LR = {"reinforce": 3e-3, "ppo": 2.5e-4, "a2c": 7e-4}
DEFAULT_TOTAL_STEPS = 6_400_000  # the no-argument run: 500 updates, 3-6 minutes on 2 cores


def _help(text: str, default: Any = MISSING, **kw: Any) -> Any:
    if "default_factory" in kw:
        return field(metadata={"help": text}, **kw)
    return field(default=default, metadata={"help": text})


@dataclass
class TrainArgs:
    env: str = _help("Gymnasium env id with a Discrete action space "
                     "(pucklab/AirHockey-v0, pucklab/Pong-v0, ALE/Pong-v5, CartPole-v1, ...)",
                     DEFAULT_ENV)
    algo: str = _help("reinforce (ours), or stable-baselines3's ppo / a2c as the comparison",
                      "reinforce")
    policy: str = _help("pooled (frame difference summed over 4x4 cells, brighter and darker "
                        "apart -> 200 ReLU -> actions), mlp (pg-pong: 80x80 -> 200 ReLU -> "
                        "actions), cnn or points; vector observations always get an MLP",
                        "pooled")
    observation: str = _help("what the policy sees of a pixel env: difference (this frame minus "
                             "the last), frame (this frame alone) or frames2 (the last two "
                             "frames stacked)", "difference")
    hidden: int | None = _help("hidden units of the policy (default: 200 pooled/mlp, 256 cnn, "
                               "64 for vector observations)", None)
    batch_sessions: int = _help("sessions (credit windows) per REINFORCE update", 256)
    num_envs: int | None = _help("parallel sub-envs (default: reinforce --batch-sessions on "
                                 "pucklab envs, else 8; ppo 8; a2c 16)", None)
    total_steps: int | None = _help("stop after this many env steps (default "
                                    f"{DEFAULT_TOTAL_STEPS:,} when --minutes is not given)",
                                    None)
    minutes: float | None = _help("stop after this much training time (wall clock, "
                                  "evaluation excluded; counts on over --resume)", None)
    lr: float | None = _help("learning rate (default: reinforce 3e-3, ppo 2.5e-4, a2c 7e-4)",
                             None)
    optimizer: str = _help("adam, or rmsprop (pg-pong's, decay 0.99)", "adam")
    gamma: float | None = _help("decay of a session's outcome per step away from its end, "
                                "1 = every action gets the full outcome (default: reinforce "
                                "0.95; ppo and a2c 0.99, their discount)", None)
    entropy: float = _help("entropy bonus coefficient", 0.01)
    baseline: bool = _help("centre returns on a running mean instead of the batch mean", False)
    max_grad_norm: float = _help("clip the gradient norm to this (0 = no clipping)", 1.0)
    noop: bool = _help("ALE Pong: add NOOP to the UP/DOWN actions", False)
    seed: int = _help("random seed (policy init, sampling, every rollout's games)", 0)
    device: str = _help("auto, cpu or cuda", "auto")
    run_dir: str | None = _help("run folder (default runs/<env>-<algo>__<timestamp>)", None)
    eval_sessions: int = _help("sessions per evaluation (the same sessions every time)", 512)
    eval_every: int = _help("evaluate every N updates (0 = only at the end)", 10)
    eval_stochastic: bool = _help("evaluate by sampling actions instead of taking the most "
                                  "likely one", False)
    video_every: int = _help("record a video every N updates (0 = only at the end)", 0)
    video_sessions: int = _help("sessions in each video", 3)
    video_format: str = _help("mp4, gif or both", "mp4")
    side_by_side: bool = _help("show the frame difference the agent saw next to the game", True)
    checkpoint_minutes: float = _help("write a checkpoint at least this often", 2.0)
    progress: bool = _help("show a progress bar", True)
    env_kwargs: dict[str, Any] = _help("keyword arguments for the env, key=value ...",
                                       default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`RunError` on a value no run could use."""
        def bad(msg: str) -> None:
            raise RunError(msg)

        require_choice("--algo", self.algo, ALGOS)
        require_choice("--optimizer", self.optimizer, OPTIMIZERS)
        require_choice("--device", self.device, DEVICES)
        require_choice("--observation", self.observation, OBSERVATIONS)
        require_choice("--policy", self.policy, POLICIES)
        if self.video_format not in ("mp4", "gif", "both"):
            bad(f"--video-format must be mp4, gif or both, got {self.video_format!r}")
        if self.gamma is not None and not 0.0 <= self.gamma <= 1.0:
            bad(f"--gamma must be in [0, 1], got {self.gamma}")
        for name in ("batch_sessions", "eval_sessions"):
            if getattr(self, name) < 1:
                bad(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.num_envs is not None and self.num_envs < 1:
            bad(f"--num-envs must be at least 1, got {self.num_envs}")
        for name in ("lr", "checkpoint_minutes"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                bad(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        for name in ("entropy", "max_grad_norm", "eval_every", "video_every", "video_sessions"):
            if getattr(self, name) < 0:
                bad(f"--{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if self.total_steps is not None and self.total_steps < 1:
            bad(f"--total-steps must be at least 1, got {self.total_steps}")
        if self.minutes is not None and not self.minutes > 0:
            bad(f"--minutes must be positive, got {self.minutes}")
        if self.hidden is not None and self.hidden < 1:
            bad(f"--hidden must be at least 1, got {self.hidden}")

    def budget(self) -> tuple[int | None, float | None]:
        """(total env steps, seconds): the default run when neither is given."""
        if self.total_steps is None and self.minutes is None:
            return DEFAULT_TOTAL_STEPS, None
        return self.total_steps, None if self.minutes is None else self.minutes * 60

    def resolved(self) -> TrainArgs:
        """A copy with the per-algorithm defaults filled in (``lr``, ``gamma``, ``num_envs``)."""
        values = self.to_dict()
        if self.lr is None:
            values["lr"] = DEFAULT_LR[self.algo]
        if self.gamma is None:
            values["gamma"] = 0.95 if self.algo == "reinforce" else 0.99
        if self.num_envs is None:
            if self.algo == "reinforce":
                values["num_envs"] = (self.batch_sessions if self.env.startswith("pucklab/")
                                      else 8)
            else:
                values["num_envs"] = 16 if self.algo == "a2c" else 8
        return TrainArgs(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELDS = {f.name: f for f in fields(TrainArgs)}
# Settings a --resume may change: how long, how often to look, where to run. Anything else would
# make the continued curve a different experiment.
RESUMABLE = {"total_steps", "minutes", "eval_every", "eval_sessions", "eval_stochastic",
             "video_every", "video_sessions", "video_format", "side_by_side", "device", "progress",
             "checkpoint_minutes"}


def parse_value(text: str) -> Any:
    """``3`` -> 3, ``0.5`` -> 0.5, ``true`` -> True, ``pixels`` -> "pixels"."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_env_kwargs(items: list[str]) -> dict[str, Any]:
    """``["paddle_height=16", "obs_type=state"]`` -> ``{"paddle_height": 16, ...}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunError(f"--env-kwargs takes key=value pairs, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Settings from a TOML or YAML file, by :class:`TrainArgs` field names (``-`` or ``_``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RunError(f"cannot read config {path}: {getattr(err, 'strerror', None) or err}"
                       ) from err
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise RunError(f"config {path} must be .toml, .yaml or .yml")
    except RunError:
        raise
    except Exception as err:  # tomllib.TOMLDecodeError, yaml.YAMLError
        raise RunError(f"cannot parse config {path}: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise RunError(f"config {path} must be a table of settings, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in FIELDS:
            raise RunError(f"config {path}: unknown setting {key!r}")
        out[name] = value
    if "env_kwargs" in out and not isinstance(out["env_kwargs"], dict):
        raise RunError(f"config {path}: env_kwargs must be a table")
    return out


def check_types(values: dict[str, Any], source: str) -> None:
    """Refuse a config value of the wrong type (a string for lr, say) with one line."""
    for name, value in values.items():
        kind = str(FIELDS[name].type)
        if value is None and "None" in kind:
            continue
        if kind.startswith("bool"):
            ok = isinstance(value, bool)
        elif kind.startswith("int"):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind.startswith("float"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind.startswith("str"):
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, dict)
        if not ok:
            raise RunError(f"{source}: {name} must be {kind.split(' |')[0]}, got {value!r}")
