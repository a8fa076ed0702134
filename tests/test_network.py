"""mnist_core/network.py: layer counts against a hand count, filters, feature maps, and Captum attributions of a
model that only looks at one pixel.

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_network.py
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from mnist_core.nets import make_net
from mnist_core.network import METHODS, attributions, feature_maps, first_conv_filters, layer_table
from mnist_core.predict import predict_proba

PIXEL = (10, 17)  # (row, column) the one-pixel model looks at


class OnePixel(nn.Module):
    """Logit 0 = 3 x the pixel at PIXEL, logit 1 = -3 x it: nothing else in the image matters."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Linear(1, 2)
        with torch.no_grad():
            self.scale.weight.copy_(torch.tensor([[3.0], [-3.0]]))
            self.scale.bias.zero_()

    def forward(self, x):
        return self.scale(x[:, :, PIXEL[0], PIXEL[1]])


def test_notebook_net_layers_against_a_hand_count():
    rows = {r["layer"]: r for r in layer_table(make_net("notebook"))}
    assert [(r["output shape"], r["parameters"], r["mult-adds"]) for r in rows.values()] == [
        ((6, 24, 24), 6 * 25 + 6, 6 * 24 * 24 * 25),  # conv1: 6 filters of 5x5, one per output pixel
        ((12, 8, 8), 12 * 6 * 25 + 12, 12 * 8 * 8 * 6 * 25),  # conv2
        ((120,), 192 * 120 + 120, 192 * 120), ((60,), 120 * 60 + 60, 120 * 60), ((10,), 60 * 10 + 10, 60 * 10)]
    assert sum(r["parameters"] for r in rows.values()) == 32998
    assert sum(r["mult-adds"] for r in rows.values()) == 232440


def test_best_net_table_counts_every_parameter():
    net = make_net("best")
    rows = layer_table(net)
    assert sum(r["parameters"] for r in rows) == sum(p.numel() for p in net.parameters())
    assert rows[-1]["output shape"] == (10,)
    assert [r["type"] for r in rows[:4]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]


def test_filters_and_feature_maps_of_every_conv_layer():
    torch.manual_seed(0)
    net = make_net("best")
    assert first_conv_filters(net).shape == (16, 5, 5)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[8:20, 12:16] = 255
    maps = feature_maps(net, image, 0.1307, 0.3081)
    assert [(name, m.shape) for name, m in maps] == [("features.0.0", (16, 24, 24)), ("features.1.0", (32, 12, 12)),
                                                     ("features.2.0", (64, 4, 4))]
    assert not net.features[0][0]._forward_hooks  # the hooks were on a private copy
    before = predict_proba(net, torch.as_tensor(image)[None], 0.1307, 0.3081)
    attributions(net, image, 0.1307, 0.3081, target=3)
    after = predict_proba(net, torch.as_tensor(image)[None], 0.1307, 0.3081)
    assert torch.equal(before, after) and all(p.grad is None for p in net.parameters())  # the shared model untouched


@pytest.mark.parametrize("method", METHODS)
def test_attribution_of_a_one_pixel_model_is_on_that_pixel(method):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    image[PIXEL] = 250
    attr = attributions(OnePixel(), image, 0.0, 1.0, target=0, methods=(method,))[method]
    assert attr.shape == (28, 28)
    r, c = PIXEL
    near = np.abs(attr[r - 3:r + 4, c - 3:c + 4]).sum()  # Occlusion's 4x4 windows reach 3 pixels around it
    assert near == pytest.approx(np.abs(attr).sum(), rel=1e-6) and near > 0
    if method != "Occlusion":  # gradients see the one pixel alone; occlusion windows also cover its neighbours
        assert np.unravel_index(np.abs(attr).argmax(), attr.shape) == PIXEL
        assert np.abs(attr[PIXEL]) == pytest.approx(np.abs(attr).sum(), rel=1e-6)
    if method == "Integrated Gradients":  # completeness: the logit's change from the blank image to this one
        assert attr.sum() == pytest.approx(3.0 * 250 / 255, rel=1e-3)


def test_bad_image_and_method_are_refused():
    with pytest.raises(ValueError, match="expected one 28x28 image"):
        attributions(OnePixel(), np.zeros((27, 28), np.uint8), 0.0, 1.0, target=0)
    with pytest.raises(ValueError, match="unknown attribution method"):
        attributions(OnePixel(), np.zeros((28, 28), np.uint8), 0.0, 1.0, target=0, methods=("LIME",))
