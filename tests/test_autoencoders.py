"""The autoencoder chapter's parts: a linear autoencoder against PCA, the shapes, the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pucklab.seqmodels.basics.autoencoders import (
    conv_autoencoder,
    corrupt,
    dense_autoencoder,
    overlap,
    pca_fit,
    reconstruction_error,
    train_autoencoder,
)
from pucklab.seqmodels.basics.data import digits, labelled
from pucklab.seqmodels.basics.nets import as_tensors


def test_a_trained_linear_autoencoder_matches_pca_and_spans_its_subspace():
    """Baldi and Hornik: an undercomplete linear autoencoder's optimum is PCA's subspace."""
    split = digits(3)
    x, _, x_test, _ = as_tensors(split)
    pca, pca_mse = pca_fit(split, 8)
    model = dense_autoencoder([64, 8], linear=True, seed=3)
    losses = train_autoencoder(model, x, 6000, 3, lr=1e-2)
    assert losses[-1] < losses[0] / 5
    assert reconstruction_error(model, x_test) == pytest.approx(pca_mse, rel=0.01)
    assert overlap(model.decoder, pca.components_) > 0.98
    untrained = dense_autoencoder([64, 8], linear=True, seed=3)
    assert overlap(untrained.decoder, pca.components_) < 0.5  # not so by chance


def test_autoencoders_rebuild_the_input_shape_through_their_code():
    x = torch.rand(5, 64)
    dense = dense_autoencoder([64, 32, 4], code_activation=True)
    assert dense.encode(x).shape == (5, 4) and (dense.encode(x) >= 0).all()  # a ReLU code
    assert dense(x).shape == (5, 64)
    conv = conv_autoencoder(8, (16, 4))
    assert conv.encode(x).shape == (5, 16) and conv(x).shape == (5, 64)
    linear = dense_autoencoder([64, 4], linear=True)
    assert not any(isinstance(m, torch.nn.ReLU) for m in linear.modules())


def test_the_denoising_target_is_clean_and_the_noise_is_seeded():
    x = torch.zeros(4, 64)
    a = corrupt(x, 0.3, torch.Generator().manual_seed(1))
    b = corrupt(x, 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and 0.2 < float(a.std()) < 0.4
    model = dense_autoencoder([64, 8], linear=True)
    with torch.no_grad():
        assert reconstruction_error(model, a, x) == pytest.approx(float((model(a) ** 2).mean()))


def test_labelled_subsets_are_stratified_with_one_per_class_at_least():
    y = np.repeat(np.arange(10), 50)
    small = labelled(y, 0.01, 0)
    assert sorted(y[small]) == list(range(10))
    tenth = labelled(y, 0.1, 0)
    assert np.bincount(y[tenth]).tolist() == [5] * 10
    assert len(labelled(y, 1.0, 0)) == len(y)
