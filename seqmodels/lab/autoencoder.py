"""``lab autoencoder``: mirror the encoder to rebuild the input through a bottleneck; sparse,
denoising and convolutional variants; the code as features; pretraining a classifier.

On scikit-learn's digits (pixels in [0, 1], the training images only, no labels, for every
autoencoder; :mod:`~pucklab.seqmodels.basics.autoencoders`), per seed:

- code size: PCA, an undercomplete *linear* autoencoder (64 -> k -> 64, no activation) and a
  ReLU one (64 -> 128 -> k -> 128 -> 64), test reconstruction error at each k; for the linear
  one also how well its decoder's span matches PCA's (mean cos^2 of the principal angles, 1 =
  the same subspace);
- sparse: a ReLU code of 32 with and without an L1 penalty on it -- the share of near-zero
  code values (< 0.01) and of units never active on the test set;
- denoising: trained on inputs with Gaussian noise to rebuild the clean image, against the
  plain autoencoder, on noisy test inputs;
- convolutional: conv + pool twice to a 16-number code (4 maps of 2x2), transposed
  convolutions up, against PCA and the dense autoencoder with the same code size;
- features: logistic regression (scikit-learn, standardised inputs) on the raw 64 pixels, on
  16 PCA components and on the 16-number codes;
- pretraining: the 16-code encoder + a Linear layer fine-tuned on 1 %, 10 % and 100 % of the
  labels (stratified), against the same network from a random start.

Each seed is one task (:mod:`pucklab.runs.lab_tasks`). Listed in ``pucklab.runs.registry``;
``pucklab.runs.lab`` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pucklab.runs.lab import LabExperiment, LabOutcome, LabSettings, lab_seeds
from pucklab.runs.lab_tasks import Task
from pucklab.runs.settings import setting
from pucklab.runs.stats import Claim, difference, interval
from pucklab.runs.store import RunError
from pucklab.runs.tables import number
from pucklab.seqmodels.lab.autoencoder_runs import FRACTIONS, SMALL, WIDE, Measured, measure, reconstructions

#: What each part's table rows show of an autoencoder's measures (code size and parameters
#: always): the rest is measured for every one but beside the point there.
SHOWN = {"code size": ("test_mse", "pca_overlap"), "sparse": ("test_mse", "near_zero_code",
                                                              "dead_units"),
         "denoising": ("test_mse", "noisy_test_mse"), "convolutional": ("test_mse",)}


@dataclass
class AutoencoderSettings(LabSettings):
    seeds: int | None = lab_seeds(5)
    steps: int | None = setting(None, "Adam updates per autoencoder", sizes=(2000, 300))
    linear_steps: int | None = setting(None, "Adam updates per linear autoencoder (it nears "
                                       "PCA's subspace slowly)", sizes=(6000, 2000))
    code_sizes: list[int] | None = setting(None, "code sizes to compare with PCA",
                                           metavar="K", sizes=([2, 4, 8, 16, 32], [4, 16]))
    l1: float = setting(0.03, "the sparse autoencoder's L1 penalty on the code", above=0)
    noise: float = setting(0.3, "std of the denoising autoencoder's Gaussian noise", above=0)

    def check(self) -> None:
        super().check()
        assert self.steps is not None and self.linear_steps is not None
        assert self.code_sizes is not None
        if self.steps < 1 or self.linear_steps < 1:
            raise RunError("--steps and --linear-steps must be >= 1")
        if not all(1 <= k < 64 for k in self.code_sizes):
            raise RunError("--code-sizes must be in [1, 63]: a code smaller than the 64 pixels")



def tasks(ns: AutoencoderSettings, seeds: list[int]) -> list[Task]:
    """One task per seed: its parts build on each other (the features and the pretraining use
    that seed's autoencoder and PCA)."""
    return [Task(f"seed{seed}", seed, {}) for seed in seeds]


def measure_task(ns: AutoencoderSettings, task: Task, folder: Path, resume: bool
                 ) -> dict[str, Any]:
    """Every part for one seed (a retried task runs again); the first seed also keeps the
    reconstructions the figure shows."""
    assert ns.steps is not None and ns.linear_steps is not None and ns.code_sizes is not None
    measured, kept = measure(task.seed, ns.steps, ns.linear_steps, ns.code_sizes, ns.l1,
                             ns.noise)
    # keys in the order measured (a result's JSON sorts them): the table keeps this order
    found: dict[str, Any] = {"measured": {f"{part}|{name}": values
                                          for (part, name), values in measured.items()},
                             "order": [f"{part}|{name}" for part, name in measured]}
    if task.seed == ns.seed:
        found["reconstructions"] = reconstructions(kept, task.seed, ns.noise)
    return found


def compare(per_seed: list[Measured], ns: AutoencoderSettings) -> list[Claim]:
    """Seed by seed (a seed: the same split and starts for every model)."""
    assert ns.code_sizes is not None
    ks = sorted(set(ns.code_sizes) | {SMALL})
    sparse, dae = f"sparse AE (L1 {ns.l1:g})", f"denoising AE (noise {ns.noise:g})"

    def diff(a: tuple[str, str], b: tuple[str, str], key: str) -> Any:
        return difference([m[a][key] for m in per_seed], [m[b][key] for m in per_seed])

    def mse(m: Measured, name: str) -> float:
        return m["code size", name]["test_mse"]

    size = ("code size", f"PCA {SMALL}")
    claims = [Claim(f"the ReLU autoencoder rebuilds better than PCA at code size {k} "
                    "(test MSE, AE - PCA)",
                    diff(("code size", f"AE {k}"), ("code size", f"PCA {k}"), "test_mse"),
                    higher=False) for k in ks]
    claims += [
        Claim(f"a linear autoencoder comes within {LINEAR_GAP:.0%} of PCA's error at every size "
              f"(largest |linear / PCA - 1| - {LINEAR_GAP:g})",
              difference([max(abs(mse(m, f"linear AE {k}") / mse(m, f"PCA {k}") - 1)
                               for k in ks) for m in per_seed], LINEAR_GAP), higher=False),
        Claim("the L1 penalty makes the code sparser (share near zero, sparse - plain)",
              diff(("sparse", sparse), ("sparse", "AE, ReLU code"), "near_zero_code")),
        Claim("the denoising autoencoder rebuilds noisy inputs better (MSE against the clean "
              "images, denoising - plain)",
              diff(("denoising", dae), ("denoising", "AE"), "noisy_test_mse"), higher=False),
        Claim(f"the convolutional autoencoder rebuilds better than PCA with the same code of "
              f"{SMALL} (test MSE, conv - PCA)",
              diff(("convolutional", f"conv AE {SMALL}"), size, "test_mse"), higher=False),
        Claim(f"the autoencoder's {SMALL} codes are better features than PCA's (logistic "
              "regression's accuracy, AE - PCA)",
              diff(("features", f"AE codes {SMALL}"), ("features", f"PCA {SMALL}"), "accuracy")),
    ]
    for f in FRACTIONS:
        a, b = f"pretrained encoder, {f:.0%} labels", f"random start, {f:.0%} labels"
        claims.append(Claim(f"with {f:.0%} of the labels a pretrained encoder classifies better "
                            "than a random start (accuracy, pretrained - random)",
                            diff(("pretraining", a), ("pretraining", b), "accuracy")))
    return claims


def aggregate(ns: AutoencoderSettings, found: dict[str, dict[str, Any]], run_dir: Path
              ) -> LabOutcome:
    seeds = ns.seed_list()
    per_seed: list[Measured] = []
    for task in tasks(ns, seeds):
        result = found[task.key]
        per_seed.append({tuple(key.split("|", 1)): result["measured"][key]  # type: ignore[misc]
                         for key in result["order"]})
    images = found[tasks(ns, seeds)[0].key]["reconstructions"]
    rows = []
    for (part, name), values in per_seed[0].items():
        row: dict[str, Any] = {"part": part, "model": name}
        shown = SHOWN.get(part, tuple(values))
        row.update({k: float(np.mean([m[part, name][k] for m in per_seed])) for k in values
                    if k in shown or k in ("code_size", "parameters")})
        if "test_mse" in row:
            row["test_mse"] = interval([m[part, name]["test_mse"] for m in per_seed])
        if "accuracy" in row:
            row["accuracy"] = interval([m[part, name]["accuracy"] for m in per_seed])
        rows.append(row)
    columns = ["part", "model", "code_size", "parameters", "test_mse", "noisy_test_mse",
               "pca_overlap", "near_zero_code", "dead_units", "labels", "accuracy"]
    formats = {"code_size": ".0f", "parameters": ",.0f", "test_mse": ".4f",
               "noisy_test_mse": ".4f", "pca_overlap": ".4f", "near_zero_code": ".3f",
               "dead_units": ".1f", "labels": ".0f", "accuracy": ".3f"}
    return LabOutcome(columns, rows, conclude(per_seed, ns),
                      lambda fig: draw(fig, rows, images), formats, compare(per_seed, ns))


LINEAR_GAP = 0.02  # a linear autoencoder within this of PCA's error does as well


def conclude(per_seed: list[Measured], ns: AutoencoderSettings) -> list[str]:
    assert ns.code_sizes is not None
    ks = sorted(set(ns.code_sizes) | {SMALL})

    def mean(part: str, name: str, key: str) -> float:
        return float(np.mean([m[part, name][key] for m in per_seed]))

    def mse(m: Measured, name: str) -> float:
        return m["code size", name]["test_mse"]

    gap = max(abs(mse(m, f"linear AE {k}") / mse(m, f"PCA {k}") - 1) for m in per_seed
              for k in ks)
    worst, worst_k = min((m["code size", f"linear AE {k}"]["pca_overlap"], k)
                         for m in per_seed for k in ks)
    sparse, dae = f"sparse AE (L1 {ns.l1:g})", f"denoising AE (noise {ns.noise:g})"
    sizes = ", ".join(f"{k}: PCA {mean('code size', f'PCA {k}', 'test_mse'):.4f}, "
                      f"AE {mean('code size', f'AE {k}', 'test_mse'):.4f}" for k in ks)
    lines = [
        f"Test reconstruction error by code size ({sizes}).",
        f"The linear autoencoder's error is within {gap:.1%} of PCA's at every size and seed. "
        "Its decoder spans PCA's subspace: the lowest mean cos^2 of the principal angles over "
        f"sizes and seeds is {worst:.4f}, at code size {worst_k}.",
        f"An L1 penalty of {ns.l1:g} on a ReLU code of {WIDE}: near-zero code values "
        f"{mean('sparse', 'AE, ReLU code', 'near_zero_code'):.3f} -> "
        f"{mean('sparse', sparse, 'near_zero_code'):.3f}, units never active "
        f"{mean('sparse', 'AE, ReLU code', 'dead_units'):.1f} -> "
        f"{mean('sparse', sparse, 'dead_units'):.1f}, at a test error of "
        f"{mean('sparse', sparse, 'test_mse'):.4f} against "
        f"{mean('sparse', 'AE, ReLU code', 'test_mse'):.4f}.",
        f"Noisy test inputs (noise {ns.noise:g}) rebuilt against the clean images: denoising AE "
        f"{mean('denoising', dae, 'noisy_test_mse'):.4f}, plain AE "
        f"{mean('denoising', 'AE', 'noisy_test_mse'):.4f} (clean inputs: "
        f"{mean('denoising', dae, 'test_mse'):.4f} vs {mean('denoising', 'AE', 'test_mse'):.4f})"
        ".",
        f"Convolutional, code {SMALL}: test error "
        f"{mean('convolutional', f'conv AE {SMALL}', 'test_mse'):.4f} with "
        f"{mean('convolutional', f'conv AE {SMALL}', 'parameters'):,.0f} parameters, against "
        f"PCA {mean('code size', f'PCA {SMALL}', 'test_mse'):.4f} "
        f"({64 * SMALL + 64:,} numbers) and the dense AE "
        f"{mean('code size', f'AE {SMALL}', 'test_mse'):.4f} "
        f"({mean('code size', f'AE {SMALL}', 'parameters'):,.0f}).",
    ]
    acc = {name: mean("features", name, "accuracy")
           for name in ("raw pixels", f"PCA {SMALL}", f"AE codes {SMALL}")}
    lines.append(
        "Logistic regression's test accuracy on " + ", ".join(f"{k} {v:.3f}"
                                                              for k, v in acc.items())
        + ".")
    pre = []
    for f in FRACTIONS:
        a, b = f"pretrained encoder, {f:.0%} labels", f"random start, {f:.0%} labels"
        pre.append(f"{f:.0%} of the labels ({mean('pretraining', a, 'labels'):.0f}): "
                   f"{mean('pretraining', a, 'accuracy'):.3f} vs "
                   f"{mean('pretraining', b, 'accuracy'):.3f}")
    lines.append("A classifier started from the autoencoder's encoder against a random start "
                 "(test accuracy), at " + "; ".join(pre) + ".")
    return lines


def draw(fig: Any, rows: list[dict[str, Any]], shown: list[list[list[float]]]) -> None:
    from matplotlib.ticker import NullLocator

    axes = [fig.add_subplot(1, 3, k) for k in range(1, 4)]
    for prefix, style in (("PCA", "o--"), ("linear AE", "x:"), ("AE", "s-")):
        sized = sorted((r["code_size"], number(r["test_mse"])) for r in rows
                       if r["part"] == "code size" and r["model"].rsplit(" ", 1)[0] == prefix)
        axes[0].plot(*zip(*sized, strict=True), style, label=prefix)
    conv = next(r for r in rows if r["part"] == "convolutional")
    axes[0].plot([conv["code_size"]], [number(conv["test_mse"])], "^", label="conv AE")
    sizes = sorted({int(r["code_size"]) for r in rows if r["part"] == "code size"})
    axes[0].set(xscale="log", yscale="log", xlabel="code size", ylabel="test MSE per pixel",
                title="reconstruction against code size")
    axes[0].set_xticks(sizes, [str(k) for k in sizes])
    axes[0].xaxis.set_minor_locator(NullLocator())
    axes[0].legend(fontsize=7)
    for start, style in (("pretrained encoder", "-"), ("random start", "--")):
        pts = [(r["labels"], number(r["accuracy"])) for r in rows
               if r["model"].startswith(start)]
        axes[1].plot(*zip(*pts, strict=True), style, marker="o", label=start)
    axes[1].set(xscale="log", xlabel="labelled training images", ylabel="test accuracy",
                title="pretraining a classifier")
    axes[1].legend(fontsize=7)
    grid = np.full((len(shown) * 9 - 1, 8 * 9 - 1), np.nan)
    for r, images in enumerate(shown):
        for c, image in enumerate(np.array(images).reshape(-1, 8, 8)):
            grid[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = image
    axes[2].imshow(grid, cmap="gray_r")
    axes[2].set_yticks([r * 9 + 3.5 for r in range(len(shown))],
                       ["test digits", f"AE {SMALL}", f"conv AE {SMALL}", "with noise",
                        "plain AE", "denoising AE"], fontsize=7)
    axes[2].set_xticks([])
    axes[2].set_title("reconstructions (first seed)")


AUTOENCODER = LabExperiment(
    "autoencoder", "An autoencoder rebuilds its input through a bottleneck (a linear one spans "
    "PCA's subspace); sparse, denoising and convolutional variants; its code is a feature set, "
    "and its encoder can pretrain a classifier.", None, AutoencoderSettings,
    duration="about 3 minutes with --workers 2", tasks=tasks, measure=measure_task,
    aggregate=aggregate)
