"""glibc's malloc tuned for a training process: freed memory stays in the process for the next step.

A training step allocates and frees the same activation buffers (up to a few MB each at batch 128) hundreds of
times a second. By default glibc serves blocks above its mmap threshold with fresh mmap()s and gives freed memory
at the top of its heap back to the kernel, so each step in a fresh process page-faults its buffers in again,
zeroed by the kernel, until glibc's dynamic threshold has caught up (a later run in the same process does not pay
it). Here blocks up to glibc's largest threshold come from the heap, and freed memory is kept: the price is that
the process's resident memory stays at its peak, which a training process reaches within its first batches anyway.
Measured side by side in benchmarks/allocator.py. MNIST_KEEP_FREED_MEMORY=0 leaves glibc's defaults alone.

    python -c "from mnist_core.allocator import keep_freed_memory; print(keep_freed_memory())"
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters, from glibc's malloc.h
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): larger ones are refused
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes a C int: in effect, never trim


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process; False where there is no glibc mallopt (macOS,
    Windows, musl), which changes nothing there, or where MNIST_KEEP_FREED_MEMORY is 0."""
    if not sys.platform.startswith("linux") or os.environ.get("MNIST_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
