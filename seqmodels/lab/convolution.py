"""``lab convolution``: a convolution looks at a region and shares its weights over the image;
a template-like fully connected model breaks when the object moves.

scikit-learn's 8x8 digits pasted onto a blank 16x16 canvas
(:func:`~pucklab.seqmodels.basics.data.on_canvas`). Training puts each digit at the centre and
at every position up to ``--jitter`` pixels from it; the test moves the held-out digits 0, 1,
... 4 pixels from the centre (every position at that distance), so shifts beyond the jitter
are positions no training image had. Four networks, all trained the same way (Adam, batches
of 64, the same updates), each on the same seeds:

- ``linear``: logistic regression on the pixels, one template per class;
- ``mlp``: one hidden layer of 128 ReLU units;
- ``cnn``: conv 3x3 (16 maps) + ReLU + 2x2 max pool, conv 3x3 (32) + ReLU + pool, a Linear
  head on the flattened maps (:func:`~pucklab.seqmodels.basics.conv.cnn`);
- ``cnn, global max``: the same convolutions, each map pooled to its maximum before the head.

Measured per network and seed: parameters, weights of the first layer, test accuracy at every
shift (--quick: 8 positions of each shift), and the share of the saliency map
(|d logit / d pixel|) that falls on the digit's own 8x8 box when it sits at the largest shift
(8 of its 32 positions). The figure shows accuracy against shift, the first
convolution's filters, its feature maps of one moved digit, and that digit's saliency maps.

Each network x seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in
``pucklab.runs.registry``; ``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pucklab.runs.device import resolve_device
from pucklab.runs.lab import LabExperiment, LabOutcome, TorchLabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError, load_checkpoint, save_checkpoint
from pucklab.seqmodels.basics.conv import (
    cnn,
    feature_maps,
    first_layer_weights,
    parameters,
    saliency,
)
from pucklab.seqmodels.basics.data import DIGIT_SIDE, Split, digits, on_canvas, ring
from pucklab.seqmodels.basics.nets import accuracy, mlp, train_classifier

SIDE, BATCH, HIDDEN = 16, 64, 128
CENTRE = (SIDE - DIGIT_SIDE) // 2
SHIFTS = list(range(CENTRE + 1))  # 0 .. 4: the digit's edge reaches the canvas's at 4
#: Positions per shift tested at --quick (else all), and for the saliency share (8 of 32).
QUICK_POSITIONS, SALIENCY_POSITIONS = 8, 8
MODELS: dict[str, Callable[[int, int], nn.Module]] = {
    "linear": lambda classes, seed: mlp([SIDE * SIDE, classes], seed=seed),
    "mlp": lambda classes, seed: mlp([SIDE * SIDE, HIDDEN, classes], seed=seed),
    "cnn": lambda classes, seed: cnn(SIDE, classes, seed=seed),
    "cnn, global max": lambda classes, seed: cnn(SIDE, classes, head="global", seed=seed)}


@dataclass
class ConvolutionSettings(TorchLabSettings):
    seeds: int | None = lab_seeds(5)
    steps: int | None = setting(None, "Adam updates per network", sizes=(2000, 300))
    lr: float = setting(1e-3, "Adam learning rate", above=0)
    jitter: int = setting(1, "training positions: up to this many pixels from the centre",
                          low=0)

    def check(self) -> None:
        super().check()
        assert self.steps is not None
        if self.steps < 1:
            raise RunError("--steps must be >= 1")
        if self.jitter >= max(SHIFTS):
            raise RunError(f"--jitter must be below {max(SHIFTS)}, or no shift is held out")


def training_positions(jitter: int) -> list[tuple[int, int]]:
    return [p for s in range(jitter + 1) for p in ring(s, CENTRE)]


def placed(seed: int, jitter: int) -> Split:
    """The digits of ``seed``'s split on the canvas: training digits at every training
    position, test digits at the centre (the training curve's test set)."""
    split = digits(seed)
    positions = training_positions(jitter)
    return Split(on_canvas(split.x_train, SIDE, positions),
                 np.tile(split.y_train, len(positions)),
                 on_canvas(split.x_test, SIDE, [(CENTRE, CENTRE)]), split.y_test)


def spread(shift: int, most: int | None = None) -> list[tuple[int, int]]:
    """The positions ``shift`` from the centre: all of them, or ``most`` spread evenly."""
    positions = ring(shift, CENTRE)
    return positions if most is None else positions[::max(1, len(positions) // most)]


def shifted(seed: int, shift: int, device: torch.device, most: int | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Every test digit of ``seed``'s split at the positions :func:`spread` gives."""
    split = digits(seed)
    positions = spread(shift, most)
    x = on_canvas(split.x_test, SIDE, positions)
    return (torch.as_tensor(x, dtype=torch.float32, device=device),
            torch.as_tensor(np.tile(split.y_test, len(positions)), device=device))


def on_digit(maps: torch.Tensor, offsets: list[tuple[int, int]]) -> float:
    """The share of saliency ``maps`` (N, side * side, grouped by offset as
    :func:`~pucklab.seqmodels.basics.data.on_canvas` makes them) inside each digit's box."""
    inside = torch.zeros(len(offsets), SIDE, SIDE, device=maps.device)
    for k, (r, c) in enumerate(offsets):
        inside[k, r:r + DIGIT_SIDE, c:c + DIGIT_SIDE] = 1.0
    mask = inside.repeat_interleave(len(maps) // len(offsets), 0).reshape(maps.shape)
    return float((maps * mask).sum() / maps.sum().clamp_min(1e-30))


def measure(name: str, seed: int, ns: ConvolutionSettings, device: torch.device
            ) -> tuple[nn.Module, dict[str, float]]:
    assert ns.steps is not None
    split = placed(seed, ns.jitter)
    model = MODELS[name](split.classes, seed).to(device)
    train_classifier(model, split, torch.optim.Adam(model.parameters(), lr=ns.lr), ns.steps,
                     BATCH, seed, every=ns.steps, device=device)
    row = {"parameters": float(parameters(model)),
           "first_layer_weights": float(first_layer_weights(model))}
    most = QUICK_POSITIONS if ns.quick else None
    for s in SHIFTS:
        row[f"shift_{s}"] = accuracy(model, *shifted(seed, s, device, most))
    x, y = shifted(seed, max(SHIFTS), device, SALIENCY_POSITIONS)
    row["saliency_on_digit"] = on_digit(saliency(model, x, y), spread(max(SHIFTS),
                                                                      SALIENCY_POSITIONS))
    return model, row


def tasks(ns: ConvolutionSettings, seeds: list[int]) -> list[Task]:
    return [Task(f"{name.replace(', ', '-').replace(' ', '-')}-seed{seed}", seed, {"model": name})
            for seed in seeds for name in MODELS]


WEIGHTS = "model.pt"  # the trained network of the first seed, for the figure
COMMAND = "lab convolution"


def measure_task(ns: ConvolutionSettings, task: Task, folder: Path, resume: bool
                 ) -> dict[str, float]:
    """One network trained and tested (seconds of work: a retried task runs again); the first
    seed's weights are kept for the figure."""
    model, measured = measure(task.params["model"], task.seed, ns, resolve_device(ns.device))
    shifts = {s: measured[f"shift_{s}"] for s in SHIFTS}
    measured["seen"] = float(np.mean([a for s, a in shifts.items() if s <= ns.jitter]))
    measured["held_out"] = float(np.mean([a for s, a in shifts.items() if s > ns.jitter]))
    if task.seed == ns.seed:
        save_checkpoint(folder, {"model": model.cpu().state_dict()}, WEIGHTS, command=COMMAND)
    return measured


def compare(per_seed: dict[str, list[dict[str, float]]]) -> list[Claim]:
    """Seed by seed (a seed: the same digits and positions for every network)."""
    def diff(a: str, b: str, key: str) -> Any:
        return difference([r[key] for r in per_seed[a]], [r[key] for r in per_seed[b]])

    lin = per_seed["linear"]
    return [
        Claim("the linear model loses more than half its accuracy when the digit moves beyond "
              "the trained positions (held-out - half of seen)",
              difference([r["held_out"] for r in lin], [r["seen"] / 2 for r in lin]),
              higher=False),
        Claim("the CNN keeps more accuracy than the MLP under held-out shifts (cnn - mlp)",
              diff("cnn", "mlp", "held_out")),
        Claim("pooled to each map's maximum it keeps more than with a dense head "
              "(global max - cnn)", diff("cnn, global max", "cnn", "held_out")),
        Claim("the CNN's saliency rests on the digit more than the MLP's (share on the digit, "
              "cnn - mlp)", diff("cnn", "mlp", "saliency_on_digit")),
    ]


def aggregate(ns: ConvolutionSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    seeds = ns.seed_list()
    per_seed: dict[str, list[dict[str, float]]] = {name: [] for name in MODELS}
    first: dict[str, nn.Module] = {}
    classes = digits(seeds[0]).classes
    for task in tasks(ns, seeds):
        name = task.params["model"]
        per_seed[name].append(found[task.key])
        if task.seed == seeds[0]:
            model = MODELS[name](classes, task.seed)
            model.load_state_dict(load_checkpoint(run_dir / "tasks" / task.key, WEIGHTS,
                                                  command=COMMAND, keys=("model",))["model"])
            first[name] = model
    rows = []
    for name, runs in per_seed.items():
        row: dict[str, Any] = {"model": name}
        row.update({k: float(np.mean([r[k] for r in runs])) for k in runs[0]})
        row["held_out"] = interval([r["held_out"] for r in runs])
        rows.append(row)
    columns = ["model", "parameters", "first_layer_weights", "seen",
               *[f"shift_{s}" for s in SHIFTS], "held_out", "saliency_on_digit"]
    formats = {c: ".3f" for c in columns[3:]} | {"parameters": ",.0f",
                                                  "first_layer_weights": ",.0f"}
    return LabOutcome(columns, rows, conclude(per_seed, rows, ns.jitter),
                      lambda fig: draw(fig, rows, first, seeds[0], ns.jitter), formats,
                      compare(per_seed))


def conclude(per_seed: dict[str, list[dict[str, float]]], rows: list[dict[str, Any]],
             jitter: int) -> list[str]:
    by = {r["model"]: r for r in rows}
    mlp_, cnn_, gmax = by["mlp"], by["cnn"], by["cnn, global max"]
    held_out = ", ".join(f"{r['model']} {r['held_out'].mean:.3f}" for r in rows)
    drop = {r["model"]: r["seen"] - r["held_out"].mean for r in rows}
    return [
        f"A fully connected first layer on the {SIDE}x{SIDE} canvas has "
        f"{mlp_['first_layer_weights']:,.0f} weights ({HIDDEN} units x {SIDE * SIDE} pixels); "
        f"the first convolution has {cnn_['first_layer_weights']:,.0f}, shared by every "
        f"position. In all, the CNN has {cnn_['parameters']:,.0f} parameters to the MLP's "
        f"{mlp_['parameters']:,.0f}, with test accuracy {cnn_['seen']:.3f} vs "
        f"{mlp_['seen']:.3f} at the trained positions.",
        f"Moved {jitter + 1}-{max(SHIFTS)} pixels from the centre, beyond every training "
        f"position (trained up to {jitter}), accuracy: {held_out}; lost against the trained "
        "positions: " + ", ".join(f"{m} {d:.3f}" for m, d in drop.items())
        + ".",
        "With each map pooled to its maximum (no position left for the head to learn): "
        f"{gmax['held_out'].mean:.3f} under held-out shifts vs the dense head's "
        f"{cnn_['held_out'].mean:.3f}.",
        f"Saliency of a digit moved {max(SHIFTS)} pixels: the share of |d logit / d pixel| on "
        f"the digit's own 8x8 box ({DIGIT_SIDE ** 2 / SIDE ** 2:.0%} of the canvas) is "
        + ", ".join(f"{r['model']} {r['saliency_on_digit']:.3f}" for r in rows)
        + ". The MLP's weights on pixels no training digit lit are still their random start.",
    ]


def _mosaic(images: np.ndarray, cols: int) -> np.ndarray:
    """(K, h, w) images in a grid ``cols`` wide with one blank (nan) pixel between them."""
    k, h, w = images.shape
    rows = -(-k // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = img
    return out


def draw(fig: Any, rows: list[dict[str, Any]], models: dict[str, nn.Module], seed: int,
         jitter: int) -> None:
    axes = [fig.add_subplot(1, 4, k) for k in range(1, 5)]
    for r in rows:
        axes[0].plot(SHIFTS, [r[f"shift_{s}"] for s in SHIFTS], marker="o", label=r["model"])
    axes[0].axvspan(-0.2, jitter + 0.2, color="grey", alpha=0.15, label="trained positions")
    axes[0].set(xlabel="pixels from the centre", ylabel="test accuracy (mean over seeds)",
                title="moving the digit", ylim=(0, 1.02))
    axes[0].legend(fontsize=7)
    net = models["cnn"]
    assert isinstance(net, nn.Sequential)
    conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    filters = conv.weight.detach()[:, 0].numpy()
    top = float(np.abs(filters).max())
    axes[1].imshow(_mosaic(filters, 4), cmap="RdBu_r", vmin=-top, vmax=top)
    axes[1].set_title(f"the first convolution's {len(filters)} filters", fontsize=9)
    x, y = shifted(seed, max(SHIFTS), torch.device("cpu"))
    digit, label = x[len(x) // 3:len(x) // 3 + 1], y[len(x) // 3:len(x) // 3 + 1]
    maps = feature_maps(net, digit)[0, :8].numpy()
    axes[2].imshow(_mosaic(np.concatenate([digit.reshape(1, SIDE, SIDE).numpy(), maps]), 3),
                   cmap="magma")
    axes[2].set_title("a moved digit and 8 of its feature maps", fontsize=9)
    panels = [digit.reshape(SIDE, SIDE).numpy()]
    for name in ("mlp", "cnn", "cnn, global max"):
        sal = saliency(models[name], digit, label).reshape(SIDE, SIDE).numpy()
        panels.append(sal / max(float(sal.max()), 1e-30))
    axes[3].imshow(_mosaic(np.stack(panels), 2), cmap="magma")
    axes[3].set_title("the digit; saliency of MLP,\nCNN, CNN with global max", fontsize=9)
    for ax in axes[1:]:
        ax.set_axis_off()


CONVOLUTION = LabExperiment(
    "convolution", "A convolution looks at a region and shares its weights, so a CNN needs far "
    "fewer weights than a fully connected network on an image, and keeps recognising an "
    "object that moves, where a template-like linear model breaks.", None,
    ConvolutionSettings, duration="about 3 minutes", tasks=tasks, measure=measure_task,
    aggregate=aggregate)
