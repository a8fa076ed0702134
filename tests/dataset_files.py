"""Builders of small crafted inputs for the dataset-import tests: images, zips (honest and hostile), npz files.

Imported by tests/test_datasets*.py, tests/test_transfer.py and tests/test_page_data.py; not a test itself.
"""
from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

SHAPES = ("bar", "dash", "box")
REPO = Path(__file__).resolve().parent.parent


def shape_image(kind: str, variant: int, size: tuple[int, int] = (28, 28)) -> np.ndarray:
    """(H, W) uint8 light-on-black drawing of `kind`; `variant` shifts it so every image is distinct."""
    w, h = size
    img = np.zeros((h, w), dtype=np.uint8)
    cx, cy, r = w // 2 + variant % 5 - 2, h // 2 + variant // 5 % 5 - 2, min(w, h) // 3
    if kind == "bar":
        img[cy - r:cy + r, cx - 1:cx + 2] = 255
    elif kind == "dash":
        img[cy - 1:cy + 2, cx - r:cx + r] = 255
    else:
        img[cy - r:cy + r, cx - r:cx + r] = 255
        img[cy - r + 2:cy + r - 2, cx - r + 2:cx + r - 2] = 0
    img[0, variant % w] = 7 + variant // w  # one faint pixel makes the bytes unique even when shapes coincide
    return img


def encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def big_png(size: int, variant: int) -> bytes:
    """A distinct size x size PNG that deflates to almost nothing: a pixel bomb."""
    pixels = np.zeros((size, size), dtype=np.uint8)
    pixels[0, variant] = 255
    return encode(pixels)


def make_zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data)
    return buffer.getvalue()


def shape_files(per_class: int = 10, prefix: str = "", kinds: tuple[str, ...] = SHAPES,
                start: int = 0) -> dict[str, bytes]:
    """{"<prefix><kind>/<i>.png": png bytes} for every kind, variants start..start+per_class-1."""
    return {f"{prefix}{kind}/{i:03d}.png": encode(shape_image(kind, i)) for kind in kinds
            for i in range(start, start + per_class)}


def shape_zip(per_class: int = 10, prefix: str = "") -> bytes:
    return make_zip(shape_files(per_class, prefix))


def write_tree(root, files: dict[str, bytes]) -> None:
    """Write {relative path: bytes} under `root` (a pathlib.Path)."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def shape_arrays(per_class: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) int64 labels of the three shapes."""
    images = np.stack([shape_image(kind, i) for kind in SHAPES for i in range(per_class)])
    return images, np.repeat(np.arange(len(SHAPES)), per_class)


def zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in shape_files(3).items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("bar/link.png")
        link.external_attr = (0o120777 << 16)  # S_IFLNK | 0777: unzip would create a symbolic link
        archive.writestr(link, "../../../../etc/passwd")
    return buffer.getvalue()


def zip_with_raw_name(name: bytes) -> bytes:
    """A zip whose (single extra) member name is exactly `name`, written past zipfile's own name handling."""
    placeholder = b"x" * len(name)
    data = make_zip(shape_files(3) | {placeholder.decode(): encode(shape_image("bar", 99))})
    return data.replace(placeholder, name)


def lie_about_sizes(data: bytes, declared: int) -> bytes:
    """The same zip with every member's uncompressed size rewritten to `declared` in both headers."""
    out = bytearray(data)
    offset = out.find(b"PK\x03\x04")
    while offset != -1:  # local file header: uncompressed size at +22
        struct.pack_into("<I", out, offset + 22, declared)
        offset = out.find(b"PK\x03\x04", offset + 4)
    offset = out.find(b"PK\x01\x02")
    while offset != -1:  # central directory entry: uncompressed size at +24
        struct.pack_into("<I", out, offset + 24, declared)
        offset = out.find(b"PK\x01\x02", offset + 4)
    return bytes(out)
