"""The IDX files of the torchvision sources (MNIST, Fashion-MNIST, KMNIST): their names, the checks made before
reading one (header, magic number, length, image size, images against labels), each with its own message naming
the file, and reading one with numpy: the bytes torchvision's own reader reads, without importing torch.
DataError lives here, the lowest of the data modules; mnist_core.data (which loads the sources) re-exports it.

    python -c "from pathlib import Path; from mnist_core.idx import read_idx_dims as d; print(d(Path('x-ubyte'), 1))"
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

IMAGE_SIZE = 28
# The four IDX files of a torchvision MNIST-style source, as (images, labels) per split, under <Name>/raw/.
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
REFETCH = "Delete the *-ubyte files in {raw} to download them again, or copy intact ones there."


class DataError(RuntimeError):
    """A data source could not be loaded, or an import of one was refused; the message says why and what to do
    (an import that raises it has written nothing)."""


def check_idx_pair(images_path: Path, labels_path: Path) -> int:
    """Check an images/labels IDX pair before reading it; return the number of examples or raise DataError."""
    n_images, height, width = read_idx_dims(images_path, 3)
    (n_labels,) = read_idx_dims(labels_path, 1)
    refetch = REFETCH.format(raw=images_path.parent)
    if (height, width) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{images_path} holds {height}x{width} images; this source needs "
                        f"{IMAGE_SIZE}x{IMAGE_SIZE}. {refetch}")
    if n_images != n_labels:
        raise DataError(f"{images_path.name} has {n_images} images but {labels_path.name} has {n_labels} labels "
                        f"(in {images_path.parent}): the two files must come from the same set. {refetch}")
    if n_images == 0:
        raise DataError(f"{images_path} holds no images. {refetch}")
    return n_images


def read_idx_dims(path: Path, ndim: int) -> tuple[int, ...]:
    """The dimensions in an unsigned-byte IDX file's header, after checking its magic number and length.

    The format: 2 zero bytes, type 0x08 (uint8), the number of dimensions, then one big-endian uint32
    per dimension, then the data, row-major, nothing after it.
    """
    header_size = 4 + 4 * ndim
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(header_size)
    refetch = REFETCH.format(raw=path.parent)
    if len(header) < header_size:
        raise DataError(f"{path} is truncated: {size} bytes, shorter than its {header_size}-byte header. {refetch}")
    expected_magic = bytes([0, 0, 0x08, ndim])
    if header[:4] != expected_magic:
        hint = " It looks gzipped: gunzip it first." if header[:2] == b"\x1f\x8b" else ""
        raise DataError(f"{path} is not an IDX file of {ndim}-dimensional unsigned bytes: its magic number is "
                        f"0x{header[:4].hex()}, expected 0x{expected_magic.hex()}.{hint} {refetch}")
    dims = struct.unpack(f">{ndim}I", header[4:])
    expected = header_size + math.prod(dims)
    if size != expected:
        state = "truncated" if size < expected else "longer than its header says"
        raise DataError(f"{path} is {state}: its header promises {' x '.join(map(str, dims))} values "
                        f"({expected} bytes in all) but the file has {size} bytes. {refetch}")
    return dims


def read_idx(path: Path) -> np.ndarray:
    """The values of an unsigned-byte IDX file checked by read_idx_dims, flat, as uint8 (what torchvision's
    read_sn3_pickled_tensor reads from the same file)."""
    with open(path, "rb") as f:
        ndim = f.read(4)[3]
        return np.fromfile(f, dtype=np.uint8, offset=4 * ndim)
