"""Labelled images from a tree of files: one folder per class (`cat/001.png`), optionally inside
`train/` and `test/` folders (`train/cat/001.png`, `test/cat/002.png`).

A single folder wrapping everything (`pets/cat/001.png`, as zipping a folder produces) is looked through.
Files that cannot be used are skipped, each with its reason: hidden or system files (`.DS_Store`,
`__MACOSX/`), files outside any class folder, duplicates (same bytes as an earlier file, by SHA-256),
files that are not PNG/JPEG/BMP/TIFF images, corrupt images, oversized images.

    python -c "from mnist_core.own_data.archive import folder_members; \\
from mnist_core.own_data.imagefolder import collect_images as c; print(c(folder_members('my_images')).class_names)"
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from mnist_core.data import DataError
from mnist_core.own_data.archive import DEFAULT_LIMITS, Limits, Member
from mnist_core.own_data.convert import Collected, ImageSkipped, decode_image

SPLITS = ("train", "test")
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini"}
MAX_SIZES_LISTED = 20


def natural_key(name: str) -> list:
    """Sort key putting "2" before "10" (folders named 0..9 get labels 0..9)."""
    return [int(t) if i % 2 else t.lower() for i, t in enumerate(re.split(r"(\d+)", name))]


def is_hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1].lower() in SYSTEM_FILES


def collect_images(members: Iterable[Member], limits: Limits = DEFAULT_LIMITS) -> Collected:
    """Decode every file, then label each image by its class folder (and split folder, if any)."""
    skipped: list[tuple[str, str]] = []
    folders: list[tuple[str, ...]] = []  # folder paths, each plus an empty file name
    files: list[tuple[str, ...]] = []  # every visible file, usable or not: they define the layout
    decoded: list[tuple[str, tuple[str, ...], np.ndarray, tuple[int, int], bool]] = []
    first_path: dict[bytes, tuple[str, tuple[str, ...]]] = {}  # content hash -> (path, parts) of its first file
    copies: list[tuple[tuple[str, ...], tuple[str, ...]]] = []  # (parts of a duplicate, parts of its first file)
    admit = pixel_budget(limits)
    for member in members:
        parts = tuple(p for p in member.path.replace("\\", "/").split("/") if p)
        if not parts:
            continue
        if is_hidden(parts):
            if not member.path.endswith("/"):
                skipped.append((member.path, "hidden or system file"))
            continue
        if member.path.endswith("/"):
            folders.append(parts + ("",))  # a folder is a class folder if a file in it would be
            continue
        files.append(parts)
        if member.data is None:
            skipped.append((member.path, member.note))
            continue
        digest = hashlib.sha256(member.data).digest()
        if digest in first_path:
            skipped.append((member.path, f"duplicate of {first_path[digest][0]}"))
            copies.append((parts, first_path[digest][1]))
            continue
        first_path[digest] = member.path, parts
        try:
            image, size, inverted = decode_image(member.data, limits.image_pixels, admit)
        except ImageSkipped as exc:
            skipped.append((member.path, str(exc)))
            continue
        decoded.append((member.path, parts, image, size, inverted))
    return _label(decoded, files, folders, skipped, copies)


def pixel_budget(limits: Limits):
    """admit(width, height) for decode_image: counts every image's pixels before it is decoded and refuses
    the whole import once they sum past limits.total_pixels (decoding is what costs: 22,533 49-megapixel
    PNGs fit in an 8.5 MB zip and took 3 CPU hours)."""
    used = 0

    def admit(width: int, height: int) -> None:
        nonlocal used
        used += width * height
        if used > limits.total_pixels:
            raise DataError(f"The images of this import hold more than {limits.total_pixels:,} pixels in all "
                               "(the limit, MNIST_IMPORT_MAX_PIXELS); import fewer or smaller images. "
                               "Nothing was imported.")
    return admit


def _label(decoded, files, folders, skipped, copies) -> Collected:
    depth = _wrapper_depth(files)
    tops = {p[depth].lower() for p in files if len(p) > depth + 1}
    present = [s for s in SPLITS if s in tops]
    if len(present) == 1:
        missing = next(s for s in SPLITS if s not in present)
        raise DataError(f"Found a {present[0]}/ folder but no {missing}/ folder. Put class folders in both "
                           "train/ and test/, or put the class folders at the top to have a test split made.")
    split_mode = bool(present)
    inside = [p for p in folders if len(p) > depth and p[:depth] == files[0][:depth]]  # folders below the wrapper
    all_classes = {c for p in files + inside if (c := _place(p[depth:], split_mode)[1])}
    kept, places, sizes, inverted = [], [], Counter(), 0
    for path, parts, image, size, was_inverted in decoded:
        split, name, reason = _place(parts[depth:], split_mode)
        if reason:
            skipped.append((path, reason))
            continue
        kept.append(image)
        places.append((split, name))
        sizes[f"{size[0]}x{size[1]}"] += 1
        inverted += was_inverted
    class_names = sorted({name for _, name in places}, key=natural_key)
    index = {name: i for i, name in enumerate(class_names)}
    empty = [f"{c} (no usable images)" for c in sorted(all_classes - set(index), key=natural_key)]
    images = np.stack(kept) if kept else np.zeros((0, 28, 28), dtype=np.uint8)
    labels = np.array([index[name] for _, name in places], dtype=np.int64)
    is_test = np.array([split == "test" for split, _ in places], dtype=bool) if split_mode else None
    across = Counter(name for copy, first in copies if (name := _place(copy[depth:], split_mode)[1])
                     and name != _place(first[depth:], split_mode)[1])
    return Collected(class_names, images, labels, is_test, sorted(skipped), empty, _top_sizes(sizes), inverted,
                     dict(sorted(across.items())))


def _wrapper_depth(files: list[tuple[str, ...]]) -> int:
    """How many leading folders wrap the whole layout (e.g. the folder that was zipped): every file lies
    in them and some file lies in a class folder below them."""
    depth = 0
    while (files and all(len(p) > depth + 1 for p in files) and len({p[depth] for p in files}) == 1
           and any(len(p) > depth + 2 for p in files) and files[0][depth].lower() not in SPLITS):
        depth += 1
    return depth


def _place(rel: tuple[str, ...], split_mode: bool) -> tuple[str | None, str | None, str]:
    """(split, class name, reason it has no place) for a path below the wrapper folders."""
    if split_mode:
        if rel[0].lower() not in SPLITS:
            return None, None, "outside the train/ and test/ folders"
        if len(rel) < 3:
            return rel[0].lower(), None, "not inside a class folder"
        return rel[0].lower(), rel[1], ""
    if len(rel) < 2:
        return None, None, "not inside a class folder"
    return None, rel[0], ""


def _top_sizes(sizes: Counter) -> dict[str, int]:
    top = dict(sizes.most_common(MAX_SIZES_LISTED))
    rest = sum(sizes.values()) - sum(top.values())
    return top | ({"other sizes": rest} if rest else {})
