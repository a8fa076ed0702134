"""Turn any picture into an MNIST-style digit: 28x28 uint8, grayscale, light ink on a black background.

Rules (the same for image files and for .npz arrays):
- grayscale: colour is converted with ITU-R 601-2 luma (PIL "L"); transparent pixels are laid on white
  first, as a browser shows them; 16-bit and float images are stretched from their own min..max;
- size: the longer side is scaled to 28 (aspect ratio kept, Lanczos), the shorter one is padded on both
  sides with the image's own border brightness, so no frame appears;
- polarity: MNIST is light ink on black. When the mean brightness of an image's outermost pixels
  (its border, after scaling) is above 127.5, the image is taken as dark-on-light and inverted (255 - x).
  This is decided per image, so a folder mixing scans and screen drawings still comes out consistent.

    python -c "from mnist_core.own_data.convert import decode_image; print(decode_image(open('a.png','rb').read()))"
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from mnist_core.data import IMAGE_SIZE, DataError

FORMATS = ("PNG", "JPEG", "BMP", "TIFF")  # PIL opens MPO, the JPEG variant many cameras write, as JPEG
WIDE_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")  # PNG JPEG BMP TIFF


def looks_like_image(head: bytes) -> bool:
    """Whether a file's first bytes are those of a PNG, JPEG, BMP or TIFF: anything else is skipped unread."""
    return head.startswith(IMAGE_MAGIC)


class ImageSkipped(Exception):
    """This file cannot become an image; the message is the reason shown in the validation report."""


@dataclass
class Collected:
    """Labelled 28x28 images gathered from one source, before the train/test split, plus what was skipped."""

    class_names: list[str]
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    is_test: np.ndarray | None  # (N,) bool when the source brought its own train/test split, else None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    empty_classes: list[str] = field(default_factory=list)  # "name (no usable images)": folders left empty
    image_sizes: dict[str, int] = field(default_factory=dict)  # "WxH" -> how many images had that size
    inverted: int = 0  # images taken as dark-on-light and inverted
    cross_class_duplicates: dict[str, int] = field(default_factory=dict)  # class -> its files dropped as copies
    # of a file in another class (with their first copy, they would leave that class empty)


def decode_image(data: bytes, max_pixels: int = 50_000_000,
                 admit: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, tuple[int, int], bool]:
    """(28x28 uint8 image, original (width, height), inverted?) from PNG/JPEG/BMP/TIFF bytes.

    Raises ImageSkipped with a short reason for anything else, corrupt files and oversized images.
    `admit(width, height)` is called with the size from the header, before decoding: the import's pixel
    budget, which raises DataError once it is spent.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL warns about odd metadata of damaged files; the report says enough
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            size = image.size
            if size[0] * size[1] > max_pixels:
                raise ImageSkipped(f"too large ({size[0]}x{size[1]} pixels; the limit is {max_pixels:,})")
            if admit is not None:
                admit(*size)
            if image.format in ("JPEG", "MPO"):  # decode at a reduced scale straight from the DCT: much faster
                image.draft("L", (IMAGE_SIZE * 2, IMAGE_SIZE * 2))
            if image.format != "PNG":  # cameras and scanners record rotation in EXIF; PNGs practically never
                image = ImageOps.exif_transpose(image)
            gray = to_gray(image)
    except (ImageSkipped, DataError, MemoryError):  # MemoryError: the sandbox's limit, never "corrupt"
        raise
    except Image.UnidentifiedImageError as exc:
        raise ImageSkipped("not an image (or not PNG, JPEG, BMP or TIFF)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageSkipped(f"too large ({exc})") from exc
    except Exception as exc:  # decoders of untrusted bytes raise many types (OSError, SyntaxError, struct.error…)
        raise ImageSkipped(f"corrupt image ({type(exc).__name__}: {exc})") from exc
    fitted, inverted = fit_to_mnist(gray)
    return fitted, size, inverted


def to_gray(image: Image.Image) -> Image.Image:
    """Any PIL image -> mode "L" (8-bit grayscale)."""
    if image.mode in WIDE_MODES:  # float32 and in place: 6 bytes a pixel at the peak, not 24
        values = np.array(image, dtype=np.float32)  # a writable copy of its own
        low, high = float(values.min()), float(values.max())
        values -= low
        values *= 255.0 / (high - low) if high > low else 0.0
        return Image.fromarray(np.round(values, out=values).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    return image.convert("L")


def fit_to_mnist(gray: Image.Image | np.ndarray) -> tuple[np.ndarray, bool]:
    """(28x28 uint8 light-on-dark image, inverted?) from a grayscale image of any size (rules: module doc)."""
    image = gray if isinstance(gray, Image.Image) else Image.fromarray(np.asarray(gray, dtype=np.uint8))
    width, height = image.size
    scale = IMAGE_SIZE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    pixels = np.asarray(image, dtype=np.uint8)  # (h, w)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    inverted = bool(border.mean() > 127.5)
    if inverted:
        pixels = 255 - pixels
        border = 255 - border
    if pixels.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return np.ascontiguousarray(pixels), inverted
    out = np.full((IMAGE_SIZE, IMAGE_SIZE), round(float(border.mean())), dtype=np.uint8)
    top, left = (IMAGE_SIZE - pixels.shape[0]) // 2, (IMAGE_SIZE - pixels.shape[1]) // 2
    out[top:top + pixels.shape[0], left:left + pixels.shape[1]] = pixels
    return out, inverted


def fit_batch(images: np.ndarray) -> tuple[np.ndarray, int]:
    """fit_to_mnist over (N, H, W) uint8 images: ((N, 28, 28) uint8, how many were inverted).

    Images already 28x28 are done in one vectorised step (same border rule), the rest one by one.
    """
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        fitted = [fit_to_mnist(image) for image in images]
        return np.stack([f for f, _ in fitted]), sum(inverted for _, inverted in fitted)
    edges = [images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]]  # 4 x (N, 28)
    border_mean = np.concatenate(edges, axis=1).mean(axis=1, dtype=np.float64)  # (N,)
    invert = border_mean > 127.5
    return np.where(invert[:, None, None], 255 - images, images).astype(np.uint8), int(invert.sum())

