"""``lab gradient-clipping``: an Elman RNN trained with plain SGD at a learning rate that
explodes, with and without ``torch.nn.utils.clip_grad_norm_`` (the Trainer's ``--clip``).

Listed in ``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.figures import progress_bar
from pucklab.runs.lab import LabExperiment, LabOutcome, LabSettings
from pucklab.runs.settings import setting
from pucklab.runs.store import RunError
from pucklab.seqmodels.lab.recall import SYMBOLS, train_clipping

BLOWN_UP = 3  # a run "blew up" when its loss went above this many times chance
CHANCE = math.log(SYMBOLS)
Curves = dict[str, list[tuple[np.ndarray, np.ndarray]]]


@dataclass
class ClippingSettings(LabSettings):
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


def measure(ns: ClippingSettings, conds: dict[str, float], seeds: list[int], steps: int,
            run_dir: Path) -> Curves:
    """(losses, pre-clip norms) per step of every (condition, seed) run."""
    curves: Curves = {c: [] for c in conds}
    jobs = [(c, s) for c in conds for s in seeds]
    for cond, seed in progress_bar(ns.progress, iterable=jobs, leave=False, desc="runs"):
        folder = run_dir / f"{'clipped' if conds[cond] else 'unclipped'}-seed{seed}"
        curves[cond].append(train_clipping(ns.lr, conds[cond], steps, ns.lag, ns.hidden, seed,
                                           folder))
    return curves


def aggregate(cond: str, runs: list[tuple[np.ndarray, np.ndarray]], ns: ClippingSettings,
              tail: int) -> dict[str, Any]:
    """One table row: final loss, how many runs blew up and when, the gradient norms."""
    losses = np.stack([c[0] for c in runs])
    norms = np.stack([c[1] for c in runs])
    finals = [np.nanmean(lo[-tail:]) if np.isfinite(lo[-tail:]).all() else math.nan
              for lo in losses]
    diverged = [not np.isfinite(lo[-1]) or np.nanmax(lo) > BLOWN_UP * CHANCE for lo in losses]
    over_clip = [int((n > ns.clip).sum()) for n in norms]
    blown_at = [int(np.argmax(~(lo <= BLOWN_UP * CHANCE)))
                for lo, d in zip(losses, diverged, strict=True) if d]
    return {"condition": cond, "lr": ns.lr,
            "final_loss": (float(np.nanmean(finals)) if not all(map(math.isnan, finals))
                           else math.nan),
            "runs_blown_up": f"{sum(diverged)}/{len(runs)}",
            "max_grad_norm": float(np.nanmax(norms)),
            "median_grad_norm": float(np.nanmedian(norms)),
            f"steps_with_norm_over_{ns.clip:g}": float(np.mean(over_clip)),
            "first_blow_up_step": float(np.mean(blown_at)) + 1 if blown_at else math.nan}


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


def run_gradient_clipping(ns: ClippingSettings, seeds: list[int], run_dir: Path) -> LabOutcome:
    steps = ns.steps
    assert steps is not None
    conds = {"no clipping": 0.0, f"clip {ns.clip:g}": ns.clip}
    curves = measure(ns, conds, seeds, steps, run_dir)
    tail = max(1, steps // 10)
    rows = [aggregate(cond, curves[cond], ns, tail) for cond in conds]
    return LabOutcome(list(rows[0]), rows, conclude(rows[0], rows[1], ns, tail),
                      lambda fig: draw(fig, curves, ns, steps),
                      {"final_loss": ".3f", "max_grad_norm": ".3g", "median_grad_norm": ".3g",
                       f"steps_with_norm_over_{ns.clip:g}": ".1f", "first_blow_up_step": ".0f"})


def _loss(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.3f}"


GRADIENT_CLIPPING = LabExperiment(
    "gradient-clipping", "Exploding gradients: clip the norm.", run_gradient_clipping,
    ClippingSettings, duration="under a minute")
