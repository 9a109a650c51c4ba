"""What ``lab autoencoder`` measures for one seed: every autoencoder of its parts trained on the
digits' training images, their reconstruction errors, codes and features, and the pretrained
classifiers (the experiment, its claims and its table are in
:mod:`pucklab.seqmodels.lab.autoencoder`)."""

from __future__ import annotations

import copy

import numpy as np
import torch

from pucklab.seqmodels.basics.autoencoders import (
    Autoencoder,
    conv_autoencoder,
    corrupt,
    dense_autoencoder,
    fine_tune,
    overlap,
    pca_fit,
    reconstruction_error,
    train_autoencoder,
)
from pucklab.seqmodels.basics.conv import parameters
from pucklab.seqmodels.basics.data import digits, labelled
from pucklab.seqmodels.basics.nets import as_tensors

HIDDEN, WIDE, SMALL = 128, 32, 16  # hidden layer; the sparse / denoising code; the feature code
NEAR_ZERO, FRACTIONS, CLASSIFIER_STEPS = 0.01, (0.01, 0.1, 1.0), 500
Measured = dict[tuple[str, str], dict[str, float]]


def logistic_accuracy(train: np.ndarray, y_train: np.ndarray, test: np.ndarray,
                      y_test: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    return float(model.fit(train, y_train).score(test, y_test))



def measure(seed: int, steps: int, linear_steps: int, code_sizes: list[int], l1: float,
            noise: float) -> tuple[Measured, dict[str, Autoencoder]]:
    """Every part for one seed (see :mod:`pucklab.seqmodels.lab.autoencoder`): each model's
    measures by (part, model), and the models the figure's reconstructions use."""
    split = digits(seed)
    x, _, x_test, _ = as_tensors(split)
    noisy_test = corrupt(x_test, noise, torch.Generator().manual_seed(seed + 10_000))
    out: Measured = {}
    kept: dict[str, Autoencoder] = {}

    def autoencoder(part: str, name: str, model: Autoencoder, updates: int, code: int,
                    lr: float = 3e-3, noise: float = 0.0, l1: float = 0.0) -> Autoencoder:
        train_autoencoder(model, x, updates, seed, lr=lr, noise=noise, l1=l1)
        codes = model.encode(x_test)
        out[part, name] = {"code_size": code, "parameters": parameters(model),
                           "test_mse": reconstruction_error(model, x_test),
                           "noisy_test_mse": reconstruction_error(model, noisy_test, x_test),
                           "near_zero_code": float((codes.abs() < NEAR_ZERO).float().mean()),
                           "dead_units": float((codes.max(0).values < NEAR_ZERO).sum())}
        return model

    for k in sorted(set(code_sizes) | {SMALL}):
        pca, mse = pca_fit(split, k)
        out["code size", f"PCA {k}"] = {"code_size": k, "parameters": 64 * k + 64, "test_mse": mse}
        lin = autoencoder("code size", f"linear AE {k}", dense_autoencoder([64, k], linear=True,
                          seed=seed), linear_steps, k, lr=1e-2)
        out["code size", f"linear AE {k}"]["pca_overlap"] = overlap(lin.decoder, pca.components_)
        kept[f"AE {k}"] = autoencoder("code size", f"AE {k}", dense_autoencoder(
            [64, HIDDEN, k], seed=seed), steps, k)
        if k == SMALL:
            small_pca = pca
    for name, penalty in (("AE, ReLU code", 0.0), (f"sparse AE (L1 {l1:g})", l1)):
        autoencoder("sparse", name, dense_autoencoder([64, HIDDEN, WIDE], code_activation=True,
                    seed=seed), steps, WIDE, l1=penalty)
    for name, sigma in (("AE", 0.0), (f"denoising AE (noise {noise:g})", noise)):
        kept[name] = autoencoder("denoising", name, dense_autoencoder([64, HIDDEN, WIDE],
                                 seed=seed), steps, WIDE, noise=sigma)
    kept["conv AE"] = autoencoder("convolutional", f"conv AE {SMALL}",
                                  conv_autoencoder(8, (16, SMALL // 4), seed=seed), steps,
                                  SMALL, lr=1e-2)
    encoder = kept[f"AE {SMALL}"]
    features = {"raw pixels": (split.x_train, split.x_test),
                f"PCA {SMALL}": (small_pca.transform(split.x_train),
                                 small_pca.transform(split.x_test)),
                f"AE codes {SMALL}": (encoder.encode(x).numpy(), encoder.encode(x_test).numpy())}
    for name, (train, test) in features.items():
        out["features", name] = {"code_size": train.shape[1], "accuracy": logistic_accuracy(
            train, split.y_train, test, split.y_test)}
    for fraction in FRACTIONS:
        idx = labelled(split.y_train, fraction, seed)
        for start, enc in (("pretrained encoder", copy.deepcopy(encoder.encoder)),
                           ("random start", dense_autoencoder([64, HIDDEN, SMALL],
                                                              seed=seed + 1).encoder)):
            out["pretraining", f"{start}, {fraction:.0%} labels"] = {
                "labels": len(idx), "accuracy": fine_tune(enc, SMALL, split, idx, seed, CLASSIFIER_STEPS)}
    return out, kept


def reconstructions(models: dict[str, Autoencoder], seed: int, noise: float
                    ) -> list[list[list[float]]]:
    """Eight test digits, clean and noisy, and what the autoencoders rebuild of them."""
    x_test = torch.as_tensor(digits(seed).x_test[:8], dtype=torch.float32)
    noisy = corrupt(x_test, noise, torch.Generator().manual_seed(seed + 10_000))
    denoising = models[next(k for k in models if k.startswith("denoising"))]
    with torch.no_grad():
        shown = [x_test, models[f"AE {SMALL}"](x_test), models["conv AE"](x_test), noisy,
                 models["AE"](noisy), denoising(noisy)]
    return [images.clamp(0, 1).reshape(-1, 64).tolist() for images in shown]
