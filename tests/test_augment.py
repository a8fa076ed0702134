"""Training-time augmentation (mnist_core.augment): shifts against a slice-by-slice oracle, the affine mode's
bounds, background and identity, and the trainer's weight average (TrainConfig.ema).

    python -m pytest -q tests/test_augment.py
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from mnist_core.augment import affine_matrices, augment, random_affine, random_shift
from mnist_core.config import TrainConfig
from mnist_core.data import normalization
from mnist_core.nets import make_net
from mnist_core.predict import predict_proba
from mnist_core.trainer import make_average, train


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Some tests here train: one intra-op thread (tests/conftest.py says why)."""


def test_random_shift_moves_each_image_by_its_own_offset():
    x = torch.rand(64, 2, 28, 28)
    shifted = random_shift(x, fill=-1.0, max_shift=2, generator=torch.Generator().manual_seed(7))
    dx, dy = torch.randint(0, 5, (2, 64), generator=torch.Generator().manual_seed(7)).tolist()
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    expected = torch.stack([padded[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28] for i in range(64)])
    assert torch.equal(shifted, expected)
    assert len({(a, b) for a, b in zip(dx, dy, strict=True)}) > 10  # offsets differ between images
    unmoved = [i for i in range(64) if (dx[i], dy[i]) == (2, 2)]
    assert all(torch.equal(shifted[i], x[i]) for i in unmoved)


def test_affine_matrices_stay_within_their_bounds_and_differ_per_image():
    theta = affine_matrices(1000, 28, torch.Generator().manual_seed(0), max_rotation=10, max_scale=0.1, max_shift=2)
    linear = theta[:, :, :2]  # (B, 2, 2): rotation / scale, the inverse map
    scale = 1 / linear.det().sqrt()
    angle = torch.atan2(linear[:, 1, 0], linear[:, 0, 0])
    assert scale.min() >= 0.9 - 1e-6 and scale.max() <= 1.1 + 1e-6 and scale.std() > 0.03
    assert angle.abs().max() <= math.radians(10) + 1e-6 and angle.std() > math.radians(3)
    shift_pixels = theta[:, :, 2] * 28 / 2
    assert shift_pixels.abs().max() <= 2 + 1e-5 and shift_pixels.std() > 0.5
    torch.testing.assert_close(linear @ linear.transpose(1, 2),  # a rotation times a scale: orthogonal rows
                               torch.eye(2).expand(1000, 2, 2) / scale[:, None, None] ** 2)


def test_affine_with_no_rotation_scale_or_shift_is_the_identity(monkeypatch):
    x = torch.rand(16, 1, 28, 28)
    identity = affine_matrices(16, 28, max_rotation=0, max_scale=0, max_shift=0)
    assert torch.equal(identity, torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(16, 2, 3))
    monkeypatch.setattr("mnist_core.augment.affine_matrices", lambda b, size, generator: identity)
    torch.testing.assert_close(random_affine(x, fill=-0.4), x, rtol=0, atol=1e-5)


def test_affine_keeps_the_background_and_moves_a_digit_only_a_little():
    fill = -0.4242  # MNIST's background after normalisation
    blank = torch.full((8, 1, 28, 28), fill)
    torch.testing.assert_close(random_affine(blank, fill), blank, rtol=0, atol=1e-6)  # no grey border moves in
    digit = blank.clone()
    digit[:, :, 10:18, 12:16] = 2.8  # a bar near the middle
    moved = random_affine(digit, fill, generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(moved, digit)  # something moved
    ink, moved_ink = digit - fill, moved - fill
    ratio = moved_ink.sum((1, 2, 3)) / ink.sum((1, 2, 3))  # area scales with scale ** 2: 0.81 .. 1.21
    assert ratio.min() > 0.78 and ratio.max() < 1.24
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = lambda t: torch.stack([(t * ys).sum((1, 2, 3)), (t * xs).sum((1, 2, 3))], 1) / t.sum((1, 2, 3))[:, None]
    drift = (centre(moved_ink) - centre(ink)).norm(dim=1)  # a 2-pixel shift each way, rotation about the centre
    assert drift.max() < 2 * math.sqrt(2) + 0.5


def test_augment_dispatches_by_mode_and_none_is_untouched():
    x = torch.rand(4, 1, 28, 28)
    assert augment(x, "none", fill=0.0) is x
    for mode, function in (("shift", random_shift), ("affine", random_affine)):
        expected = function(x, 0.0, generator=torch.Generator().manual_seed(1))
        assert torch.equal(augment(x, mode, 0.0, generator=torch.Generator().manual_seed(1)), expected)


def test_the_weight_average_follows_its_warmed_up_decay_and_averages_batchnorm_statistics():
    torch.manual_seed(0)
    net = make_net("best")
    average = make_average(net, decay=0.9)
    states = []
    for _ in range(4):  # the weights after each step (any change will do)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
            net.features[0][1].running_mean.add_(1.0)
        average.update_parameters(net)
        states.append({k: v.clone() for k, v in net.state_dict().items()})
    expected = dict(states[0])  # the first update copies
    for t, state in enumerate(states[1:], start=1):
        kept = min(0.9, (1 + t) / (10 + t))
        expected = {k: kept * expected[k] + (1 - kept) * v if v.is_floating_point() else v for k, v in state.items()}
    for key, value in average.module.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=1e-5, atol=1e-5, msg=key)
    assert make_average(net, 0.0) is None


def test_training_with_a_weight_average_scores_and_returns_the_average(mnist_subset):
    config = TrainConfig(data="mnist", epochs=1, device="cpu", architecture="best", batch_size=128)
    plain = [e for e in train(config, mnist_subset) if e["type"] == "finished"][0]
    averaged = [e for e in train(dataclasses.replace(config, ema=0.99), mnist_subset) if e["type"] == "finished"][0]
    raw = {k: v for k, v in plain["net"].state_dict().items() if v.is_floating_point()}
    smooth = {k: v for k, v in averaged["net"].state_dict().items() if v.is_floating_point()}
    assert any(not torch.allclose(raw[k], smooth[k]) for k in raw)  # the average, not the last step's weights
    mean, std = normalization(True)
    torch.testing.assert_close(averaged["test_probs"], predict_proba(averaged["net"], mnist_subset.test_images,
                                                                     mean, std), rtol=0, atol=1e-6)
    assert averaged["test_accuracy"] > 0.8 and abs(averaged["test_accuracy"] - plain["test_accuracy"]) < 0.1
