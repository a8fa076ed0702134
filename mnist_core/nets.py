"""The networks, by name. `notebook` is the teaching notebook's CNN, layer for layer; `fast` and `best` are the
nets of the recipes of the same names (see mnist_core.config.RECIPES and benchmarks/README.md).

Every net takes (B, 1, 28, 28) float input and returns (B, num_classes) logits, num_classes 2..100;
probabilities are softmax(logits) (see mnist_core.predict).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_core.config import ARCHITECTURE_NAMES


class NotebookNet(nn.Module):
    """Conv(1->6, k5), ReLU, MaxPool 2; Conv(6->12, k5), ReLU, MaxPool 2; FC 192->120->60->classes."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=12, kernel_size=5)
        self.fc1 = nn.Linear(in_features=12 * 4 * 4, out_features=120)
        self.fc2 = nn.Linear(in_features=120, out_features=60)
        self.out = nn.Linear(in_features=60, out_features=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = F.max_pool2d(F.relu(self.conv1(x)), kernel_size=2, stride=2)  # (B, 6, 12, 12)
        t = F.max_pool2d(F.relu(self.conv2(t)), kernel_size=2, stride=2)  # (B, 12, 4, 4)
        t = t.reshape(-1, 12 * 4 * 4)
        t = F.relu(self.fc1(t))
        t = F.relu(self.fc2(t))
        return self.out(t)


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, padding: int = 0) -> list[nn.Module]:
    """Conv (no bias: BatchNorm adds one), BatchNorm, ReLU: (B, I, H, W) -> (B, O, H', W')."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def conv_block(in_channels: int, out_channels: int, kernel_size: int, padding: int = 0) -> nn.Sequential:
    """conv_bn_relu, then a 2x2 max-pool: (B, I, H, W) -> (B, O, H'/2, W'/2)."""
    return nn.Sequential(*conv_bn_relu(in_channels, out_channels, kernel_size, padding), nn.MaxPool2d(2))


class FastNet(nn.Module):
    """The `fast` recipe's net: the notebook's layout with 8/16 channels (oneDNN computes in blocks of 8 channels
    and pads 6/12 up to them, so these cost the same) and one 128-unit hidden layer: (B, 1, 28, 28) -> (B, C)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (B, 8, 12, 12)
            nn.Conv2d(8, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2))  # (B, 16, 4, 4)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 128), nn.ReLU(inplace=True),
                                        nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BestNet(nn.Module):
    """The `best` recipe's net until 2026-12, the `fast` recipe's since 2026-12-03: three conv blocks with
    BatchNorm (16, 32, 64 channels) and a linear head, small enough to score the 10,000 test digits in under a
    second on 2 cores: (B, 1, 28, 28) -> (B, C)."""

    widths = (16, 32, 64)  # the three blocks' output channels
    deep = False  # True: one more 3x3 conv (same width, BatchNorm, ReLU) before the second and third blocks

    def __init__(self, num_classes: int = 10):
        super().__init__()
        a, b, c = self.widths
        extra = (lambda w: conv_bn_relu(w, w, 3, padding=1)) if self.deep else (lambda w: [])
        self.features = nn.Sequential(
            conv_block(1, a, 5),  # (B, a, 12, 12)
            *extra(a), conv_block(a, b, 3, padding=1),  # (B, b, 6, 6)
            *extra(b), conv_block(b, c, 3))  # (B, c, 2, 2)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c * 2 * 2, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class WideNet(BestNet):
    """The `best` recipe's net since 2026-12: BestNet's three blocks with twice the channels, which the rotations
    and scalings of the "affine" augmentation need to pay off: (B, 1, 28, 28) -> (B, C)."""

    widths = (32, 64, 128)


class DeepNet(WideNet):
    """The `best` recipe's net since 2026-12-03: WideNet with a 3x3 conv at 32 channels (12x12) and one at 64
    (6x6) before its second and third blocks, 1.4x its arithmetic; it reaches in 16 epochs what WideNet did not
    in 28: (B, 1, 28, 28) -> (B, C)."""

    deep = True


ARCHITECTURES: dict[str, type[nn.Module]] = dict(zip(ARCHITECTURE_NAMES,
                                                     (NotebookNet, FastNet, BestNet, WideNet, DeepNet), strict=True))


def make_net(name: str, num_classes: int = 10) -> nn.Module:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; allowed: {', '.join(ARCHITECTURES)}")
    if not 2 <= num_classes <= 100:
        raise ValueError(f"num_classes must be between 2 and 100, got {num_classes}")
    # NHWC weights make every conv output, pool and BatchNorm after them NHWC (a 1-channel image is both layouts):
    # oneDNN reorders nothing between layers, and torch's NHWC max-pool is vectorised over channels where its
    # NCHW one is not. On 2 CPU cores a training step of the `best` net takes 30 ms instead of 45 ms, the notebook
    # net's step is 1.1-1.35x quicker, and the notebook CLI's 2 epochs ran 1.09x faster (benchmarks/README.md).
    return ARCHITECTURES[name](num_classes=num_classes).to(memory_format=torch.channels_last)
