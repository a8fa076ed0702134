"""The one prediction primitive, `predict_proba`, and `evaluate` built on it.

Grids, histograms, the confusion matrix, the review queue and the canvas all read probabilities from here.
torch is imported where a net runs: `evaluate` works on arrays, and the pages that only show a run's stored
probabilities import this module without torch.
"""
from __future__ import annotations

import copy
import weakref
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.data import to_model_input

if TYPE_CHECKING:
    import torch
    import torch.nn as nn


def predict_proba(net: nn.Module, images: torch.Tensor, mean: float, std: float,
                  batch_size: int = 512, device: torch.device | str | None = None) -> torch.Tensor:
    """(N, 28, 28) uint8 images -> (N, C) float32 class probabilities on the CPU; rows sum to 1.

    Batches of 512 keep a conv layer's activations near the CPU caches: 10,000 digits through the `best` net
    took 0.6 s on 2 cores against 0.7 s in batches of 2048, before BatchNorm folding (benchmarks/inference.py).
    """
    return _predict(net, images, mean, std, batch_size, device, keep_features=False)[0]


def predict_with_features(net: nn.Module, images: torch.Tensor, mean: float, std: float,
                          batch_size: int = 512, device: torch.device | str | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities (N, C) float32, penultimate-layer features (N, D) float16) in one pass: the features are
    the input of the net's last nn.Linear (the embeddings the data review's finders and map use)."""
    return _predict(net, images, mean, std, batch_size, device, keep_features=True)


def _predict(net, images, mean, std, batch_size, device, keep_features: bool):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    device = torch.device(device) if device is not None else next(net.parameters()).device
    runnable = _folded(net) if any(isinstance(m, nn.BatchNorm2d) for m in net.modules()) else net
    was_training = net.training
    runnable.eval()
    out, features, hook = [], [], None
    if keep_features:
        last = [m for m in runnable.modules() if isinstance(m, nn.Linear)][-1]
        hook = last.register_forward_pre_hook(lambda module, args: features.append(args[0].half().cpu()))
    try:
        with torch.inference_mode():
            for start in range(0, max(len(images), 1), batch_size):  # no images: one empty batch gives (0, C)
                x = to_model_input(images[start:start + batch_size].to(device), mean, std)
                out.append(F.softmax(runnable(x).float(), dim=1).cpu())
    finally:
        if hook is not None:
            hook.remove()
    net.train(was_training)
    return torch.cat(out), (torch.cat(features) if keep_features else None)


_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # net -> (tensor versions, folded copy)


def _folded(net: nn.Module) -> nn.Module:
    """fold_batchnorm(net), made again only when a parameter or buffer has changed in place since (an optimizer
    step, new running statistics, load_state_dict): a copy costs 4 ms, a whole drawing's prediction 2 ms."""
    versions = tuple(t._version for t in (*net.parameters(), *net.buffers()))
    cached = _FOLDED.get(net)
    if cached is None or cached[0] != versions:
        cached = _FOLDED[net] = (versions, fold_batchnorm(net))
    return cached[1]


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """An eval-mode copy of `net` in which each BatchNorm2d that follows a Conv2d in an nn.Sequential is folded
    into that convolution's weight and bias; `net` is left as it was. The same outputs to float rounding:
    BatchNorm was a quarter of the `best` net's inference time."""
    import torch.nn as nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(net).eval()
    for block in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(block) - 1):
            conv, norm = block[i], block[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats:
                block[i], block[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()
    return folded


def evaluate(probs: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> dict:
    """Accuracy, per-class accuracy, confusion matrix (rows true, columns predicted), mean log loss."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(per_class_total > 0, np.diag(confusion) / per_class_total, np.nan)
    p_given = probs[np.arange(len(labels)), labels]
    return {
        "accuracy": float((predicted == labels).mean()) if len(labels) else float("nan"),
        "per_class_accuracy": per_class.tolist(),
        "confusion": confusion,
        "loss": float(-np.log(np.clip(p_given, 1e-12, 1.0)).mean()) if len(labels) else float("nan"),
    }
