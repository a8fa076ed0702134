"""How fast a dataset import analyses its source, and what JPEG draft decoding buys.

    MNIST_DATA_DIR=../shared/data python -m benchmarks.import_speed [--digits 10000] [--photos 200]

Prints, side by side: images per second for a zip of real MNIST digits as PNG, a zip of 640x480 colour
JPEG photos, and an .npz of the 60,000 MNIST training digits; then the per-photo decode time with and
without PIL's JPEG draft mode (decoding at reduced scale), and their ratio.
"""
from __future__ import annotations

import argparse
import io
import time
import zipfile

import numpy as np
from PIL import Image

from mnist_core.data import default_data_dir, load_dataset
from mnist_core.own_data.convert import decode_image, fit_to_mnist, to_gray
from mnist_core.own_data.datasets import analyse_bytes


def png_zip(images: np.ndarray, labels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            out = io.BytesIO()
            Image.fromarray(image).save(out, "PNG")
            archive.writestr(f"digits/{label}/{i:05d}.png", out.getvalue())
    return buffer.getvalue()


def photos(count: int) -> list[bytes]:
    """Colour 640x480 JPEGs: a bright noisy background with a dark blob, like a phone photo of a digit."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        pixels = rng.integers(180, 255, (480, 640, 3), dtype=np.uint8)
        y, x = 140 + i % 100, 200 + i % 200
        pixels[y:y + 200, x:x + 60] //= 5
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def decode_without_draft(data: bytes) -> np.ndarray:
    return fit_to_mnist(to_gray(Image.open(io.BytesIO(data))))[0]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--digits", type=int, default=10_000)
    p.add_argument("--photos", type=int, default=200)
    args = p.parse_args()
    mnist = load_dataset("mnist", default_data_dir(), download=False)
    images, labels = mnist.train_images.numpy(), mnist.train_labels.numpy()

    digits_zip = png_zip(images[:args.digits], labels[:args.digits])
    t_png = timed(lambda: analyse_bytes("digits.zip", digits_zip))
    jpegs = photos(args.photos)
    photo_files = {f"photos/{['a', 'b'][i % 2]}/{i:04d}.jpg": data for i, data in enumerate(jpegs)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in photo_files.items():
            archive.writestr(name, data)
    t_jpg = timed(lambda: analyse_bytes("photos.zip", buffer.getvalue()))
    npz = io.BytesIO()
    np.savez(npz, images=images, labels=labels.astype(np.int64))
    t_npz = timed(lambda: analyse_bytes("mnist.npz", npz.getvalue()))

    print(f"{'source':<34}{'images':>8}{'seconds':>10}{'images/s':>11}")
    for name, n, t in ((f"zip of MNIST PNGs ({len(digits_zip) / 2**20:.1f} MB)", args.digits, t_png),
                       (f"zip of 640x480 JPEGs ({len(buffer.getvalue()) / 2**20:.1f} MB)", args.photos, t_jpg),
                       (f"npz of MNIST train ({len(npz.getvalue()) / 2**20:.1f} MB)", len(labels), t_npz)):
        print(f"{name:<34}{n:>8,}{t:>10.2f}{n / t:>11,.0f}")

    with_draft = timed(lambda: [decode_image(d) for d in jpegs]) / len(jpegs)
    without = timed(lambda: [decode_without_draft(d) for d in jpegs]) / len(jpegs)
    print(f"\nJPEG 640x480 decode per photo: draft {with_draft * 1e3:.2f} ms, full {without * 1e3:.2f} ms, "
          f"full/draft = {without / with_draft:.1f}x")


if __name__ == "__main__":
    main()
