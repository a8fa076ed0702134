"""Which torch device a run uses, and the mixed precision it trains with there.

Its own module so that the trainer and the distributed setup (which the trainer imports) can both use it.

    python -c "from mnist_core.device import resolve_device; print(resolve_device('auto'))"
"""
from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available here; use 'auto' or 'cpu'")
    return torch.device(name)


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA (tensor cores; the loss and the optimizer stay float32). Off on CPU, where these
    AVX2 cores have no fast bf16 and float32 keeps the `notebook` recipe's maths exact."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its fastest kernels once
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
