"""The networks, by name. `notebook` is the teaching notebook's CNN, layer for layer.

Every net takes (B, 1, 28, 28) float input and returns (B, num_classes) logits;
probabilities are softmax(logits) (see mnist_core.predict).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


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


MODELS: dict[str, type[nn.Module]] = {"notebook": NotebookNet}


def make_net(name: str, num_classes: int = 10) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    if not 2 <= num_classes <= 100:
        raise ValueError(f"num_classes must be between 2 and 100, got {num_classes}")
    return MODELS[name](num_classes=num_classes)
