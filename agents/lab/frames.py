"""``lab frame-difference``: REINFORCE seeing the frame difference, the raw current frame, or
the last two frames stacked (``train-agent --observation``): learning curves and sessions to an
80% evaluation win rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pucklab.agents.lab.learning import (
    LEARNING_FORMATS,
    draw_curves,
    gather,
    learning,
    learning_conclusions,
    train,
)
from pucklab.agents.policies import POLICIES
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference

OBSERVATION_LABELS = {"difference": "frame difference", "frame": "current frame",
                      "frames2": "2 stacked frames"}


@dataclass
class FrameDifferenceSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    observations: list[str] = setting(help="what the agent sees, compared", metavar="OBSERVATION",
                                      choices=tuple(OBSERVATION_LABELS),
                                      default_factory=lambda: list(OBSERVATION_LABELS))
    env_steps: int | None = setting(None, "env steps per run", low=1, sizes=(1_600_000, 12_800))
    gamma: float = setting(0.99, "session-reward decay of every run (0.99: the fastest in "
                           "session-decay)", low=0, high=1)
    policy: str = setting("pooled", "policy of every run (pooled: train-agent's)",
                          choices=POLICIES)


def frame_tasks(ns: FrameDifferenceSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{o}-seed{seed}", seed, {"condition": o})
            for seed in seeds for o in dict.fromkeys(ns.observations)]


def frame_measure(ns: FrameDifferenceSettings, task: Task, folder: Path, resume: bool
                  ) -> dict[str, Any]:
    assert ns.env_steps is not None
    return train({"observation": task.params["condition"], "policy": ns.policy,
                   "gamma": ns.gamma}, task.seed, ns.env_steps, ns, folder, resume)


def frame_aggregate(ns: FrameDifferenceSettings, found: dict[str, dict[str, Any]],
                    run_dir: Path) -> LabOutcome:
    observations, seeds, env_steps = list(dict.fromkeys(ns.observations)), ns.seed_list(), \
        ns.env_steps
    assert env_steps is not None
    curves, finals = gather(found, frame_tasks(ns, seeds))
    rows = [{"observation": o, **learning(curves[o], finals[o])} for o in observations]
    others = {o: finals[o] for o in observations if o != "difference"}
    claims = [] if "difference" not in finals else [
        Claim(f"the frame difference ends at a higher evaluation win rate than the "
              f"{OBSERVATION_LABELS[o]} (difference - {o})",
              difference(finals["difference"], v)) for o, v in others.items()]
    conclusions = [
        *learning_conclusions(rows, lambda r: OBSERVATION_LABELS[r["observation"]], "the "),
        f"Every run: REINFORCE, policy {ns.policy}, gamma {ns.gamma:g}, {env_steps:,} env steps, "
        "train-agent's other defaults; only what the policy sees of the pixels differs.",
    ]

    def draw(fig: Any) -> None:
        draw_curves(fig.add_subplot(1, 1, 1), curves, OBSERVATION_LABELS,
                     f"REINFORCE ({ns.policy}) on AirHockey, mean and range of "
                     f"{len(seeds)} seeds")

    return LabOutcome(list(rows[0]), rows, conclusions, draw, dict(LEARNING_FORMATS), claims)


FRAME_DIFFERENCE = LabExperiment(
    "frame-difference", "Give the agent the difference of the previous and the next frame.",
    None, FrameDifferenceSettings, duration="about 15 minutes with --workers 2",
    tasks=frame_tasks, measure=frame_measure, aggregate=frame_aggregate)
