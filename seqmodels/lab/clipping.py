"""``lab gradient-clipping``: an Elman RNN trained with plain SGD at a learning rate that
explodes, with and without ``torch.nn.utils.clip_grad_norm_`` (the Trainer's ``--clip``).

Each condition x seed is one task (its losses and pre-clip gradient norms per step); the
verdicts compare the conditions seed by seed: how many runs blew up, and the loss they end at.

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.lab import LabExperiment, LabOutcome, LabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, Interval, difference, interval
from pucklab.runs.store import RunError
from pucklab.seqmodels.lab.recall import SYMBOLS, train_clipping

BLOWN_UP = 3  # a run "blew up" when its loss went above this many times chance
CHANCE = math.log(SYMBOLS)
Curves = dict[str, list[tuple[np.ndarray, np.ndarray]]]


@dataclass
class ClippingSettings(LabSettings):
    seeds: int | None = lab_seeds(5)
    lr: float = setting(0.5, "SGD learning rate (the default is where the unclipped RNN blows up)")
    clip: float = setting(1.0, "max gradient norm of the clipped runs")
    steps: int | None = setting(None, "SGD steps", sizes=(1500, 500))
    lag: int = setting(10, "recall lag")
    hidden: int = setting(64, "hidden units", low=1)

    def check(self) -> None:
        super().check()
        assert self.steps is not None
        if self.steps < 10 or self.lr <= 0 or self.clip <= 0 or self.lag < 0:
            raise RunError("--steps must be >= 10, --lr and --clip > 0, --lag >= 0")


def conditions(ns: ClippingSettings) -> dict[str, float]:
    """Condition name -> max gradient norm (0: no clipping)."""
    return {"no clipping": 0.0, f"clip {ns.clip:g}": ns.clip}


def tasks(ns: ClippingSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{'clipped' if clip else 'unclipped'}-seed{seed}", seed,
                 {"condition": cond, "clip": clip})
            for cond, clip in conditions(ns).items() for seed in seeds]


def measure(ns: ClippingSettings, task: Task, folder: Path, resume: bool) -> dict[str, Any]:
    """One run's loss and pre-clip gradient norm at every step (non-finite values as None). A
    retried task starts again: its run is seconds long and keeps no checkpoint."""
    assert ns.steps is not None
    if resume:
        shutil.rmtree(folder)
    losses, norms = train_clipping(ns.lr, task.params["clip"], ns.steps, ns.lag, ns.hidden,
                                   task.seed, folder)
    return {"losses": _json(losses), "norms": _json(norms)}


def _json(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values])


def final_loss(losses: np.ndarray, tail: int) -> float:
    """The mean loss of the last ``tail`` steps (nan when a step there was not finite)."""
    return float(np.mean(losses[-tail:])) if np.isfinite(losses[-tail:]).all() else math.nan


def blew_up(losses: np.ndarray) -> bool:
    return bool(not np.isfinite(losses[-1]) or np.nanmax(losses) > BLOWN_UP * CHANCE)


def row(cond: str, runs: list[tuple[np.ndarray, np.ndarray]], ns: ClippingSettings,
        tail: int) -> dict[str, Any]:
    """One table row: final loss, how many runs blew up and when, the gradient norms."""
    losses = np.stack([c[0] for c in runs])
    norms = np.stack([c[1] for c in runs])
    finals = [final_loss(lo, tail) for lo in losses]
    diverged = [blew_up(lo) for lo in losses]
    over_clip = [int((n > ns.clip).sum()) for n in norms]
    blown_at = [int(np.argmax(~(lo <= BLOWN_UP * CHANCE)))
                for lo, d in zip(losses, diverged, strict=True) if d]
    kept = [f for f in finals if not math.isnan(f)]
    return {"condition": cond, "lr": ns.lr,
            "final_loss": interval(kept) if kept else math.nan,
            "runs_blown_up": f"{sum(diverged)}/{len(runs)}",
            "max_grad_norm": float(np.nanmax(norms)),
            "median_grad_norm": float(np.nanmedian(norms)),
            f"steps_with_norm_over_{ns.clip:g}": float(np.mean(over_clip)),
            "first_blow_up_step": float(np.mean(blown_at)) + 1 if blown_at else math.nan}


def compare(curves: Curves, tail: int) -> list[Claim]:
    """Unclipped against clipped, seed by seed (the same seed: the same data and start)."""
    (a, plain), (b, clipped) = curves.items()
    blown = [[float(blew_up(lo)) for lo, _ in runs] for runs in (plain, clipped)]
    pairs = [(final_loss(p[0], tail), final_loss(c[0], tail))
             for p, c in zip(plain, clipped, strict=True)]
    finite = [(x, y) for x, y in pairs if not (math.isnan(x) or math.isnan(y))]
    claims = [Claim(f"without clipping more runs blow up (share of runs, {a} - {b})",
                    difference(blown[0], blown[1]))]
    if finite:
        claims.append(Claim(f"{b} ends at a lower loss (mean of the last {tail} steps, {a} - {b}; "
                            "seeds whose loss stayed finite)",
                            difference([x for x, _ in finite], [y for _, y in finite])))
    return claims


def aggregate(ns: ClippingSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    steps = ns.steps
    assert steps is not None
    curves: Curves = {cond: [] for cond in conditions(ns)}
    for task in tasks(ns, ns.seed_list()):
        result = found[task.key]
        curves[task.params["condition"]].append((_array(result["losses"]),
                                                 _array(result["norms"])))
    tail = max(1, steps // 10)
    rows = [row(cond, runs, ns, tail) for cond, runs in curves.items()]
    return LabOutcome(list(rows[0]), rows, conclude(rows[0], rows[1], ns, tail),
                      lambda fig: draw(fig, curves, ns, steps),
                      {"final_loss": ".3f", "max_grad_norm": ".3g", "median_grad_norm": ".3g",
                       f"steps_with_norm_over_{ns.clip:g}": ".1f", "first_blow_up_step": ".0f"},
                      compare(curves, tail))


def conclude(a: dict[str, Any], b: dict[str, Any], ns: ClippingSettings,
             tail: int) -> list[str]:
    """The sentences, from the unclipped (``a``) and clipped (``b``) rows."""
    return [
        f"With SGD at lr {ns.lr:g} and no clipping, {a['runs_blown_up']} runs blew up (loss "
        f"non-finite or above {BLOWN_UP}x chance, {BLOWN_UP * CHANCE:.2f})"
        + (f", first at step {a['first_blow_up_step']:.0f} on average"
           if a["runs_blown_up"][0] != "0" else "")
        + f"; the largest gradient norm was {a['max_grad_norm']:.3g}, "
        f"{a['max_grad_norm'] / a['median_grad_norm']:.3g}x its median.",
        f"Clipping the norm at {ns.clip:g}: {b['runs_blown_up']} blew up; the loss over the last "
        f"{tail} steps averaged {_loss(b['final_loss'])} against {_loss(a['final_loss'])} "
        f"unclipped (chance {CHANCE:.3f}).",
    ]


def draw(fig: Any, curves: Curves, ns: ClippingSettings, steps: int) -> None:
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    x = np.arange(1, steps + 1)
    for (cond, runs), colour in zip(curves.items(), ("tab:red", "tab:blue"), strict=True):
        for k, (lo, no) in enumerate(runs):
            label = cond if k == 0 else None
            ax1.plot(x, lo, color=colour, lw=0.8, alpha=0.7, label=label)
            ax2.plot(x, no, color=colour, lw=0.8, alpha=0.7, label=label)
    ax1.axhline(CHANCE, color="grey", ls=":", lw=1)
    ax1.set(xlabel="SGD step", ylabel="cross-entropy (dotted: chance)", yscale="log",
            title=f"RNN, recall lag {ns.lag}, lr {ns.lr:g}")
    ax2.set(xlabel="SGD step", ylabel="gradient norm before clipping", yscale="log",
            title="gradient norm")
    ax1.legend()
    ax2.legend()


def _loss(v: Any) -> str:
    return v.format(".3f") if isinstance(v, Interval) else "-" if math.isnan(v) else f"{v:.3f}"


GRADIENT_CLIPPING = LabExperiment(
    "gradient-clipping", "Exploding gradients: clip the norm.", None, ClippingSettings,
    duration="about a minute", tasks=tasks, measure=measure, aggregate=aggregate)
