"""The convolution chapter's parts: digits moved on a canvas, the CNNs, and their saliency."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pucklab.seqmodels.basics.conv import cnn, feature_maps, first_layer_weights, parameters, saliency
from pucklab.seqmodels.basics.data import on_canvas, ring
from pucklab.seqmodels.basics.nets import mlp
from pucklab.seqmodels.lab.convolution import on_digit


def test_ring_holds_every_position_at_that_distance_once():
    assert ring(0, 4) == [(4, 4)]
    for shift in (1, 2, 4):
        positions = ring(shift, 4)
        assert len(positions) == len(set(positions)) == 8 * shift
        assert all(max(abs(r - 4), abs(c - 4)) == shift for r, c in positions)


def test_on_canvas_pastes_each_digit_at_each_offset_and_nothing_else():
    rng = np.random.default_rng(0)
    x = rng.random((3, 64))
    out = on_canvas(x, 16, [(0, 0), (8, 5)]).reshape(2, 3, 16, 16)
    assert np.array_equal(out[0, :, :8, :8].reshape(3, 64), x)
    assert np.array_equal(out[1, :, 8:, 5:13].reshape(3, 64), x)
    assert out[0].sum() == pytest.approx(x.sum()) and out[1].sum() == pytest.approx(x.sum())
    with pytest.raises(ValueError, match="off a 16x16 canvas"):
        on_canvas(x, 16, [(9, 0)])


def test_cnn_counts_its_weights_as_the_shapes_say():
    dense, pooled = cnn(16, 10), cnn(16, 10, head="global")
    convs = (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32)
    assert parameters(dense) == convs + 32 * 4 * 4 * 10 + 10
    assert parameters(pooled) == convs + 32 * 10 + 10
    assert first_layer_weights(dense) == 16 * 9
    assert first_layer_weights(mlp([256, 128, 10])) == 256 * 128
    x = torch.rand(5, 256)
    assert dense(x).shape == pooled(x).shape == (5, 10)
    assert feature_maps(dense, x).shape == (5, 16, 16, 16)
    with pytest.raises(ValueError, match="head must be one of"):
        cnn(16, 10, head="mean")


def test_a_global_max_head_ignores_where_an_object_is_on_a_blank_canvas():
    """Moved by 8, a multiple of the two poolings' stride of 4, far enough from the edges that
    no padding is in reach, a digit's feature maps move with it, and their maxima -- all the
    global head sees -- stay the same."""
    net = cnn(32, 10, head="global", seed=1)
    x = on_canvas(np.random.default_rng(1).random((4, 64)), 32, [(8, 8), (16, 8), (8, 16)])
    logits = net(torch.as_tensor(x, dtype=torch.float32)).detach().reshape(3, 4, 10)
    torch.testing.assert_close(logits[1], logits[0])
    torch.testing.assert_close(logits[2], logits[0])


def test_saliency_of_logistic_regression_is_its_class_template():
    """d logit_k / d x = W_k for a linear model: the saliency map is |W| of the true class."""
    model = mlp([256, 10], seed=2)
    x, y = torch.rand(6, 256), torch.arange(6)
    torch.testing.assert_close(saliency(model, x, y), model[0].weight.detach()[y].abs())
    assert model.training  # left in the mode it was in


def test_on_digit_is_the_share_of_the_map_inside_each_digits_box():
    maps = torch.ones(2, 256)  # uniform: the 8x8 box holds 64 of 256 pixels
    assert on_digit(maps, [(4, 4)]) == pytest.approx(0.25)
    boxed = torch.as_tensor(on_canvas(np.ones((1, 64)), 16, [(0, 0), (8, 8)]))
    assert on_digit(boxed, [(0, 0), (8, 8)]) == pytest.approx(1.0)
