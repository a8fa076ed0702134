"""Tests for mnist_core.draw: canvas drawings -> MNIST-style 28x28 digits -> predictions.

Real MNIST test digits are rendered the way the canvas returns a drawing (upscaled 28 -> 280 with smoothing,
white ink on black, RGBA with alpha 255, sometimes small and off-centre) and must come back close to the
originals and be read right by a notebook net trained here for one epoch on 20,000 real MNIST digits.

    python -m pytest -q tests/test_draw.py      # needs MNIST IDX files: env MNIST_DATA_DIR or ../shared/data
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core.config import TrainConfig
from mnist_core.data import Dataset, normalization
from mnist_core.draw import DrawingError, ink_from_canvas, predict_drawing, preprocess_drawing
from mnist_core.trainer import train

CANVAS = 280
MEAN, STD = normalization(True)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Training and predicting below: one intra-op thread (tests/conftest.py says why)."""


@pytest.fixture(scope="module")
def mnist(mnist_full) -> Dataset:
    return mnist_full


@pytest.fixture(scope="module")
def model(mnist: Dataset) -> torch.nn.Module:
    """The notebook net after one epoch on 20,000 real training digits (about 94% test accuracy)."""
    subset = Dataset("mnist", mnist.train_images[:20000], mnist.train_labels[:20000], mnist.test_images[:500],
                     mnist.test_labels[:500], mnist.class_names)
    config = TrainConfig(data="mnist", epochs=1, device="cpu", seed=0)
    final = [e for e in train(config, subset) if e["type"] in ("finished", "failed")][-1]
    assert final["type"] == "finished", final
    return final["net"]


def render(digit: np.ndarray, size: int = 220, top: int = 30, left: int = 30) -> np.ndarray:
    """A (28, 28) digit as the canvas would return it: (280, 280, 4) uint8, `size` px square at (top, left)."""
    up = np.asarray(Image.fromarray(digit).resize((size, size), Image.BICUBIC))
    grey = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    grey[top:top + size, left:left + size] = up
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    mass = image.astype(np.float64).sum()
    return float((ys * image).sum() / mass), float((xs * image).sum() / mass)


def ink_box(image: np.ndarray, level: int = 64) -> tuple[int, int]:
    """(height, width) of the pixels above `level`."""
    rows, cols = np.flatnonzero((image > level).any(axis=1)), np.flatnonzero((image > level).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# (size, top, left): full canvas, centred; small in the top right corner; tiny in the bottom left corner.
PLACEMENTS = [(220, 30, 30), (90, 10, 180), (40, 230, 5)]


@pytest.mark.parametrize("size, top, left", PLACEMENTS)
def test_rendered_mnist_digits_come_back_close_to_the_originals(mnist, size, top, left):
    originals = mnist.test_images[:200].numpy()
    processed = [preprocess_drawing(render(x, size, top, left)) for x in originals]
    corr = np.array([correlation(p, x) for p, x in zip(processed, originals, strict=True)])
    assert all(p.shape == (28, 28) and p.dtype == np.uint8 for p in processed)
    assert np.median(corr) > 0.95, np.median(corr)
    assert (corr > 0.8).mean() > 0.95, np.sort(corr)[:10]


def test_rendered_digits_are_predicted_right(mnist, model):
    rng = np.random.default_rng(7)
    images, labels = mnist.test_images[1000:1100].numpy(), mnist.test_labels[1000:1100].numpy()
    right = 0
    for image, label in zip(images, labels, strict=True):
        size = int(rng.integers(60, 260))
        top, left = (int(v) for v in rng.integers(0, CANVAS - size + 1, size=2))
        result = predict_drawing(model, render(image, size, top, left), MEAN, STD)
        right += result.predicted == label
    assert right >= 90, f"{right}/100 rendered digits predicted right"


def test_a_vertical_stroke_is_read_as_a_one(model):
    canvas = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    canvas[40:240, 130:150] = 255  # a 20 px pen drawn straight down
    result = predict_drawing(model, canvas, MEAN, STD)
    assert result.predicted == 1
    assert result.probs.shape == (10,) and result.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert ink_box(result.image) == (20, 2)  # tall side fitted to MNIST's 20 px box, aspect ratio kept


@pytest.mark.parametrize("canvas", [
    np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8),  # nothing drawn, transparent
    np.dstack([np.zeros((CANVAS, CANVAS, 3), np.uint8), np.full((CANVAS, CANVAS), 255, np.uint8)]),  # opaque black
    np.full((CANVAS, CANVAS, 4), [255, 255, 255, 0], dtype=np.uint8),  # white but fully transparent
])
def test_an_empty_canvas_gives_no_digit_and_no_prediction(canvas):
    assert preprocess_drawing(canvas) is None
    assert predict_drawing(torch.nn.Identity(), canvas, MEAN, STD) is None  # the model is never called


@pytest.mark.parametrize("top, left, size", [(5, 5, 30), (200, 220, 50), (100, 10, 12), (0, 0, 280)])
def test_off_centre_and_tiny_drawings_are_centred_and_scaled(top, left, size):
    canvas = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    canvas[top:top + size, left:left + size // 2] = 255  # a solid block, twice as tall as wide
    image = preprocess_drawing(canvas)
    cy, cx = centre_of_mass(image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5, (cy, cx)
    assert ink_box(image) == (20, 10)


def test_drawings_are_read_as_ink_on_black_in_every_layout():
    grey = np.zeros((100, 60), dtype=np.uint8)
    grey[10:90, 20:40] = 200
    rgb = np.dstack([grey] * 3)
    rgba = np.dstack([rgb, np.full_like(grey, 255)])
    half_alpha = np.dstack([np.full_like(rgb, 255), grey])  # white ink whose alpha carries the stroke
    for image in (grey, rgb, rgba, half_alpha):
        np.testing.assert_allclose(ink_from_canvas(image), grey.astype(np.float32), atol=0.01)
    np.testing.assert_array_equal(preprocess_drawing(grey), preprocess_drawing(half_alpha))
    assert preprocess_drawing(grey).max() == 255  # faint ink is stretched to MNIST's saturated strokes


@pytest.mark.parametrize("bad, message", [
    (np.zeros((28, 28), dtype=np.float32), "expected uint8"),
    (np.zeros((28, 28, 2), dtype=np.uint8), "got shape (28, 28, 2)"),
    (np.zeros((0, 28, 4), dtype=np.uint8), "got shape (0, 28, 4)"),
    (np.zeros(28, dtype=np.uint8), "got shape (28,)"),
])
def test_bad_images_are_refused_with_a_clear_message(bad, message):
    with pytest.raises(DrawingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        preprocess_drawing(bad)
