"""Labelled images from a NumPy .npz file.

Arrays: `images` (N, H, W) or (N, 1, H, W) and `labels` (N,) integers, or the same split in two as
`train_images`, `train_labels`, `test_images`, `test_labels`; optional `class_names` (strings, one per
class; default "0", "1", ...). Pixels may be uint8, other integers in 0..255, bool, or float: floats
whose maximum is at most 1 are taken as [0, 1] and scaled by 255, other floats must lie in [0, 255].
Every image then goes through the same conversion as image files (mnist_core.own_data.convert).

The file is read as the zip it is, with the archive limits, and every array with allow_pickle=False:
a pickled object in an .npz can run code, so it is refused.

    python -c "from mnist_core.own_data.npzsource import collect_npz as c; print(c(open('d.npz','rb').read()).labels)"
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from mnist_core.data import DataError
from mnist_core.own_data.archive import CHUNK, DEFAULT_LIMITS, MB, Limits, open_zip
from mnist_core.own_data.convert import Collected, fit_batch

SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
BLOCK_VALUES = 1 << 20


def read_npz(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, np.ndarray]:
    """Every array of an .npz, never unpickling anything, each checked from its .npy header before it is read.

    The header gives dtype and shape, so an array too big for the limits (a few KB of deflated zeros can
    declare gigabytes) is refused before a byte of it is inflated, and the data is read straight into
    the array (no second copy).
    """
    archive, infos = open_zip(data, limits, "The .npz file")
    arrays: dict[str, np.ndarray] = {}
    budget, pixels = limits.unpacked_bytes, 0
    for info in (i for i in infos if not i.is_dir()):
        if not info.filename.endswith(".npy"):
            raise DataError(f"The .npz file holds {info.filename!r}, which is not a NumPy array; "
                            "save it with numpy.savez.")
        key = info.filename[:-len(".npy")]
        try:
            with archive.open(info) as stream:
                shape, fortran, dtype = _header(stream, key)
                count = math.prod(shape)
                if "images" in key:
                    pixels += count
                    _check_pixels(key, shape, pixels, limits)
                if count * dtype.itemsize > budget:
                    raise DataError(f"Array {key!r} in the .npz file declares {count * dtype.itemsize / MB:,.0f} MB"
                                    f" ({dtype}, shape {shape}); the limit is {limits.unpacked_bytes / MB:.0f} MB "
                                    "for all arrays together. Nothing was read.")
                budget -= count * dtype.itemsize
                arrays[key] = _body(stream, key, shape, fortran, dtype, count)
        except (DataError, MemoryError):  # a MemoryError is the sandbox's limit: it says so itself
            raise
        except Exception as exc:  # a damaged .npy header or deflate stream can fail in several ways
            raise DataError(f"Array {key!r} in the .npz file is unreadable ({type(exc).__name__}: {exc}).") from exc
    return arrays


def _header(stream, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(stream)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read:
            raise ValueError(f".npy format version {version[0]}.{version[1]}; save it with numpy.savez")
        shape, fortran, dtype = read[version](stream)  # parses the header safely (a literal, not code)
    except ValueError as exc:
        raise DataError(f"Array {key!r} in the .npz file has no valid .npy header ({exc}).") from exc
    if dtype.hasobject:
        raise DataError(f"Array {key!r} in the .npz file holds pickled Python objects, which are never "
                        "loaded (unpickling can run code). Save plain arrays, e.g. "
                        "numpy.savez(path, images=images.astype('uint8'), labels=labels.astype('int64')).")
    if dtype.kind not in "biufcUS" or dtype.fields is not None or dtype.subdtype is not None:
        raise DataError(f"Array {key!r} in the .npz file has dtype {dtype}, which is not supported.")
    return shape, fortran, dtype


def _check_pixels(key: str, shape: tuple[int, ...], pixels: int, limits: Limits) -> None:
    if len(shape) >= 2 and shape[-1] * shape[-2] > limits.image_pixels:
        raise DataError(f"`{key}` holds images of {shape[-1]}x{shape[-2]} pixels; the limit is "
                        f"{limits.image_pixels:,} per image (MNIST_IMPORT_MAX_IMAGE_PIXELS). Nothing was read.")
    if pixels > limits.total_pixels:
        raise DataError(f"The .npz file's images hold {pixels:,} pixels in all; the limit is "
                        f"{limits.total_pixels:,} (MNIST_IMPORT_MAX_PIXELS). Nothing was read.")


def _body(stream, key: str, shape, fortran: bool, dtype: np.dtype, count: int) -> np.ndarray:
    """The array's data, read into a buffer of exactly the size the header declared."""
    flat = np.empty(count, dtype=dtype)
    view, got = memoryview(flat).cast("B"), 0
    while got < len(view) and (n := stream.readinto(view[got:got + CHUNK])):
        got += n
    if got != len(view) or stream.read(1):
        raise DataError(f"Array {key!r} in the .npz file is corrupt or crafted: its data does not match the "
                        f"size its header declares ({dtype}, shape {shape}).")
    return flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)


