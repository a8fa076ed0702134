"""Which torch device a run uses, and the precision it trains in there.

Its own module so that the trainer and the distributed setup (which the trainer imports) can both use it.
`cuda_devices` answers how many GPUs torch would see without importing torch into the dashboard's server.

    python -c "from mnist_core.device import resolve_device; print(resolve_device('auto'))"
"""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a device is resolved: the dashboard's server imports this module without torch
    import torch


def resolve_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available here; use 'auto' or 'cpu'")
    return torch.device(name)


def autocast(device: torch.device, precision: str = "auto") -> torch.autocast:
    """The autocast a run's steps train under, by TrainConfig.precision (mnist_core.config.PRECISIONS):
    `auto` is bfloat16 on CUDA (tensor cores) and float32 on the CPU, what every run did before the field;
    `bfloat16` is bfloat16 on either (on the CPU fast only where cpu_has_bf16()); `float32` is off everywhere, and on
    CUDA also turns cuDNN's TF32 convolutions off.
    The loss, the gradients' accumulation and the optimizer stay float32 under autocast."""
    import torch

    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its fastest kernels once
        # float32 means float32: cuDNN's convolutions use TF32 (10-bit mantissas) by default, which on an H200 moved
        # the notebook recipe's first-epoch loss from 0.3625 to 0.3817 in some runs (benchmarks/README.md, GPU)
        torch.backends.cudnn.allow_tf32 = precision != "float32"
    enabled = precision == "bfloat16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


# CPU flags of native bfloat16 arithmetic, which oneDNN's bf16 convolutions and matmuls use: AVX512-BF16 (AMD
# Zen 4 on, Intel Cooper Lake on) and AMX (Intel Sapphire Rapids on). Elsewhere bf16 is emulated and slower.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo_field(name: str, cpuinfo: str) -> str:
    """The value of the first `name : value` line of cpuinfo (Linux), "" where there is none or it cannot be read."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.split(":", 1)[0].strip() == name and ":" in line), "")


@functools.cache
def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when this machine's CPU computes bfloat16 natively (read from cpuinfo's flags, without torch, once per
    path); False where cpuinfo cannot be read (not Linux): the `fast` recipe then stays float32 on the CPU."""
    flags = _cpuinfo_field("flags", cpuinfo).split()
    return any(flag in flags for flag in BF16_CPU_FLAGS)


# Device files of a GPU driver (NVIDIA's, and ROCm's, which torch also drives as "cuda"): without one, torch sees
# no GPU, whichever build of it is installed.
DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd")


@functools.cache
def cuda_devices() -> int:
    """torch.cuda.device_count() when CUDA is available, else 0, without importing torch here (the dashboard's
    server shows its Train page without it): a process that has imported torch asks it; a machine without a GPU
    driver has none; otherwise a child process asks torch once (a few seconds, once per process)."""
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not any(Path(f).exists() for f in DRIVER_FILES):
        return 0
    probe = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
        return int(out.stdout.split()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return 0  # a torch that cannot even start cannot train on a GPU either
