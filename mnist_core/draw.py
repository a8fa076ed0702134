"""Canvas drawings -> MNIST-style 28x28 digits, made the way MNIST's own digits were made, and predicted.

MNIST (LeCun et al.) scaled every digit to fit a 20x20 box, keeping its aspect ratio (anti-aliasing gives the
grey edges), then placed it in a 28x28 field with its centre of mass at the centre. A drawing goes through the
same steps so that the network sees the kind of image it was trained on:

    RGBA (H, W, 4) -> ink (H, W) -> crop to the ink -> fit in 20x20 -> centre of mass at (14, 14) -> (28, 28) uint8

    python -c "import numpy as np; from mnist_core.draw import preprocess_drawing as p; \
a = np.zeros((280, 280, 4), np.uint8); a[40:240, 130:150] = 255; print(p(a)[4:24, 12:16])"
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from mnist_core.data import IMAGE_SIZE
from mnist_core.predict import predict_proba

BOX = 20  # MNIST's size-normalisation box
CENTRE = 14.0  # mean centre of mass (row, column) of the 60k MNIST training digits: (14.00, 14.01)
# Grey level (of 255) from which a pixel counts as ink when cropping. MNIST's 20x20 box bounded the binary strokes,
# before anti-aliasing greyed their edges; a quarter grey finds that edge (round trips of real digits agree best).
INK_THRESHOLD = 64


class DrawingError(ValueError):
    """The image handed in is not a drawing this module can read; the message says what was expected."""


@dataclass
class DrawnDigit:
    """What the network saw and what it said: image (28, 28) uint8, probs (C,) float32."""

    image: np.ndarray
    probs: np.ndarray

    @property
    def predicted(self) -> int:
        return int(self.probs.argmax())

    @property
    def confidence(self) -> float:
        return float(self.probs.max())


def ink_from_canvas(image: np.ndarray) -> np.ndarray:
    """(H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> (H, W) float32 ink in [0, 255].

    RGBA is composited onto black (ink = luminance * alpha), so a transparent background and an opaque black
    one both read as no ink, whichever way the canvas exports its background.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise DrawingError(f"expected uint8 pixels (0-255), got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))) or min(image.shape[:2]) == 0:
        raise DrawingError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if image.ndim == 2:
        return image.astype(np.float32)
    pixels = image.astype(np.float32)
    # ITU-R 601 luminance, elementwise: a BLAS matmul would wake numpy's thread pool next to torch's
    ink = 0.299 * pixels[..., 0] + 0.587 * pixels[..., 1] + 0.114 * pixels[..., 2]
    if image.shape[2] == 4:
        ink *= pixels[..., 3] / 255.0
    return ink


def preprocess_drawing(image: np.ndarray) -> np.ndarray | None:
    """A drawing (white ink on black, any size) -> (28, 28) uint8 MNIST-style digit; None when there is no ink."""
    ink = ink_from_canvas(image)
    mask = ink > INK_THRESHOLD
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    digit = fit_box(crop, BOX)
    digit *= 255.0 / digit.max()  # MNIST strokes are saturated (median max 254); thin pens would read faint
    return place_by_centre_of_mass(digit).round().clip(0, 255).astype(np.uint8)


def fit_box(crop: np.ndarray, box: int) -> np.ndarray:
    """Scale (h, w) so its longer side is `box` pixels, keeping the aspect ratio; anti-aliased, float32."""
    h, w = crop.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    # Lanczos low-pass filters when shrinking (anti-aliasing) and interpolates smoothly when enlarging.
    scaled = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, Image.LANCZOS), dtype=np.float32)
    return scaled.clip(0, None)  # Lanczos overshoots slightly below zero next to strokes


def place_by_centre_of_mass(digit: np.ndarray) -> np.ndarray:
    """Paste (h, w) <= 20x20 into a 28x28 field so its centre of mass lands on CENTRE (whole-pixel shifts, as
    MNIST's centre-of-mass spread of 0.29 px shows), but never past an edge: no ink is lost."""
    h, w = digit.shape
    mass = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(h)) / mass
    cx = (digit.sum(axis=0) @ np.arange(w)) / mass
    top = int(np.clip(round(CENTRE - cy), 0, IMAGE_SIZE - h))
    left = int(np.clip(round(CENTRE - cx), 0, IMAGE_SIZE - w))
    field = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    field[top:top + h, left:left + w] = digit
    return field


def predict_drawing(net: torch.nn.Module, image: np.ndarray | None, mean: float, std: float) -> DrawnDigit | None:
    """Preprocess a drawing and predict it with predict_proba; None when there is nothing to predict: no image
    yet (the canvas sends none before the first stroke) or no ink."""
    digit = preprocess_drawing(image) if image is not None else None
    if digit is None:
        return None
    probs = predict_proba(net, torch.from_numpy(digit)[None], mean, std)[0]
    return DrawnDigit(digit, probs.numpy())
