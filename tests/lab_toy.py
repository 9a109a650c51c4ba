"""A small lab experiment split into tasks, for the worker engine's tests: two conditions x
seeds, each task a seeded torch computation that can be slowed down, logged and made to fail."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pucklab.runs.lab import LabExperiment, LabOutcome, LabSettings
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError

CONDITIONS = ("a", "b")


@dataclass
class ToySettings(LabSettings):
    pause: float = setting(0.0, "seconds each task of condition b sleeps")
    log: str = setting("", "a file each task appends its key to when it starts")
    fail: str = setting("", "while this file exists, task b-seed1 fails")


def tasks(ns: ToySettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{c}-seed{s}", s, {"condition": c}) for c in CONDITIONS for s in seeds]


def measure(ns: ToySettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    (folder / "pid").write_text(str(os.getpid()))
    if ns.log:
        with open(ns.log, "a") as f:
            f.write(f"{task.key} {'resumed' if resume else 'new'}\n")
    if ns.fail and Path(ns.fail).exists() and task.key == "b-seed1":
        raise RunError("marked to fail")
    if task.params["condition"] == "b":
        time.sleep(ns.pause)
    torch.manual_seed(task.seed)
    x, w = torch.randn(64, 8), torch.randn(8, 4)
    scale = 2.0 if task.params["condition"] == "b" else 1.0
    return {"value": scale * float(torch.tanh(x @ w).square().mean())}


def aggregate(ns: ToySettings, found: dict[str, dict[str, Any]], run_dir: Path) -> LabOutcome:
    values = {c: [found[f"{c}-seed{s}"]["value"] for s in ns.seed_list()] for c in CONDITIONS}
    rows = [{"condition": c, "value": interval(v)} for c, v in values.items()]
    claims = [Claim("b is larger than a", difference(values["b"], values["a"]))]
    return LabOutcome(["condition", "value"], rows, [c.sentence() for c in claims],
                      lambda fig: fig.add_subplot(1, 1, 1).plot(values["a"], values["b"]),
                      claims=claims)


TOY = LabExperiment("toy", "b is larger than a.", None, ToySettings, tasks=tasks,
                    measure=measure, aggregate=aggregate)
