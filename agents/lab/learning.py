"""What the RL lab experiments share: a train-agent run per task, the columns and sentences
of how soon and how far the runs learnt, and the learning-curve panel."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.agents.runner import run
from pucklab.agents.settings import AgentSettings
from pucklab.runs.lab import TorchLabSettings
from pucklab.runs.lab_tasks import Task, continues
from pucklab.runs.metrics import read_metrics
from pucklab.runs.stats import Claim, difference, interval

TARGET = 0.8  # evaluation win rate that counts as learnt


def sessions_to(metrics: list[dict[str, float]], level: float) -> float:
    for m in metrics:
        win = m.get("eval_win_rate", math.nan)
        if not math.isnan(win) and win >= level:
            return float(m["sessions"])
    return math.inf


def size(quick: bool, progress: bool | None = False) -> dict[str, Any]:
    """Run settings the lab changes from train-agent's: no videos (the lab compares numbers;
    each run's folder still has its curve and checkpoint), and cheaper evaluations."""
    if quick:
        return {"batch_sessions": 64, "eval_sessions": 64, "eval_every": 2, "video_sessions": 0,
                "progress": progress}
    return {"eval_sessions": 256, "eval_every": 5, "video_sessions": 0, "progress": progress}


Curves = dict[str, list[list[dict[str, float]]]]


def train(overrides: dict[str, Any], seed: int, env_steps: int, ns: TorchLabSettings,
           folder: Path, resume: bool) -> dict[str, Any]:
    """One train-agent run in ``folder/run`` (a retried task continues from its checkpoint):
    its metrics rows (without the columns a row leaves empty) and final evaluation win rate."""
    settings = AgentSettings(seed=seed, total_steps=env_steps, device=ns.device,
                             **size(ns.quick, ns.progress), **overrides)
    run_dir = folder / "run"
    result = run(settings, run_dir, resume=continues(run_dir, resume))
    return {"metrics": [{k: v for k, v in m.items() if not math.isnan(v)}
                        for m in read_metrics(run_dir)],
            "final": result.metrics["eval_win_rate"]}


def gather(found: dict[str, dict[str, Any]], tasks: list[Task]
            ) -> tuple[Curves, dict[str, list[float]]]:
    """Every run's metrics rows and final win rate, by condition, in seed order."""
    curves: Curves = {}
    finals: dict[str, list[float]] = {}
    for task in tasks:
        cond = task.params["condition"]
        curves.setdefault(cond, []).append(found[task.key]["metrics"])
        finals.setdefault(cond, []).append(found[task.key]["final"])
    return curves, finals


def win_rate_claims(finals: dict[str, list[float]], base: str,
                     label: Callable[[str], str]) -> list[Claim]:
    """Each condition's final evaluation win rate against ``base``'s, seed by seed."""
    return [Claim(f"{label(c)} ends at a higher evaluation win rate than {label(base)} "
                  f"({label(c)} - {label(base)})", difference(finals[c], finals[base]))
            for c in finals if c != base]


def learning(curves: list[list[dict[str, float]]], finals: list[float]) -> dict[str, Any]:
    """The table columns every RL experiment shares: how soon and how far the runs learnt."""
    to80 = [sessions_to(c, TARGET) for c in curves]
    return {"sessions_to_80%_median": float(np.median(to80)),
            "runs_reaching_80%": f"{sum(map(math.isfinite, to80))}/{len(to80)}",
            "final_eval_win_rate": interval(finals),
            "final_eval_win_rate_min": float(np.min(finals))}


def learning_conclusions(rows: list[dict[str, Any]], name: Callable[[dict[str, Any]], str],
                          article: str = "") -> list[str]:
    """The two sentences every RL experiment states from its :func:`_learning` columns: final
    win rates and sessions to 80%, each naming the best condition (``name`` labels a row)."""
    best = max(rows, key=lambda r: r["final_eval_win_rate"].mean)
    fastest = min(rows, key=lambda r: r["sessions_to_80%_median"])
    return [
        "Final evaluation win rate (mean over seeds, worst in brackets): " + ", ".join(
            f"{name(r)} {r['final_eval_win_rate'].mean:.3f} ({r['final_eval_win_rate_min']:.3f})"
            for r in rows) + f"; the best is {article}{name(best)}.",
        "Sessions to 80% (median; runs that got there): " + ", ".join(
            f"{name(r)} {count(r['sessions_to_80%_median'])} ({r['runs_reaching_80%']})"
            for r in rows)
        + (f"; the fastest is {article}{name(fastest)}."
           if math.isfinite(fastest["sessions_to_80%_median"]) else "."),
    ]


LEARNING_FORMATS = {"sessions_to_80%_median": ".0f", "final_eval_win_rate": ".3f",
                    "final_eval_win_rate_min": ".3f"}


def draw_curves(ax: Any, curves: Curves, labels: dict[str, str], title: str) -> None:
    """Mean evaluation win rate over seeds against training sessions, the range shaded."""
    for cond, runs in curves.items():
        grid = np.linspace(0, max(max(m["sessions"] for m in c) for c in runs), 60)
        ys = []
        for c in runs:
            pts = [(m["sessions"], m["eval_win_rate"]) for m in c
                   if not math.isnan(m.get("eval_win_rate", math.nan))]
            xs, ws = zip(*pts, strict=True)
            ys.append(np.interp(grid, xs, ws))
        arr = np.array(ys)
        line = ax.plot(grid, arr.mean(0), label=labels[cond])[0]
        ax.fill_between(grid, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.15)
    ax.axhline(TARGET, color="grey", ls=":", lw=1)
    ax.set(xlabel="training sessions", ylabel="evaluation win rate", title=title)
    ax.legend()


def count(v: float) -> str:
    return f"{v:,.0f}" if math.isfinite(v) else "never"
