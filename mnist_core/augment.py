"""Training-time augmentation of a normalised batch: random shifts, or random rotations, scalings and shifts.

    x = augment(x, "affine", fill=-mean / std, generator=g)  # (B, C, H, W) -> (B, C, H, W)

`fill` is the background's value after normalisation, so that what moves in from outside the image is
background, not a grey border. The modes are TrainConfig.augment's values (mnist_core.config.AUGMENTATIONS).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_SHIFT = 2  # pixels, both modes
MAX_ROTATION = 10.0  # degrees, "affine"
MAX_SCALE = 0.1  # relative, "affine": 0.9x to 1.1x


def random_shift(x: torch.Tensor, fill: float, max_shift: int = MAX_SHIFT,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate each (B, C, H, W) image by up to max_shift whole pixels, filling with `fill`."""
    b, c, h, w = x.shape
    pad = F.pad(x, (max_shift,) * 4, value=fill)  # (B, C, H + 2s, W + 2s)
    windows = pad.unfold(2, h, 1).unfold(3, w, 1)  # (B, C, 2s + 1, 2s + 1, H, W), a view
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator).to(x.device)
    return windows[torch.arange(b, device=x.device), :, dy, dx]  # (B, C, H, W): one gather, not B slices


def affine_matrices(b: int, size: int, generator: torch.Generator | None = None, max_rotation: float = MAX_ROTATION,
                    max_scale: float = MAX_SCALE, max_shift: float = MAX_SHIFT) -> torch.Tensor:
    """(B, 2, 3) matrices for F.affine_grid: each maps an output pixel to where it samples the input, in
    [-1, 1] coordinates; rotation, scale and shift are drawn uniformly within their bounds, one per image."""
    u = torch.rand(4, b, generator=generator) * 2 - 1  # uniform in [-1, 1)
    angle = u[0] * math.radians(max_rotation)
    scale = 1 + u[1] * max_scale
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale  # sampling the input at 1/scale zooms by scale
    shift = u[2:] * (2 * max_shift / size)  # pixels -> [-1, 1] units
    return torch.stack([torch.stack([cos, -sin, shift[0]], 1), torch.stack([sin, cos, shift[1]], 1)], 1)


def random_affine(x: torch.Tensor, fill: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate (up to MAX_ROTATION degrees), scale (up to MAX_SCALE) and shift (up to MAX_SHIFT pixels) each
    (B, C, H, W) image by its own random amounts, bilinearly; the corners that move in are `fill`."""
    b, c, h, w = x.shape
    theta = affine_matrices(b, w, generator).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)  # (B, H, W, 2)
    # grid_sample pads with zeros: sample x - fill, then add it back, so that the padding is the background
    return F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill


def augment(x: torch.Tensor, mode: str, fill: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The batch augmented by `mode` ("none", "shift" or "affine")."""
    if mode == "shift":
        return random_shift(x, fill, generator=generator)
    if mode == "affine":
        return random_affine(x, fill, generator=generator)
    return x
