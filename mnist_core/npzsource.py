"""Labelled images from a NumPy .npz file.

Arrays: `images` (N, H, W) or (N, 1, H, W) and `labels` (N,) integers, or the same split in two as
`train_images`, `train_labels`, `test_images`, `test_labels`; optional `class_names` (strings, one per
class; default "0", "1", ...). Pixels may be uint8, other integers in 0..255, bool, or float: floats
whose maximum is at most 1 are taken as [0, 1] and scaled by 255, other floats must lie in [0, 255].
Every image then goes through the same conversion as image files (mnist_core.convert).

The file is read as the zip it is, with the archive limits, and every array with allow_pickle=False:
a pickled object in an .npz can run code, so it is refused.

    python -c "from mnist_core.npzsource import collect_npz; print(collect_npz(open('d.npz','rb').read()).class_names)"
"""
from __future__ import annotations

import io
from collections import Counter

import numpy as np

from mnist_core.archive import DEFAULT_LIMITS, DatasetError, Limits, zip_members
from mnist_core.convert import Collected, fit_batch

SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def read_npz(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, np.ndarray]:
    """Every array of an .npz, never unpickling anything."""
    arrays = {}
    for member in zip_members(data, limits, what="The .npz file"):
        if member.path.endswith("/"):
            continue
        if not member.path.endswith(".npy"):
            raise DatasetError(f"The .npz file holds {member.path!r}, which is not a NumPy array; "
                               "save it with numpy.savez.")
        key = member.path[:-len(".npy")]
        try:
            arrays[key] = np.lib.format.read_array(io.BytesIO(member.data), allow_pickle=False)
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                raise DatasetError(f"Array {key!r} in the .npz file holds pickled Python objects, which are never "
                                   "loaded (unpickling can run code). Save plain arrays, e.g. "
                                   "numpy.savez(path, images=images.astype('uint8'), labels=labels.astype('int64'))."
                                   ) from exc
            raise DatasetError(f"Array {key!r} in the .npz file is unreadable ({exc}).") from exc
        except Exception as exc:  # a damaged .npy header or body can fail in several ways
            raise DatasetError(f"Array {key!r} in the .npz file is unreadable ({type(exc).__name__}: {exc}).") from exc
    return arrays


def collect_npz(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Collected:
    arrays = read_npz(data, limits)
    given = [k for k in SPLIT_KEYS if k in arrays]
    if given and len(given) < len(SPLIT_KEYS):
        missing = [k for k in SPLIT_KEYS if k not in arrays]
        raise DatasetError(f"The .npz file has {', '.join(given)} but lacks {', '.join(missing)}: "
                           "give all four, or just `images` and `labels` to have a test split made.")
    if given:
        parts = [(arrays["train_images"], arrays["train_labels"], "train_"),
                 (arrays["test_images"], arrays["test_labels"], "test_")]
    elif "images" in arrays and "labels" in arrays:
        parts = [(arrays["images"], arrays["labels"], "")]
    else:
        raise DatasetError("The .npz file needs arrays `images` and `labels` (or train_images, train_labels, "
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
        raise DatasetError(f"Labels must be class numbers 0..{count - 1}"
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
        raise DatasetError(f"`{key}` has shape {raw.shape}; expected grayscale images shaped (N, H, W) or "
                           "(N, 1, H, W) with N, H, W at least 1.")
    if raw.dtype == np.uint8:
        return raw
    if raw.dtype == np.bool_:
        return raw.astype(np.uint8) * 255
    if np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating):
        if np.issubdtype(raw.dtype, np.floating) and not np.isfinite(raw).all():
            raise DatasetError(f"`{key}` contains NaN or infinite pixel values.")
        low, high = raw.min(), raw.max()
        if np.issubdtype(raw.dtype, np.floating) and low >= 0 and high <= 1:
            return np.round(raw * 255.0).astype(np.uint8)
        if low >= 0 and high <= 255:
            return np.round(raw).astype(np.uint8)
        raise DatasetError(f"`{key}` has pixel values from {low} to {high}; they must lie in 0..255 "
                           "(or 0..1 for floats).")
    raise DatasetError(f"`{key}` has dtype {raw.dtype}; pixels must be uint8, integers, bool or floats.")


def _labels(key: str, raw: np.ndarray, count: int) -> np.ndarray:
    if raw.ndim != 1 or len(raw) != count:
        raise DatasetError(f"`{key}` has shape {raw.shape} but there are {count:,} images: "
                           "give exactly one label per image.")
    if not np.issubdtype(raw.dtype, np.integer):
        raise DatasetError(f"`{key}` has dtype {raw.dtype}; labels must be integers (class numbers 0, 1, ...).")
    return raw.astype(np.int64)


def _class_names(raw: np.ndarray) -> list[str]:
    if raw.ndim != 1 or raw.dtype.kind not in "US":
        raise DatasetError(f"`class_names` must be a 1-D array of strings; got dtype {raw.dtype}, shape {raw.shape}.")
    names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in raw.tolist()]
    names = [n.strip() for n in names]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise DatasetError("`class_names` must be distinct, non-empty strings.")
    return names