def collect_npz(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Collected:
    arrays = read_npz(data, limits)
    given = [k for k in SPLIT_KEYS if k in arrays]
    if given and len(given) < len(SPLIT_KEYS):
        missing = [k for k in SPLIT_KEYS if k not in arrays]
        raise DataError(f"The .npz file has {', '.join(given)} but lacks {', '.join(missing)}: "
                        "give all four, or just `images` and `labels` to have a test split made.")
    if given:
        parts = [(arrays["train_images"], arrays["train_labels"], "train_"),
                 (arrays["test_images"], arrays["test_labels"], "test_")]
    elif "images" in arrays and "labels" in arrays:
        parts = [(arrays["images"], arrays["labels"], "")]
    else:
        raise DataError("The .npz file needs arrays `images` and `labels` (or train_images, train_labels, "
                        f"test_images, test_labels); it has: {', '.join(sorted(arrays)) or 'nothing'}.")
    images, labels = [], []
    for raw_images, raw_labels, prefix in parts:
        images.append(_pixels(f"{prefix}images", raw_images))
        labels.append(_labels(f"{prefix}labels", raw_labels, len(images[-1])))
    all_labels = np.concatenate(labels)
    names = _class_names(arrays["class_names"]) if "class_names" in arrays else None
    count = len(names) if names is not None else int(all_labels.max()) + 1
    low, high = int(all_labels.min()), int(all_labels.max())
    if low < 0 or high >= count:
        raise DataError(f"Labels must be class numbers 0..{count - 1}"
                        f"{' (one per class name)' if names is not None else ''}; found {low}..{high}.")
    names = names if names is not None else [str(k) for k in range(count)]
    fitted = [fit_batch(part) for part in images]
    sizes = Counter()
    for part in images:
        sizes[f"{part.shape[2]}x{part.shape[1]}"] += len(part)
    is_test = np.repeat([False, True], [len(labels[0]), len(labels[1])]) if given else None
    empty = [f"{names[k]} (no images)" for k in range(count) if not (all_labels == k).any()]
    return Collected(names, np.concatenate([f for f, _ in fitted]), all_labels, is_test, [], empty, dict(sizes),
                     sum(inverted for _, inverted in fitted))


def _pixels(key: str, raw: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 from an array of grayscale images in any of the accepted shapes and dtypes."""
    if raw.ndim == 4 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 3 or 0 in raw.shape:
        raise DataError(f"`{key}` has shape {raw.shape}; expected grayscale images shaped (N, H, W) or "
                        "(N, 1, H, W) with N, H, W at least 1.")
    if raw.dtype == np.uint8:
        return raw
    if raw.dtype == np.bool_:
        return raw.astype(np.uint8) * 255
    if np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating):
        is_float = np.issubdtype(raw.dtype, np.floating)
        if is_float and not all(np.isfinite(block).all() for block in _blocks(raw)):
            raise DataError(f"`{key}` contains NaN or infinite pixel values.")
        low, high = raw.min(), raw.max()
        if not (low >= 0 and high <= 255):
            raise DataError(f"`{key}` has pixel values from {low} to {high}; they must lie in 0..255 "
                            "(or 0..1 for floats).")
        scale = 255.0 if is_float and high <= 1 else 1.0
        out = np.empty(raw.shape, dtype=np.uint8)
        for block, target in zip(_blocks(raw), _blocks(out), strict=True):  # float64 only a block at a time
            target[...] = np.round(block * scale)
        return out
    raise DataError(f"`{key}` has dtype {raw.dtype}; pixels must be uint8, integers, bool or floats.")


def _blocks(array: np.ndarray) -> list[np.ndarray]:
    """Views of `array` along its first axis, about a million values each: conversions stay small."""
    step = max(1, BLOCK_VALUES // max(1, math.prod(array.shape[1:])))
    return [array[i:i + step] for i in range(0, len(array), step)]


def _labels(key: str, raw: np.ndarray, count: int) -> np.ndarray:
    if raw.ndim != 1 or len(raw) != count:
        raise DataError(f"`{key}` has shape {raw.shape} but there are {count:,} images: "
                        "give exactly one label per image.")
    if not np.issubdtype(raw.dtype, np.integer):
        raise DataError(f"`{key}` has dtype {raw.dtype}; labels must be integers (class numbers 0, 1, ...).")
    return raw.astype(np.int64)


def _class_names(raw: np.ndarray) -> list[str]:
    if raw.ndim != 1 or raw.dtype.kind not in "US":
        raise DataError(f"`class_names` must be a 1-D array of strings; got dtype {raw.dtype}, shape {raw.shape}.")
    names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in raw.tolist()]
    names = [n.strip() for n in names]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise DataError("`class_names` must be distinct, non-empty strings.")
    return names
