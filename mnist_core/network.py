"""Inside the network: its layers (output shape, parameters, multiply-adds), the first convolution's filters, the
feature maps of every convolution for one image, and Captum attributions (why the model decided).

Every function works on a private copy of the model (copy.deepcopy, ~4 ms): the dashboard shares one cached
model between sessions, and hooks or gradients on it would leak into another session's predictions.

    from mnist_core.network import layer_table, feature_maps, attributions
    python -m pytest -q tests/test_network.py
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn

from mnist_core.data import to_model_input

METHODS = ("Integrated Gradients", "Occlusion", "Saliency")


def _private(net: nn.Module) -> nn.Module:
    net = copy.deepcopy(net).eval().float().to("cpu", memory_format=torch.contiguous_format)
    for p in net.parameters():
        p.requires_grad_(False)  # gradients only with respect to the image
    return net


def _mult_adds(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds per image: a convolution's output elements times its window (in channels / groups x k x k),
    a linear layer's in x out. Other layers (ReLU, pooling, BatchNorm) are counted as 0, as torchinfo does."""
    per_image = output[0].numel()
    if isinstance(module, nn.Conv2d):
        return per_image * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def layer_table(net: nn.Module, image_shape: tuple[int, int] = (28, 28)) -> list[dict]:
    """One row per leaf layer in the order it runs: name, type, output shape (per image), parameters, mult-adds."""
    net = _private(net)
    rows, hooks = [], []
    for name, module in net.named_modules():
        if next(module.children(), None) is None and name:
            def hook(mod, _inputs, output, name=name):
                rows.append({"layer": name, "type": type(mod).__name__, "output shape": tuple(output.shape[1:]),
                             "parameters": sum(p.numel() for p in mod.parameters()),
                             "mult-adds": _mult_adds(mod, output)})
            hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        net(torch.zeros(1, 1, *image_shape))
    for h in hooks:
        h.remove()
    return rows


def first_conv_filters(net: nn.Module) -> np.ndarray:
    """The first Conv2d's weights of input channel 0: (out channels, k, k) float32."""
    conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    return conv.weight.detach().float().cpu()[:, 0].numpy()


def feature_maps(net: nn.Module, image: np.ndarray, mean: float, std: float) -> list[tuple[str, np.ndarray]]:
    """(layer name, (C, H, W) float32 output) of every Conv2d for one (28, 28) uint8 image, in order."""
    net, maps = _private(net), []
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: maps.append((name, out[0].numpy().copy())))
             for name, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net(_input(image, mean, std))
    for h in hooks:
        h.remove()
    return maps


def _input(image: np.ndarray, mean: float, std: float) -> torch.Tensor:
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise ValueError(f"expected one 28x28 image, got shape {image.shape}")
    return to_model_input(torch.tensor(image, dtype=torch.uint8)[None], mean, std)  # (1, 1, 28, 28)


def attributions(net: nn.Module, image: np.ndarray, mean: float, std: float, target: int,
                 methods: tuple[str, ...] = METHODS) -> dict[str, np.ndarray]:
    """Captum's attribution of class `target`'s logit to each pixel, (28, 28) float32 per method.

    Integrated Gradients (50 steps) and Occlusion (4x4 window, stride 2) start from a blank image (the
    background, 0 before normalisation); Saliency is the absolute gradient. Positive: evidence for the class.
    """
    from captum.attr import IntegratedGradients, Occlusion, Saliency  # ~1 s to import: only when asked

    net = _private(net)
    x = _input(image, mean, std)
    blank = torch.full_like(x, (0.0 - mean) / std)
    out = {}
    for method in methods:
        if method == "Integrated Gradients":
            attr = IntegratedGradients(net).attribute(x, baselines=blank, target=target, n_steps=50)
        elif method == "Occlusion":
            attr = Occlusion(net).attribute(x, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                            baselines=(0.0 - mean) / std, target=target)
        elif method == "Saliency":
            attr = Saliency(net).attribute(x.clone().requires_grad_(True), target=target, abs=True)
        else:
            raise ValueError(f"unknown attribution method {method!r}; allowed: {', '.join(METHODS)}")
        out[method] = attr[0, 0].detach().float().numpy()
    return out
