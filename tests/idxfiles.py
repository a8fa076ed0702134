"""Helpers that write IDX files (the MNIST file format) for tests: valid subsets of the real files, or crafted ones.

    from idxfiles import idx_bytes, write_idx_subset    # tests/ is on sys.path under pytest
"""
from __future__ import annotations

import struct
from pathlib import Path

from mnist_core.data import IDX_FILES


def idx_bytes(values: bytes, dims: tuple[int, ...]) -> bytes:
    """An unsigned-byte IDX file: magic 0x0000080<ndim>, big-endian uint32 dims, then the values."""
    return bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + values


def write_idx_subset(source_raw: Path, target_raw: Path, n_train: int, n_test: int) -> None:
    """Copy the first n examples of each split as valid IDX files (header counts fixed to n)."""
    target_raw.mkdir(parents=True, exist_ok=True)
    for (images, labels), n in zip(IDX_FILES.values(), (n_train, n_test), strict=True):
        pixels = (source_raw / images).read_bytes()[16:16 + n * 28 * 28]
        (target_raw / images).write_bytes(idx_bytes(pixels, (n, 28, 28)))
        (target_raw / labels).write_bytes(idx_bytes((source_raw / labels).read_bytes()[8:8 + n], (n,)))
